"""Bad input to every route: a 4xx with the provider's error body, never a 500.

Malformed JSON, bodies that are not objects, missing fields, values of the
wrong type, numbers and page sizes far out of range, ids that do not exist.
Whatever the request, a refusal is ``{"Code", "Error"}`` (plus ``Details``
at most) with a 4xx status, never a 500 or a traceback.

The sweep sends each field of a route every odd value in turn, on top of a
body that is otherwise valid. Some of those values are accepted, which is
fine, but none may break the server or leave it broken for the next request.
"""

import base64
import copy
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pgpy
import pytest
from pgpy.constants import CompressionAlgorithm, SymmetricKeyAlgorithm

from tests.fixtures.refprovider import RefProvider
from tests.refprovider.helpers import split_packets

UNKNOWN_ID = "bm9zdWNoaXRlbQ=="
HUGE = 10**30
LIST = {"X-HTTP-Method-Override": "GET"}

# Values of the wrong type or out of range, sent one field at a time.
ODD_VALUES: list[Any] = [
    None,
    True,
    -1,
    HUGE,
    1.5,
    "",
    "not-a-number",
    [],
    ["x"],
    [1, {}],
    {},
    {"nested": [1]},
]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    # A body (or query) that is valid but for the field being swept.
    base: dict[str, Any] = field(default_factory=dict)
    # Fields to sweep; "Message.Subject" reaches into a nested object.
    fields: tuple[str, ...] = ()
    query: tuple[str, ...] = ()
    internal: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        prefix = "internal" if self.internal else "api"
        return f"{self.method} {prefix}{self.path}"


DRAFT_MESSAGE = {
    "Subject": "draft",
    "Sender": {"Name": "", "Address": "{me}"},
    "ToList": [{"Name": "", "Address": "x@outside.example"}],
    "Body": "{armored}",
    "MIMEType": "text/plain",
}
CLEAR_PACKAGE = {
    "Addresses": {"x@outside.example": {"Type": 4, "Signature": 0}},
    "MIMEType": "text/plain",
    "Type": 4,
    "Body": "{data_packet}",
    "BodyKey": {"Key": "{session_key}", "Algorithm": "aes256"},
}

API_ROUTES = [
    Route("POST", "/auth/v4/info", {"Username": "someone"}, ("Username",)),
    Route(
        "POST",
        "/auth/v4",
        {
            "Username": "someone",
            "ClientEphemeral": "AAAA",
            "ClientProof": "AAAA",
            "SRPSession": "nosuch",
        },
        ("Username", "ClientEphemeral", "ClientProof", "SRPSession"),
    ),
    Route("POST", "/auth/v4/2fa", {"TwoFactorCode": "123456"}, ("TwoFactorCode",)),
    Route(
        "POST",
        "/auth/v4/refresh",
        {"UID": "nosuch", "RefreshToken": "nosuch"},
        ("UID", "RefreshToken"),
    ),
    Route("GET", "/core/v4/addresses/{unknown}"),
    Route("GET", "/core/v4/keys", {"Email": "a@outside.example"}, query=("Email",)),
    Route("GET", "/core/v4/labels", {"Type": "1"}, query=("Type",)),
    Route(
        "POST",
        "/core/v4/labels",
        {"Name": "odd", "Type": 1},
        ("Name", "Type", "ParentID", "Color"),
    ),
    Route(
        "PUT",
        "/core/v4/labels/{label}",
        {"Name": "renamed"},
        ("Name", "Color", "ParentID"),
    ),
    Route("PUT", "/core/v4/labels/{unknown}", {"Name": "x"}, ("Name",)),
    Route("DELETE", "/core/v4/labels/{unknown}"),
    Route("GET", "/core/v4/events/{unknown}"),
    Route(
        "GET",
        "/mail/v4/messages",
        {"PageSize": "10"},
        query=("PageSize", "Page", "Limit", "Sort", "Desc", "Unread", "LabelID"),
    ),
    Route(
        "POST",
        "/mail/v4/messages",
        {"PageSize": 10},
        ("PageSize", "Page", "Limit", "Sort", "ID", "LabelID", "EndID", "Unread"),
        headers=LIST,
    ),
    Route(
        "POST",
        "/mail/v4/messages",
        {"Message": DRAFT_MESSAGE},
        (
            "Message",
            "ParentID",
            "Action",
            "AttachmentKeyPackets",
            *(f"Message.{name}" for name in (*DRAFT_MESSAGE, "ExternalID", "Unread")),
        ),
    ),
    Route(
        "PUT",
        "/mail/v4/messages/{draft}",
        {"Message": DRAFT_MESSAGE},
        ("Message", *(f"Message.{name}" for name in DRAFT_MESSAGE)),
    ),
    Route("GET", "/mail/v4/messages/ids", {"Limit": "10"}, query=("Limit", "AfterID")),
    Route("GET", "/mail/v4/messages/{unknown}"),
    Route("PUT", "/mail/v4/messages/{unknown}", {"Message": DRAFT_MESSAGE}),
    Route(
        "POST",
        "/mail/v4/messages/{other_draft}",
        {"Packages": [CLEAR_PACKAGE]},
        (
            "Packages",
            *(f"Packages.0.{name}" for name in (*CLEAR_PACKAGE, "AttachmentKeys")),
        ),
    ),
    Route("POST", "/mail/v4/messages/{unknown}", {"Packages": [CLEAR_PACKAGE]}),
    *[
        Route("PUT", f"/mail/v4/messages/{action}", {"IDs": [UNKNOWN_ID]}, ("IDs",))
        for action in ("read", "unread", "forward", "unforward", "delete")
    ],
    *[
        Route(
            "PUT",
            f"/mail/v4/messages/{action}",
            {"LabelID": "10", "IDs": [UNKNOWN_ID]},
            ("LabelID", "IDs"),
        )
        for action in ("label", "unlabel")
    ],
    Route("GET", "/mail/v4/attachments/{unknown}"),
    *[
        Route("PUT", f"/mail/v4/settings/{setting}", {name: value}, (name,))
        for setting, name, value in (
            ("attachpublic", "AttachPublicKey", 0),
            ("drafttype", "MIMEType", "text/html"),
            ("sign", "Sign", 0),
            ("pgpscheme", "PGPScheme", 16),
            ("display", "DisplayName", "Me"),
            ("signature", "Signature", ""),
        )
    ],
]

