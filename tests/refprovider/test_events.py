"""The event feed: what changed after an event, merged, in bounded pieces."""

from tests.refprovider.helpers import latest_event
from tests.refprovider.test_messages import label, mail

CREATE, UPDATE, UPDATE_FLAGS, DELETE = 1, 2, 3, 0


def event(session, event_id):
    response = session.get(f"core/v4/events/{event_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_nothing_new_returns_the_same_event_id(session):
    start = latest_event(session)
    body = event(session, start)
    assert body["EventID"] == start
    assert body["More"] == 0
    assert "Messages" not in body


def test_new_mail_is_a_create_with_metadata(refprovider, session):
    start = latest_event(session)
    [message_id] = refprovider.seed(session.user.name, [mail("hello events")])

    body = event(session, start)
    assert body["EventID"] != start
    [change] = body["Messages"]
    assert change["ID"] == message_id
    assert change["Action"] == CREATE
    assert change["Message"]["Subject"] == "hello events"
    assert "0" in change["Message"]["LabelIDs"]
    assert event(session, body["EventID"])["EventID"] == body["EventID"]


def test_changes_in_one_event_are_merged(refprovider, session):
    start = latest_event(session)
    [message_id] = refprovider.seed(session.user.name, [mail("merged")])
    session.put("mail/v4/messages/read", json={"IDs": [message_id]})
    label(session, "6", [message_id])

    [change] = event(session, start)["Messages"]
    assert change["Action"] == CREATE
    assert change["Message"]["Unread"] == 0
    assert "6" in change["Message"]["LabelIDs"]


def test_flag_changes_are_update_flags_and_deletes_are_deletes(refprovider, session):
    [message_id] = refprovider.seed(session.user.name, [mail("flagged")])
    start = latest_event(session)

    label(session, "10", [message_id])
    [change] = event(session, start)["Messages"]
    assert change["Action"] == UPDATE_FLAGS

    middle = latest_event(session)
    session.put("mail/v4/messages/delete", json={"IDs": [message_id]})
    assert event(session, middle)["Messages"] == [{"ID": message_id, "Action": DELETE}]


def test_more_is_set_while_updates_remain(refprovider, session):
    refprovider.max_updates(2)
    start = latest_event(session)
    ids = refprovider.seed(session.user.name, [mail(f"more {n}") for n in range(5)])

    seen = []
    cursor = start
    pieces = 0
    while True:
        body = event(session, cursor)
        pieces += 1
        seen += [change["ID"] for change in body.get("Messages", [])]
        cursor = body["EventID"]
        if not body["More"]:
            break

    assert pieces == 3
    assert seen == ids


def test_label_and_address_changes_are_events(refprovider, session):
    start = latest_event(session)
    created = session.post("core/v4/labels", json={"Name": "Evented", "Type": 1})
    label_id = created.json()["Label"]["ID"]
    refprovider.internal(
        "POST",
        f"users/{session.user.name}/addresses",
        Email=f"extra-{session.user.name}@proton.test",
    )

    body = event(session, start)
    assert body["Labels"] == [
        {"ID": label_id, "Action": CREATE, "Label": created.json()["Label"]}
    ]
    [address] = body["Addresses"]
    assert address["Action"] == CREATE
    assert address["Address"]["Email"] == f"extra-{session.user.name}@proton.test"
    assert len(address["Address"]["Keys"]) == 1


def test_forced_refresh(refprovider, session):
    start = latest_event(session)
    refprovider.internal("POST", f"users/{session.user.name}/refresh-event", Flags=1)
    assert event(session, start)["Refresh"] == 1


def test_unknown_event_id_is_refused(refprovider, session):
    other = refprovider.adduser()
    foreign = latest_event(refprovider.login(other.name, other.password))

    for bad in ("not-an-id", foreign):
        response = session.get(f"core/v4/events/{bad}")
        assert (response.status_code, response.json()["Code"]) == (422, 2001)


def test_address_changes_and_removal_are_events(refprovider, session):
    name = session.user.name
    extra = f"second-{name}@proton.test"
    refprovider.internal("POST", f"users/{name}/addresses", Email=extra)
    start = latest_event(session)

    refprovider.internal("PUT", f"users/{name}/addresses/{extra}", Status=0, Send=0)
    [changed] = event(session, start)["Addresses"]
    assert changed["Action"] == UPDATE
    assert (changed["Address"]["Status"], changed["Address"]["Send"]) == (0, 0)

    middle = latest_event(session)
    refprovider.internal("DELETE", f"users/{name}/addresses/{extra}")
    [removed] = event(session, middle)["Addresses"]
    assert removed == {"ID": changed["ID"], "Action": DELETE}
    emails = [a["Email"] for a in session.get("core/v4/addresses").json()["Addresses"]]
    assert extra not in emails


def test_the_feed_answers_under_v5_too(session):
    start = latest_event(session)
    assert session.get("core/v5/events/latest").json()["EventID"] == start
    assert session.get(f"core/v5/events/{start}").json()["EventID"] == start
