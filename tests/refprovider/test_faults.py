"""Forced failures from the control API, and the error shapes of the API."""

import httpx

from tests.refprovider.helpers import LIST


def test_rate_limit_with_retry_after_for_a_count(refprovider, session):
    refprovider.fault("/core/v4/users", 429, retry_after=7, count=2)

    for _ in range(2):
        limited = session.get("core/v4/users")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "7"
        assert set(limited.json()) == {"Code", "Error"}

    assert session.get("core/v4/users").status_code == 200


def test_fault_matches_method_and_regex(refprovider, session):
    refprovider.fault(r"^/mail/v4/messages$", 503, method="POST")

    assert session.get("mail/v4/messages/count").status_code == 200
    listing = session.post("mail/v4/messages", json={}, headers=LIST)
    assert listing.status_code == 503

    refprovider.clear_faults()
    assert session.post("mail/v4/messages", json={}, headers=LIST).status_code == 200


def test_forced_refusal_carries_the_code(refprovider, session):
    refprovider.fault("/mail/v4/settings", 422, code=2001, count=1)
    refused = session.get("mail/v4/settings")
    assert (refused.status_code, refused.json()["Code"]) == (422, 2001)
    assert session.get("mail/v4/settings").json()["MailSettings"]["PGPScheme"] == 16


def test_delay_without_status_still_answers(refprovider, session):
    refprovider.fault("/core/v4/addresses", delay=0.2, count=1)
    assert session.get("core/v4/addresses").status_code == 200
    assert refprovider.internal("GET", "faults")["Faults"] == []


def test_offline_answers_503_to_everything(refprovider, session):
    refprovider.offline(True)
    assert session.get("core/v4/users").status_code == 503
    with refprovider.api() as client:
        assert client.post("auth/v4/info", json={"Username": "x"}).status_code == 503

    refprovider.offline(False)
    assert session.get("core/v4/users").status_code == 200


def test_unknown_route_is_a_json_404(refprovider, session):
    response = session.get("mail/v4/nowhere")
    assert response.status_code == 404
    assert set(response.json()) == {"Code", "Error"}

    outside = httpx.get(refprovider.base_url[: -len("/api")] + "/elsewhere")
    assert outside.status_code == 404


def test_wrong_method_is_a_json_405(session):
    response = session.delete("core/v4/users")
    assert response.status_code == 405
    assert set(response.json()) == {"Code", "Error"}


def test_malformed_json_is_a_400_with_code_2001(session):
    response = session.client.post(
        "core/v4/labels",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["Code"]) == (400, 2001)


def test_bad_fault_rules_are_refused(refprovider):
    response = httpx.post(refprovider.internal_url + "/faults", json={"Path": "/x"})
    assert (response.status_code, response.json()["Code"]) == (422, 2001)