INTERNAL_ROUTES = [
    Route(
        "POST",
        "/faults",
        {"Path": "/never/matches", "Status": 503},
        ("Path", "Method", "Status", "Code", "Count", "RetryAfter", "Delay"),
        internal=True,
    ),
    Route("POST", "/offline", {"Offline": 0}, ("Offline",), internal=True),
    Route("POST", "/auth-life", {"Seconds": 3600}, ("Seconds",), internal=True),
    Route("POST", "/max-updates", {"Count": 50}, ("Count",), internal=True),
    Route("POST", "/min-app-version", {"Version": "1.0"}, ("Version",), internal=True),
    Route(
        "POST",
        "/users",
        {"Username": "{fresh}", "Password": "pw"},
        (
            "Username",
            "Password",
            "MailboxPassword",
            "TOTPSecret",
            "Addresses",
            "HumanVerification",
            "FreePlan",
        ),
        internal=True,
    ),
    Route("GET", "/users/{unknown}", internal=True),
    Route(
        "POST",
        "/users/{subject}/refresh-event",
        {"Flags": 1},
        ("Flags",),
        internal=True,
    ),
    Route("POST", "/users/{subject}/hv-approve", {}, ("Token",), internal=True),
    Route(
        "POST",
        "/users/{subject}/addresses",
        {"Email": "{fresh}@proton.test"},
        ("Email",),
        internal=True,
    ),
    Route(
        "PUT",
        "/users/{subject}/addresses/{subject_alias}",
        {"DisplayName": "x"},
        ("Status", "Send", "Receive", "DisplayName"),
        internal=True,
    ),
    Route("DELETE", "/users/{subject}/addresses/nosuch@proton.test", internal=True),
    Route("GET", "/users/{subject}/messages/{unknown}/raw", internal=True),
    Route(
        "POST",
        "/external-keys",
        {"Email": "k@outside.example", "PublicKey": "x"},
        ("Email", "PublicKey"),
        internal=True,
    ),
    Route("DELETE", "/external-keys/nosuch@outside.example", internal=True),
]

ROUTES = API_ROUTES + INTERNAL_ROUTES
JSON_ROUTES = [route for route in ROUTES if route.method != "GET" and route.base]


