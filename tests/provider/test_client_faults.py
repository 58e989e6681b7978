"""How the client handles the provider's failures, over httpx.MockTransport."""

import json

import httpx
import pytest

from mailsync.provider.client import ProviderClient
from mailsync.provider.errors import (
    AlreadyExists,
    AppVersionRejected,
    AuthError,
    HumanVerificationRequired,
    NetworkError,
    NotFound,
    PaidPlanRequired,
    RateLimited,
    ServerUnavailable,
    SessionRevoked,
    Timeout,
    TwoFactorRequired,
    ValidationError,
    error_from_response,
)
from mailsync.provider.types import Session
from tests.provider.helpers import Sleeps

USER = {"ID": "u1", "Name": "alice", "Email": "alice@proton.test", "Keys": []}


class Script:
    """Answers requests from a list of responses and records what was asked."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer


def ok(**body):
    return httpx.Response(200, json={"Code": 1000, **body})


def error(status, code, message="nope", headers=None, **extra):
    return httpx.Response(
        status, json={"Code": code, "Error": message, **extra}, headers=headers
    )


@pytest.fixture
def sleeps():
    return Sleeps()


def make_client(script, sleeps, **options):
    options.setdefault(
        "session", Session(uid="uid-1", access_token="at-1", refresh_token="rt-1")
    )
    return ProviderClient(
        "https://provider.invalid/api",
        "linux-bridge@3.21.1",
        "unused modulus key",
        transport=httpx.MockTransport(script),
        sleep=sleeps,
        **options,
    )


async def test_requests_carry_app_version_uid_and_bearer(sleeps):
    script = Script(ok(User=USER))
    client = make_client(script, sleeps)

    user = await client.get_user()

    sent = script.requests[0]
    assert user.email == "alice@proton.test"
    assert sent.url.path == "/api/core/v4/users"
    assert sent.headers["x-pm-appversion"] == "linux-bridge@3.21.1"
    assert sent.headers["x-pm-uid"] == "uid-1"
    assert sent.headers["authorization"] == "Bearer at-1"


async def test_401_refreshes_once_retries_and_reports_the_new_session(sleeps):
    stored = []
    script = Script(
        error(401, 401, "expired"),
        ok(UID="uid-1", AccessToken="at-2", RefreshToken="rt-2"),
        ok(User=USER),
    )
    client = make_client(script, sleeps, on_session_refreshed=stored.append)

    await client.get_user()

    refresh = json.loads(script.requests[1].content)
    assert script.requests[1].url.path == "/api/auth/v4/refresh"
    assert refresh["RefreshToken"] == "rt-1"
    assert refresh["GrantType"] == "refresh_token"
    assert refresh["ResponseType"] == "token"
    assert script.requests[2].headers["authorization"] == "Bearer at-2"
    assert [s.refresh_token for s in stored] == ["rt-2"]


async def test_async_session_callback_is_awaited(sleeps):
    stored = []

    async def store(session):
        stored.append(session.access_token)

    script = Script(
        error(401, 401),
        ok(UID="uid-1", AccessToken="at-2", RefreshToken="rt-2"),
        ok(User=USER),
    )
    client = make_client(script, sleeps, on_session_refreshed=store)

    await client.get_user()

    assert stored == ["at-2"]


async def test_refused_refresh_means_the_session_is_revoked(sleeps):
    script = Script(error(401, 401), error(422, 10013, "Invalid refresh token"))
    client = make_client(script, sleeps)

    with pytest.raises(SessionRevoked) as caught:
        await client.get_user()

    assert caught.value.code == 10013
    assert not caught.value.transient


async def test_second_401_after_refresh_is_not_refreshed_again(sleeps):
    script = Script(
        error(401, 401),
        ok(UID="uid-1", AccessToken="at-2", RefreshToken="rt-2"),
        error(401, 401),
    )
    client = make_client(script, sleeps)

    with pytest.raises(SessionRevoked):
        await client.get_user()

    assert len(script.requests) == 3


async def test_429_waits_retry_after_then_succeeds(sleeps):
    script = Script(error(429, 2028, headers={"Retry-After": "7"}), ok(User=USER))
    client = make_client(script, sleeps)

    await client.get_user()

    assert sleeps == [7.0]


async def test_429_with_a_wait_beyond_the_bound_is_raised(sleeps):
    script = Script(error(429, 2028, headers={"Retry-After": "3600"}))
    client = make_client(script, sleeps, max_retry_after=60)

    with pytest.raises(RateLimited) as caught:
        await client.get_user()

    assert caught.value.retry_after == 3600
    assert caught.value.transient
    assert sleeps == []


async def test_5xx_backs_off_exponentially_then_succeeds(sleeps):
    script = Script(error(500, 0), error(502, 0), ok(User=USER))
    client = make_client(script, sleeps, backoff_base=1.0, backoff_max=100)

    await client.get_user()

    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.5
    assert sleeps[1] >= 1.0 and sleeps[1] <= 3.0


async def test_5xx_gives_up_after_the_configured_attempts(sleeps):
    script = Script(*[error(503, 0, "offline")] * 3)
    client = make_client(script, sleeps, max_attempts=3, backoff_max=2.0)

    with pytest.raises(ServerUnavailable) as caught:
        await client.get_user()

    assert caught.value.status == 503 and caught.value.transient
    assert len(script.requests) == 3
    assert len(sleeps) == 2 and max(sleeps) <= 3.0


async def test_timeouts_are_retried_then_raised_as_timeout(sleeps):
    script = Script(*[httpx.ReadTimeout("slow")] * 2)
    client = make_client(script, sleeps, max_attempts=2)

    with pytest.raises(Timeout) as caught:
        await client.get_user()

    assert caught.value.transient
    assert len(script.requests) == 2


async def test_connection_failure_is_a_network_error(sleeps):
    script = Script(httpx.ConnectError("refused"))
    client = make_client(script, sleeps, max_attempts=1)

    with pytest.raises(NetworkError):
        await client.get_user()


async def test_a_create_is_not_retried_after_a_500(sleeps):
    script = Script(error(500, 0))
    client = make_client(script, sleeps)

    with pytest.raises(ServerUnavailable):
        await client.send_draft("draft-1", [])

    assert len(script.requests) == 1


async def test_a_create_is_retried_after_a_503(sleeps):
    sent = {"ID": "m1", "Flags": 2, "Body": "", "MIMEType": "text/plain"}
    script = Script(error(503, 0), ok(Sent=sent))
    client = make_client(script, sleeps)

    message = await client.send_draft("draft-1", [])

    assert message.id == "m1"
    assert len(script.requests) == 2


async def test_calls_wait_for_the_second_factor(sleeps):
    script = Script()
    client = make_client(script, sleeps)
    client.two_factor_pending = True

    with pytest.raises(TwoFactorRequired):
        await client.get_user()

    assert script.requests == []


async def test_wrong_second_factor_keeps_the_session_waiting(sleeps):
    script = Script(error(422, 8002, "Incorrect login credentials"))
    client = make_client(script, sleeps)
    client.two_factor_pending = True

    with pytest.raises(AuthError):
        await client.submit_2fa("000000")

    assert client.two_factor_pending
    assert script.requests[0].url.path == "/api/auth/v4/2fa"


async def test_stale_listing_is_asked_again(sleeps):
    script = Script(
        ok(Messages=[], Total=0, Stale=1),
        ok(Messages=[{"ID": "m1"}], Total=1, Stale=0),
    )
    client = make_client(script, sleeps)

    messages, total = await client.list_messages(label_id="0")

    assert [m.id for m in messages] == ["m1"] and total == 1
    assert script.requests[0].headers["x-http-method-override"] == "GET"
    assert script.requests[0].method == "POST"


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (422, 8002, AuthError),
        (422, 10004, PaidPlanRequired),
        (400, 10013, SessionRevoked),
        (400, 5001, AppVersionRejected),
        (400, 5003, AppVersionRejected),
        (404, 2501, NotFound),
        (422, 2001, ValidationError),
        (422, 2500, AlreadyExists),
        (403, 9101, TwoFactorRequired),
        (400, 2001, ValidationError),
        (503, 0, ServerUnavailable),
        (429, 0, RateLimited),
    ],
    ids=str,
)
def test_error_mapping(status, code, kind):
    mapped = error_from_response(status, {"Code": code, "Error": "x"}, {})

    assert type(mapped) is kind
    assert (mapped.status, mapped.code, mapped.message) == (status, code, "x")


def test_human_verification_carries_methods_token_and_url():
    payload = {
        "Code": 9001,
        "Error": "Human verification required",
        "Details": {
            "HumanVerificationMethods": ["captcha", "email"],
            "HumanVerificationToken": "tok en",
        },
    }

    mapped = error_from_response(422, payload, {})

    assert isinstance(mapped, HumanVerificationRequired)
    assert mapped.methods == ["captcha", "email"] and mapped.token == "tok en"
    assert mapped.url == (
        "https://verify.proton.me/?methods=captcha%2Cemail&token=tok+en"
    )


def test_error_from_a_body_that_is_not_json():
    mapped = error_from_response(502, None, {})

    assert isinstance(mapped, ServerUnavailable)
    assert mapped.message == "HTTP 502"
