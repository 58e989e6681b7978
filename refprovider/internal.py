"""The control API for tests and the demo (loopback only, not under /api).

It changes what the provider does at run time (faults, offline mode, token
life, updates per event), acts as the outside world (mail arriving, new
addresses, public keys of outside addresses, human-verification approval,
forced refresh, revoked sessions) and shows what the real provider would keep
to itself (the outbox, decrypted messages).
"""

import base64
import logging
import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from . import (
    api,
    auth,
    events,
    keys,
    labels,
    messages,
    mime,
    pgp,
    seed,
    store,
    users,
)
from .auth import provider_of
from .context import DEFAULT_AUTH_LIFE, DEFAULT_MAX_UPDATES_PER_EVENT, Provider
from .faults import rule_from_request

logger = logging.getLogger(__name__)

# Ten years: longer token lives only test overflow, not the client.
MAX_AUTH_LIFE = 10 * 365 * 24 * 3600


def _user(provider: Provider, request: Request) -> sqlite3.Row:
    user = users.find_user(provider.conn, request.path_params["name"])
    if user is None:
        raise api.APIError(404, api.DOES_NOT_EXIST, "No such user")
    return user


async def get_modulus_pubkey(request: Request) -> Response:
    return PlainTextResponse(provider_of(request).identity.public_key)


async def post_fault(request: Request) -> JSONResponse:
    provider = provider_of(request)
    provider.faults.add(rule_from_request(await api.read_json(request)))
    return api.ok({"Faults": provider.faults.describe()})


async def get_faults(request: Request) -> JSONResponse:
    return api.ok({"Faults": provider_of(request).faults.describe()})


async def delete_faults(request: Request) -> JSONResponse:
    provider_of(request).faults.clear()
    return api.ok()