def with_value(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of body with one (possibly nested) field set to value."""
    changed = copy.deepcopy(body)
    *parents, last = dotted.split(".")
    target: Any = changed
    for step in parents:
        target = target[int(step)] if isinstance(target, list) else target[step]
    target[last] = value
    return changed


@dataclass
class Actor:
    """A logged-in user, another user to act on through the control API."""

    api: httpx.Client
    internal: httpx.Client
    values: dict[str, str]
    fresh_count: int = 0

    def fill(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self.fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.fill(item) for item in value]
        if not isinstance(value, str):
            return value
        if "{fresh}" in value:
            self.fresh_count += 1
            fresh = f"{self.values['subject']}x{self.fresh_count}"
            value = value.replace("{fresh}", fresh)
        for name, text in self.values.items():
            value = value.replace("{" + name + "}", text)
        return value

    def send(
        self,
        route: Route,
        *,
        content: bytes | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        client = self.internal if route.internal else self.api
        return client.request(
            route.method,
            self.fill(route.path).lstrip("/"),
            content=content,
            params=query,
            headers={
                "Content-Type": "application/json",
                **route.headers,
                **(headers or {}),
            },
        )

    def send_json(self, route: Route, body: Any) -> httpx.Response:
        return self.send(route, content=json.dumps(body).encode())

    def reset(self) -> None:
        self.internal.post("reset").raise_for_status()


def _encrypted(public_armored: str, data: bytes, session_key: bytes | None = None):
    key, _ = pgpy.PGPKey.from_blob(public_armored)
    literal = pgpy.PGPMessage.new(
        data, file=False, compression=CompressionAlgorithm.Uncompressed
    )
    return key.encrypt(
        literal, cipher=SymmetricKeyAlgorithm.AES256, sessionkey=session_key
    )


@pytest.fixture(scope="module")
def actor(refprovider_server: RefProvider):
    provider = refprovider_server
    # Tests before this module may have left live settings changed.
    provider.reset()
    subject = provider.adduser(provider.new_username("subject"))
    alias = f"{subject.name}.alias@proton.test"
    provider.internal("POST", f"users/{subject.name}/addresses", Email=alias)

    user = provider.adduser()
    login = provider.login(user.name, user.password)
    # Clients of its own: the provider fixture closes those it made.
    api = httpx.Client(
        base_url=provider.base_url + "/",
        headers={
            "x-pm-appversion": provider.app_version,
            "x-pm-uid": login.auth["UID"],
            "Authorization": f"Bearer {login.auth['AccessToken']}",
        },
        timeout=30,
    )
    internal = httpx.Client(base_url=provider.internal_url + "/", timeout=30)

    address = api.get("core/v4/addresses").json()["Addresses"][0]
    keys = api.get("core/v4/keys", params={"Email": address["Email"]}).json()
    public_key = keys["Keys"][0]["PublicKey"]
    session_key = SymmetricKeyAlgorithm.AES256.gen_key()
    _, data_packet = split_packets(
        bytes(_encrypted(public_key, b"clear text", bytes(session_key)))
    )
    values = {
        "unknown": UNKNOWN_ID,
        "subject": subject.name,
        "subject_alias": alias,
        "subject_email": subject.addresses[0],
        "me": address["Email"],
        "armored": str(_encrypted(public_key, b"draft")),
        "data_packet": base64.b64encode(data_packet).decode(),
        "session_key": base64.b64encode(bytes(session_key)).decode(),
    }
    actor = Actor(api, internal, values)

    label = api.post("core/v4/labels", json={"Name": "sweep", "Type": 3})
    values["label"] = label.json()["Label"]["ID"]
    for name in ("draft", "other_draft"):
        draft = api.post(
            "mail/v4/messages", json={"Message": actor.fill(DRAFT_MESSAGE)}
        )
        assert draft.status_code == 200, draft.text
        values[name] = draft.json()["Message"]["ID"]

    yield actor
    api.close()
    internal.close()


def problem(response: httpx.Response, *, must_fail: bool) -> str | None:
    """What is wrong with an answer to bad input, or None if it is right."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        return f"{status} with a body that is not JSON: {response.text[:120]!r}"

    if status < 400:
        if must_fail:
            return f"{status} for input that must be refused"
        if not isinstance(body, dict) or body.get("Code") not in (1000, 1001):
            return f"{status} without a success Code: {body!r:.120}"
        return None

    if status >= 500:
        return f"{status}: {body!r:.200}"
    if not isinstance(body, dict) or not {"Code", "Error"} <= set(body):
        return f"{status} without Code and Error: {body!r:.200}"
    if set(body) - {"Code", "Error", "Details"}:
        return f"{status} with extra fields: {sorted(body)}"
    if not isinstance(body["Code"], int) or not isinstance(body["Error"], str):
        return f"{status} with a malformed error: {body!r:.200}"
    if "Traceback" in body["Error"]:
        return f"{status} leaks a traceback"
    return None


NOT_AN_OBJECT = [
    ("malformed JSON", b'{"IDs": [1,'),
    ("not UTF-8", b'{"Name": "\xff\xfe"}'),
    ("NaN", b'{"Seconds": NaN, "Count": NaN}'),
    ("Infinity", b'{"Seconds": Infinity, "PageSize": -Infinity}'),
    ("overflowing float", b'{"Seconds": 1e400, "Count": 1e400}'),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000),
    ("a list", b"[1, 2]"),
    ("a string", b'"text"'),
    ("null", b"null"),
]


@pytest.mark.parametrize("route", JSON_ROUTES, ids=lambda route: route.name)
def test_a_body_that_is_not_a_json_object_is_a_400(actor, route):
    failures = []
    for label, content in NOT_AN_OBJECT:
        actor.reset()
        answer = actor.send(route, content=content)
        trouble = problem(answer, must_fail=True)
        if trouble is None and answer.status_code != 400:
            trouble = f"{answer.status_code}, not 400"
        if trouble:
            failures.append(f"{label}: {trouble}")

    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "route",
    [route for route in ROUTES if route.fields or route.query],
    ids=lambda route: route.name,
)
def test_odd_field_values_never_break_the_server(actor, route):
    failures = []
    for name in route.fields + route.query:
        for value in ODD_VALUES:
            actor.reset()
            body = with_value(actor.fill(route.base), name, value)
            if name in route.query:
                answer = actor.send(route, query=_query_text(body))
            else:
                answer = actor.send_json(route, body)

            trouble = problem(answer, must_fail=False)
            if trouble:
                failures.append(f"{name}={value!r}: {trouble}")

    actor.reset()
    assert actor.api.get("core/v4/events/latest").status_code == 200
    assert not failures, "\n".join(failures)


def _query_text(values: dict[str, Any]) -> dict[str, str]:
    # A query string carries text only; odd values go as their JSON spelling.
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in values.items()
        if value is not None
    }


REQUIRED_FIELDS = [
    Route("POST", "/auth/v4/info"),
    Route("POST", "/auth/v4"),
    Route("POST", "/auth/v4/refresh"),
    Route("POST", "/core/v4/labels"),
    Route("POST", "/mail/v4/messages"),
    Route("POST", "/mail/v4/messages/{other_draft}"),
    *[
        Route("PUT", f"/mail/v4/messages/{action}")
        for action in ("read", "unread", "forward", "unforward", "delete")
    ],
    Route("PUT", "/mail/v4/messages/label"),
    Route("PUT", "/mail/v4/messages/unlabel"),
    Route("PUT", "/mail/v4/settings/sign"),
    Route("POST", "/faults", internal=True),
    Route("POST", "/auth-life", internal=True),
    Route("POST", "/max-updates", internal=True),
    Route("POST", "/users", internal=True),
    Route("POST", "/users/{subject}/addresses", internal=True),
    Route("POST", "/external-keys", internal=True),
]


@pytest.mark.parametrize("route", REQUIRED_FIELDS, ids=lambda route: route.name)
def test_an_empty_object_is_refused_where_fields_are_required(actor, route):
    actor.reset()
    answer = actor.send(route, content=b"{}")
    assert problem(answer, must_fail=True) is None, answer.text
    assert answer.status_code in (400, 422)


UNKNOWN_IDS = [route for route in ROUTES if "{unknown}" in route.path] + [
    Route("DELETE", "/external-keys/nosuch@outside.example", internal=True),
    Route("DELETE", "/users/{subject}/addresses/nosuch@proton.test", internal=True),
    Route("PUT", "/mail/v4/messages/read", {"IDs": [UNKNOWN_ID]}),
    Route("PUT", "/mail/v4/settings/nosuch", {"X": 1}),
]


@pytest.mark.parametrize("route", UNKNOWN_IDS, ids=lambda route: route.name)
def test_an_unknown_id_is_refused(actor, route):
    actor.reset()
    answer = (
        actor.send_json(route, actor.fill(route.base))
        if route.base
        else (actor.send(route))
    )

    if answer.status_code == 200:
        # Bulk routes answer per item, each with its own refusal.
        [item] = answer.json()["Responses"]
        assert item["Response"]["Code"] == 2501
        return
    assert problem(answer, must_fail=True) is None, answer.text
    assert answer.status_code in (404, 422)