async def post_offline(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = await api.read_json(request)
    provider.offline = api.as_bool(body.get("Offline", True))
    logger.info("Offline mode %s", "on" if provider.offline else "off")
    return api.ok({"Offline": int(provider.offline)})


async def post_auth_life(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = await api.read_json(request)
    if body.get("Seconds") in (None, ""):
        raise api.invalid("Seconds is required")
    # Zero is allowed: tokens are then born expired, for refresh tests.
    seconds = api.as_number(
        body["Seconds"], "Seconds", minimum=0, maximum=MAX_AUTH_LIFE
    )
    provider.auth_life = seconds
    return api.ok({"Seconds": seconds})


async def post_max_updates(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = await api.read_json(request)
    # Zero means no limit.
    count = api.as_int(body.get("Count"), "Count", minimum=0)
    provider.max_updates_per_event = count
    return api.ok({"Count": count})


async def post_min_app_version(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = await api.read_json(request)
    version = body.get("Version")
    if not version:
        provider.min_app_version = None
        return api.ok()

    parsed = api.parse_app_version(f"client@{version}")
    if not parsed:
        raise api.invalid("Version must look like 3.21.1")
    provider.min_app_version = parsed
    return api.ok()


async def post_reset(request: Request) -> JSONResponse:
    """Put every live setting back to its default (between tests)."""
    provider = provider_of(request)
    provider.faults.clear()
    provider.offline = False
    provider.auth_life = DEFAULT_AUTH_LIFE
    provider.max_updates_per_event = DEFAULT_MAX_UPDATES_PER_EVENT
    provider.min_app_version = None
    return api.ok()


async def post_user(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = await api.read_json(request)
    username = api.as_str(body.get("Username"), "Username")
    password = api.as_str(body.get("Password"), "Password")
    mailbox_password = api.as_str(
        body.get("MailboxPassword"), "MailboxPassword", required=False
    )
    totp_secret = api.as_str(body.get("TOTPSecret"), "TOTPSecret", required=False)
    if totp_secret and not auth.is_totp_secret(totp_secret):
        raise api.invalid("TOTPSecret must be base32")
    addresses = [
        api.as_email(email, "Addresses")
        for email in api.as_str_list(body.get("Addresses"), "Addresses")
    ]

    try:
        user_id = users.create_user(
            provider.conn,
            username,
            password,
            mailbox_password=mailbox_password or None,
            totp_secret=totp_secret or None,
            addresses=addresses or None,
            human_verification=api.as_bool(body.get("HumanVerification") or 0),
            free_plan=api.as_bool(body.get("FreePlan") or 0),
        )
    except users.UserError as error:
        raise api.APIError(422, api.ALREADY_EXISTS, str(error)) from error
    return api.ok({"UserID": user_id})


async def get_user(request: Request) -> JSONResponse:
    provider = provider_of(request)
    user = _user(provider, request)
    addresses = users.user_addresses(provider.conn, user["id"])
    return api.ok(
        {
            "ID": user["id"],
            "Name": user["name"],
            "Addresses": [{"ID": a["id"], "Email": a["email"]} for a in addresses],
        }
    )


async def post_refresh_event(request: Request) -> JSONResponse:
    provider = provider_of(request)
    user = _user(provider, request)
    body = await api.read_json(request)
    flags = api.as_int(
        body.get("Flags"),
        "Flags",
        default=events.REFRESH_MAIL,
        minimum=0,
        maximum=events.REFRESH_ALL,
    )

    with store.transaction(provider.conn):
        events.record(provider.conn, user["id"], events.KIND_REFRESH, refresh=flags)
    return api.ok()


async def post_revoke(request: Request) -> JSONResponse:
    provider = provider_of(request)
    user = _user(provider, request)
    count = auth.revoke_user_sessions(provider, user["id"])
    logger.info("Revoked %d session(s) of %s", count, user["name"])
    return api.ok({"Revoked": count})


async def post_hv_approve(request: Request) -> JSONResponse:
    provider = provider_of(request)
    user = _user(provider, request)
    body = await api.read_json(request)
    token = api.as_str(body.get("Token"), "Token", required=False)

    with store.transaction(provider.conn):
        if token:
            cursor = provider.conn.execute(
                "UPDATE hv_tokens SET approved = 1 WHERE user_id = ? AND token = ?",
                (user["id"], token),
            )
        else:
            cursor = provider.conn.execute(
                "UPDATE hv_tokens SET approved = 1 WHERE user_id = ?", (user["id"],)
            )
    return api.ok({"Approved": cursor.rowcount})


async def post_address(request: Request) -> JSONResponse:
    provider = provider_of(request)
    user = _user(provider, request)
    body = await api.read_json(request)
    try:
        address_id = users.add_address(
            provider.conn, user["id"], api.as_email(body.get("Email"), "Email")
        )
    except users.UserError as error:
        raise api.APIError(422, api.ALREADY_EXISTS, str(error)) from error
    return api.ok({"AddressID": address_id})


def _own_address(provider: Provider, user: sqlite3.Row, email: str) -> sqlite3.Row:
    address = users.find_address(provider.conn, email)
    if address is None or address["user_id"] != user["id"]:
        raise api.APIError(404, api.DOES_NOT_EXIST, "No such address for this user")
    return address


def _address_changes(body: dict[str, Any]) -> dict[str, Any]:
    """The address settings of a request, checked; unknown names stay for users."""
    changes: dict[str, Any] = dict(body)
    if "Status" in body:
        changes["Status"] = api.as_int(body["Status"], "Status", minimum=0, maximum=2)
    for name in ("Send", "Receive"):
        if name in body:
            changes[name] = api.as_int(body[name], name, minimum=0, maximum=1)
    if "DisplayName" in body:
        changes["DisplayName"] = api.as_str(
            body["DisplayName"], "DisplayName", required=False
        )
    return changes


async def put_address(request: Request) -> JSONResponse:
    provider = provider_of(request)
    user = _user(provider, request)
    address = _own_address(provider, user, request.path_params["email"])
    changes = _address_changes(await api.read_json(request))
    try:
        users.change_address(provider.conn, user["id"], address["id"], changes)
    except users.UserError as error:
        raise api.invalid(str(error)) from error
    return api.ok()


async def delete_address(request: Request) -> JSONResponse:
    provider = provider_of(request)
    user = _user(provider, request)
    address = _own_address(provider, user, request.path_params["email"])
    try:
        users.remove_address(provider.conn, user["id"], address["id"])
    except users.UserError as error:
        raise api.invalid(str(error)) from error
    return api.ok()


async def post_deliver(request: Request) -> JSONResponse:
    provider = provider_of(request)
    user = _user(provider, request)
    literal = await request.body()
    if not literal.strip():
        raise api.invalid("The request body must be the message")

    query = request.query_params
    label_ids = [labels.INBOX]
    if query.get("folder"):
        label_ids = [
            labels.find_or_create_folder_path(
                provider.conn, user["id"], query["folder"]
            )
        ]
    for name in query.getlist("label"):
        label_ids.append(labels.find_or_create_label(provider.conn, user["id"], name))

    unread = api.as_bool(query.get("unread", "1"))
    try:
        message_id = seed.deliver(provider.conn, user, literal, label_ids, unread)
    except seed.SeedError as error:
        raise api.invalid(str(error)) from error
    return api.ok({"MessageID": message_id})


def _external_key_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "Email": row["email"],
        "Fingerprint": row["fingerprint"],
        "PublicKey": row["public_key"],
    }


async def post_external_key(request: Request) -> JSONResponse:
    """Give an outside address a public key, as WKD or a contact would."""
    provider = provider_of(request)
    body = await api.read_json(request)
    email = api.as_email(body.get("Email"), "Email")
    armored = api.as_str(body.get("PublicKey"), "PublicKey")

    try:
        fingerprint = keys.add_external_key(provider.conn, email, armored)
    except keys.ExternalKeyError as error:
        raise api.invalid(str(error)) from error
    return api.ok({"Email": email, "Fingerprint": fingerprint})


async def get_external_keys(request: Request) -> JSONResponse:
    provider = provider_of(request)
    rows = keys.external_keys(provider.conn)
    return api.ok({"ExternalKeys": [_external_key_json(row) for row in rows]})


async def delete_external_key(request: Request) -> JSONResponse:
    provider = provider_of(request)
    email = api.as_email(request.path_params["email"], "Email")
    removed = keys.remove_external_keys(provider.conn, email)
    if not removed:
        raise api.APIError(404, api.DOES_NOT_EXIST, "No key for this address")
    return api.ok({"Removed": removed})


async def delete_external_keys(request: Request) -> JSONResponse:
    provider = provider_of(request)
    return api.ok({"Removed": keys.remove_external_keys(provider.conn)})


def _outbox_row(row: sqlite3.Row) -> dict[str, Any]:
    package = store.loads(row["package"], {})
    entry = {
        "ID": row["seq"],
        "MessageID": row["message_id"],
        "Sender": row["sender"],
        "Time": row["created"],
        **package,
    }

    body_key = package.get("BodyKey")
    if body_key:
        try:
            plain = pgp.decrypt_with_session_key(
                base64.b64decode(package["Body"]),
                pgp.SessionKey(
                    body_key["Algorithm"], base64.b64decode(body_key["Key"])
                ),
            )
            entry["Decrypted"] = plain.decode("utf-8", errors="replace")
        except (pgp.PGPFailure, ValueError, KeyError) as error:
            entry["DecryptError"] = str(error)
    return entry


async def get_outbox(request: Request) -> JSONResponse:
    provider = provider_of(request)
    rows = provider.conn.execute("SELECT * FROM outbox ORDER BY seq").fetchall()
    return api.ok({"Outbox": [_outbox_row(row) for row in rows]})


def decrypted_message(conn: sqlite3.Connection, row: sqlite3.Row) -> bytes:
    """The message a client would build, for comparing in tests."""
    key = users.primary_address_key(conn, row["address_id"])
    keys = users.address_keys(conn, row["address_id"])

    def decrypt(data: bytes | str) -> bytes:
        last_error: Exception | None = None
        for candidate in keys or [key]:
            try:
                return pgp.decrypt(data, candidate.private_key, candidate.passphrase)
            except pgp.PGPFailure as error:
                last_error = error
        raise pgp.PGPFailure(str(last_error))

    body = decrypt(row["body"])
    attachments = conn.execute(
        "SELECT * FROM attachments WHERE message_id = ? ORDER BY seq", (row["id"],)
    ).fetchall()

    if row["mime_type"] == "multipart/mixed" and not attachments:
        # The body is itself the whole MIME message.
        return body

    decrypted = [
        mime.StoredPart(
            name=attachment["name"],
            mime_type=attachment["mime_type"],
            disposition=attachment["disposition"],
            data=decrypt(
                bytes(attachment["key_packets"]) + bytes(attachment["data_packet"])
            ),
            headers=store.loads(attachment["headers"], []),
            content_id=attachment["content_id"],
        )
        for attachment in attachments
    ]
    fields = store.loads(row["parsed_headers"], [])
    return mime.build_message(fields, body, row["mime_type"], decrypted)


async def get_raw_message(request: Request) -> Response:
    provider = provider_of(request)
    user = _user(provider, request)
    row = messages.get_message_row(
        provider.conn, user["id"], request.path_params["message_id"]
    )
    if row is None:
        raise api.not_found("Message does not exist")

    try:
        raw = decrypted_message(provider.conn, row)
    except pgp.PGPFailure as error:
        raise api.invalid(f"Cannot decrypt the message: {error}") from error
    return Response(raw, media_type="message/rfc822")


def routes() -> list[Route]:
    return [
        Route("/modulus-pubkey", get_modulus_pubkey, methods=["GET"]),
        Route("/faults", post_fault, methods=["POST"]),
        Route("/faults", get_faults, methods=["GET"]),
        Route("/faults", delete_faults, methods=["DELETE"]),
        Route("/offline", post_offline, methods=["POST"]),
        Route("/auth-life", post_auth_life, methods=["POST"]),
        Route("/max-updates", post_max_updates, methods=["POST"]),
        Route("/min-app-version", post_min_app_version, methods=["POST"]),
        Route("/reset", post_reset, methods=["POST"]),
        Route("/outbox", get_outbox, methods=["GET"]),
        Route("/external-keys", post_external_key, methods=["POST"]),
        Route("/external-keys", get_external_keys, methods=["GET"]),
        Route("/external-keys", delete_external_keys, methods=["DELETE"]),
        Route("/external-keys/{email}", delete_external_key, methods=["DELETE"]),
        Route("/users", post_user, methods=["POST"]),
        Route("/users/{name}", get_user, methods=["GET"]),
        Route("/users/{name}/refresh-event", post_refresh_event, methods=["POST"]),
        Route("/users/{name}/revoke", post_revoke, methods=["POST"]),
        Route("/users/{name}/hv-approve", post_hv_approve, methods=["POST"]),
        Route("/users/{name}/addresses", post_address, methods=["POST"]),
        Route("/users/{name}/addresses/{email}", put_address, methods=["PUT"]),
        Route("/users/{name}/addresses/{email}", delete_address, methods=["DELETE"]),
        Route("/users/{name}/deliver", post_deliver, methods=["POST"]),
        Route(
            "/users/{name}/messages/{message_id}/raw", get_raw_message, methods=["GET"]
        ),
    ]