OUT_OF_RANGE = [
    (Route("GET", "/mail/v4/messages"), {"PageSize": str(HUGE)}),
    (Route("GET", "/mail/v4/messages"), {"PageSize": "0"}),
    (Route("GET", "/mail/v4/messages"), {"Page": str(HUGE)}),
    (Route("GET", "/mail/v4/messages"), {"Page": str(2**62)}),
    (Route("GET", "/mail/v4/messages"), {"Page": "-1"}),
    (Route("GET", "/mail/v4/messages"), {"Limit": str(HUGE)}),
    (Route("GET", "/mail/v4/messages/ids"), {"Limit": str(HUGE)}),
    (Route("GET", "/core/v4/labels"), {"Type": str(HUGE)}),
    (Route("GET", "/core/v4/keys"), {}),
]


@pytest.mark.parametrize(
    ("route", "query"),
    OUT_OF_RANGE,
    ids=[f"{route.path}?{query}" for route, query in OUT_OF_RANGE],
)
def test_numbers_out_of_range_in_a_query_are_refused(actor, route, query):
    actor.reset()
    answer = actor.send(route, query=query)
    assert problem(answer, must_fail=True) is None, answer.text
    assert answer.status_code == 422


OUT_OF_RANGE_BODIES = [
    (Route("POST", "/mail/v4/messages", headers=LIST), {"PageSize": 151}),
    (Route("POST", "/mail/v4/messages", headers=LIST), {"Page": 2**62}),
    (Route("POST", "/max-updates", internal=True), {"Count": HUGE}),
    (Route("POST", "/users/{subject}/refresh-event", internal=True), {"Flags": HUGE}),
    (Route("POST", "/auth-life", internal=True), {"Seconds": -1}),
    (Route("POST", "/faults", internal=True), {"Path": "/x", "Status": 99}),
    (Route("POST", "/faults", internal=True), {"Path": "/x", "Status": 600}),
    (Route("POST", "/faults", internal=True), {"Path": "/x", "Delay": -1}),
    (Route("POST", "/faults", internal=True), {"Path": "/x", "Delay": 1e9}),
    (Route("PUT", "/mail/v4/settings/pgpscheme"), {"PGPScheme": 3}),
    (Route("PUT", "/mail/v4/settings/drafttype"), {"MIMEType": "image/png"}),
]


@pytest.mark.parametrize(
    ("route", "body"),
    OUT_OF_RANGE_BODIES,
    ids=[f"{route.path}:{body}" for route, body in OUT_OF_RANGE_BODIES],
)
def test_numbers_out_of_range_in_a_body_are_refused(actor, route, body):
    actor.reset()
    answer = actor.send_json(route, body)
    assert problem(answer, must_fail=True) is None, answer.text
    assert answer.status_code == 422
    assert actor.api.get("core/v4/events/latest").status_code == 200


def _form(fields: dict[str, str], files: dict[str, bytes]) -> tuple[bytes, str]:
    request = httpx.Request(
        "POST",
        "http://form.invalid/",
        data=fields,
        files={name: (name, data) for name, data in files.items()},
    )
    # An empty form still says it is one.
    content_type = request.headers.get(
        "Content-Type", "multipart/form-data; boundary=x"
    )
    return request.read(), content_type


ATTACHMENT_FORMS = {
    "nothing": ({}, {}),
    "unknown message": (
        {"MessageID": UNKNOWN_ID, "Filename": "a.bin"},
        {"KeyPackets": b"\xc1\x01\x00", "DataPacket": b"\xd2\x01\x00"},
    ),
    "not OpenPGP": (
        {"MessageID": "{draft}", "Filename": "a.bin"},
        {"KeyPackets": b"plain", "DataPacket": b"plain"},
    ),
    "truncated packets": (
        {"MessageID": "{draft}", "Filename": "a.bin"},
        {"KeyPackets": b"\xc1\xff", "DataPacket": b"\xd2"},
    ),
    "bad signature": (
        {"MessageID": "{draft}", "Filename": "a.bin", "Disposition": "inline"},
        {"KeyPackets": b"\xc1\x01\x00", "DataPacket": b"\xd2\x01\x00"},
    ),
    "too many files": (
        {"MessageID": "{draft}"},
        {f"File{number}": b"x" for number in range(12)},
    ),
}


@pytest.mark.parametrize("case", list(ATTACHMENT_FORMS))
def test_a_bad_attachment_upload_is_refused(actor, case):
    fields, files = ATTACHMENT_FORMS[case]
    content, content_type = _form(actor.fill(fields), files)
    actor.reset()

    answer = actor.send(
        Route("POST", "/mail/v4/attachments"),
        content=content,
        headers={"Content-Type": content_type},
    )

    assert problem(answer, must_fail=True) is None, answer.text
    assert answer.status_code in (400, 422)


IMPORT_FORMS = {
    "no metadata": ({}, {"0": b"Subject: x\r\n\r\nx"}),
    "metadata not JSON": ({"Metadata": "{"}, {"0": b"x"}),
    "metadata a list": ({"Metadata": "[]"}, {"0": b"x"}),
    "no message": ({"Metadata": "{}"}, {}),
    "eleven messages": (
        {"Metadata": "{}"},
        {str(number): b"x" for number in range(11)},
    ),
}


@pytest.mark.parametrize("case", list(IMPORT_FORMS))
def test_a_bad_import_request_is_refused(actor, case):
    fields, files = IMPORT_FORMS[case]
    content, content_type = _form(fields, files)
    actor.reset()

    answer = actor.send(
        Route("POST", "/mail/v4/messages/import"),
        content=content,
        headers={"Content-Type": content_type},
    )

    assert problem(answer, must_fail=True) is None, answer.text
    assert answer.status_code in (400, 413, 422)


@pytest.mark.parametrize(
    "metadata",
    [
        {"AddressID": UNKNOWN_ID},
        {"AddressID": {}, "LabelIDs": HUGE},
        {"AddressID": "x", "LabelIDs": [{}], "Flags": HUGE},
        {"AddressID": "x", "Flags": "many", "Unread": {}},
        "not an object",
    ],
    ids=str,
)
def test_bad_import_metadata_is_refused_per_message(actor, metadata):
    content, content_type = _form(
        {"Metadata": json.dumps({"0": metadata})}, {"0": b"Subject: x\r\n\r\nx"}
    )
    actor.reset()

    answer = actor.send(
        Route("POST", "/mail/v4/messages/import"),
        content=content,
        headers={"Content-Type": content_type},
    )

    assert answer.status_code == 200, answer.text
    [item] = answer.json()["Responses"]
    assert item["Response"]["Code"] == 2001
    assert isinstance(item["Response"]["Error"], str)


@pytest.mark.parametrize(
    "literal",
    [b"", b"   \r\n", b"\x00\xff" * 64, b"{}", b"no header at all"],
    ids=["empty", "blank", "binary", "json", "no-header"],
)
def test_odd_deliveries_never_break_the_server(actor, literal):
    actor.reset()
    answer = actor.send(
        Route("POST", "/users/{subject}/deliver", internal=True),
        content=literal,
        headers={"Content-Type": "message/rfc822"},
    )
    assert problem(answer, must_fail=not literal.strip()) is None, answer.text


# Framed like key packets, but nothing a key could open.
BOGUS_KEY_PACKETS = {
    "empty": b"\xc1\x01\x00",
    "unknown algorithm": b"\xc1\x0c\x03" + b"\x00" * 8 + b"\x21\x00",
}


@pytest.mark.parametrize("scheme", [1, 16], ids=["internal", "pgp-mime"])
@pytest.mark.parametrize("packet", list(BOGUS_KEY_PACKETS))
def test_a_key_packet_that_cannot_be_read_is_refused(actor, scheme, packet):
    recipient = actor.values["subject_email"] if scheme == 1 else "x@outside.example"
    draft = actor.api.post(
        "mail/v4/messages",
        json={
            "Message": actor.fill(
                {**DRAFT_MESSAGE, "ToList": [{"Name": "", "Address": recipient}]}
            )
        },
    )
    assert draft.status_code == 200, draft.text
    package = {
        "Addresses": {
            recipient: {
                "Type": scheme,
                "Signature": 0,
                "BodyKeyPacket": base64.b64encode(BOGUS_KEY_PACKETS[packet]).decode(),
            }
        },
        "MIMEType": "text/plain" if scheme == 1 else "multipart/mixed",
        "Type": scheme,
        "Body": actor.values["data_packet"],
    }
    actor.reset()

    answer = actor.send_json(
        Route("POST", f"/mail/v4/messages/{draft.json()['Message']['ID']}"),
        {"Packages": [package]},
    )

    assert problem(answer, must_fail=True) is None, answer.text
    assert answer.status_code == 422
    assert "BodyKeyPacket" in answer.json()["Error"]
