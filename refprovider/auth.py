"""Login (SRP), two-factor codes, token refresh and session checks.

A login is auth/info (salt, modulus, server ephemeral) then auth (client
ephemeral and proof). A user with TOTP gets a session limited to the 2FA route
until the code is given. Access tokens expire; refresh tokens rotate on use.
"""

import base64
import binascii
import functools
import hashlib
import hmac
import logging
import secrets
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import api, events, srp, store, users
from .context import PendingLogin, Provider

logger = logging.getLogger(__name__)

SCOPE_FULL = "full self user loggedin mail settings keys nondelinquent verified"
SCOPE_TWO_FACTOR = "twofactor"
TOTP_STEP = 30
TOTP_DIGITS = 6
HV_METHODS = ["captcha"]

Handler = Callable[[Request], Awaitable[Any]]


def provider_of(request: Request) -> Provider:
    return request.app.state.provider


def _two_factor_info(user: Any) -> dict[str, Any]:
    has_totp = bool(user is not None and user["totp_secret"])
    return {
        "Enabled": 1 if has_totp else 0,
        "TOTP": 1 if has_totp else 0,
        "FIDO2": {"AuthenticationOptions": None, "RegisteredKeys": []},
    }


def totp_code(secret: str, counter: int) -> str:
    """RFC 6238 (HMAC-SHA1, 6 digits) for one time step."""
    padded = secret.strip().replace(" ", "").upper()
    padded += "=" * (-len(padded) % 8)
    key = base64.b32decode(padded)

    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**TOTP_DIGITS).zfill(TOTP_DIGITS)


def is_totp_secret(secret: str) -> bool:
    """Whether a TOTP secret is base32 that yields a key."""
    try:
        totp_code(secret, 0)
    except (binascii.Error, ValueError):
        return False
    return True


def totp_matches(secret: str, code: str, now: float | None = None) -> bool:
    """Accept the current step and one step either side (clock drift)."""
    counter = int((time.time() if now is None else now) // TOTP_STEP)
    code = code.strip()
    try:
        return any(
            hmac.compare_digest(totp_code(secret, counter + drift), code)
            for drift in (-1, 0, 1)
        )
    except (binascii.Error, ValueError):
        return False


def _scopes(scope: str) -> list[str]:
    return scope.split()


def _token() -> str:
    return secrets.token_hex(16)


def create_session(provider: Provider, user: Any, scope: str) -> dict[str, Any]:
    uid = _token()
    access_token = _token()
    refresh_token = _token()
    now = time.time()

    with store.transaction(provider.conn):
        provider.conn.execute(
            "INSERT INTO sessions (uid, user_id, access_token, refresh_token,"
            " access_expires, scope, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                uid,
                user["id"],
                access_token,
                refresh_token,
                now + provider.auth_life,
                scope,
                int(now),
            ),
        )

    return {
        "UID": uid,
        "UserID": user["id"],
        "AccessToken": access_token,
        "RefreshToken": refresh_token,
        "TokenType": "Bearer",
        "ExpiresIn": int(provider.auth_life),
        "Scope": scope,
        "Scopes": _scopes(scope),
    }


def authenticated(*, partial_scope: bool = False) -> Callable[[Handler], Handler]:
    """Require a valid session; with partial_scope, a pre-2FA one will do."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: Request) -> Any:
            session = check_session(provider_of(request), request)
            if session["scope"] == SCOPE_TWO_FACTOR and not partial_scope:
                raise api.APIError(
                    403,
                    api.INSUFFICIENT_SCOPE,
                    "Access token does not have sufficient scope",
                )

            request.state.session_uid = session["uid"]
            request.state.user_id = session["user_id"]
            request.state.scope = session["scope"]
            return await handler(request)

        return wrapper

    return decorate


def check_session(provider: Provider, request: Request) -> Any:
    uid = request.headers.get("x-pm-uid", "")
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")

    if not uid or scheme.lower() != "bearer" or not token:
        raise api.APIError(401, 401, "Invalid access token")

    session = provider.conn.execute(
        "SELECT * FROM sessions WHERE uid = ?", (uid,)
    ).fetchone()
    if session is None or not hmac.compare_digest(
        session["access_token"], token.strip()
    ):
        raise api.APIError(401, 401, "Invalid access token")

    if session["access_expires"] <= time.time():
        raise api.APIError(401, 401, "Access token expired")

    return session


async def post_auth_info(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = await api.read_json(request)
    username = api.as_str(body.get("Username"), "Username")

    user = users.find_user(provider.conn, username)
    if user is not None:
        salt = bytes(user["srp_salt"])
        verifier = bytes(user["srp_verifier"])
    else:
        # Answer as for a real user so that logins do not reveal who exists.
        salt = hashlib.sha256(b"unknown-user:" + username.encode()).digest()[:10]
        verifier = srp.to_bytes(secrets.randbelow(srp.MODULUS - 2) + 2)

    session = srp.ServerSession.start(user["id"] if user else None, verifier)
    session_id = secrets.token_hex(16)
    provider.remember_login(session_id, PendingLogin(session, username))

    return api.ok(
        {
            "Version": 4,
            "Modulus": provider.identity.signed_modulus,
            "ServerEphemeral": base64.b64encode(session.server_ephemeral).decode(),
            "Salt": base64.b64encode(salt).decode(),
            "SRPSession": session_id,
            "2FA": _two_factor_info(user),
        }
    )


def _decode_b64(value: Any, name: str) -> bytes:
    try:
        return base64.b64decode(api.as_str(value, name), validate=True)
    except (binascii.Error, ValueError) as error:
        raise api.APIError(400, api.INVALID_VALUE, f"{name} is not base64") from error


def _wrong_credentials() -> api.APIError:
    return api.APIError(
        422, api.PASSWORD_WRONG, "Incorrect login credentials. Please try again."
    )


def _check_human_verification(provider: Provider, user: Any, request: Request) -> None:
    token = request.headers.get("x-pm-human-verification-token", "")
    if token:
        row = provider.conn.execute(
            "SELECT * FROM hv_tokens WHERE token = ? AND user_id = ?",
            (token, user["id"]),
        ).fetchone()
        if row is not None and row["approved"]:
            with store.transaction(provider.conn):
                provider.conn.execute("DELETE FROM hv_tokens WHERE token = ?", (token,))
            return

        raise api.APIError(
            422,
            api.HUMAN_VERIFICATION_TOKEN_INVALID,
            "Human verification failed. Please try again.",
        )

    challenge = secrets.token_urlsafe(24)
    with store.transaction(provider.conn):
        provider.conn.execute(
            "INSERT INTO hv_tokens (token, user_id, created) VALUES (?, ?, ?)",
            (challenge, user["id"], int(time.time())),
        )
    raise api.APIError(
        422,
        api.HUMAN_VERIFICATION_REQUIRED,
        "Human verification required",
        details={
            "HumanVerificationToken": challenge,
            "HumanVerificationMethods": HV_METHODS,
        },
    )


async def post_auth(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = await api.read_json(request)

    username = api.as_str(body.get("Username"), "Username")
    client_ephemeral = _decode_b64(body.get("ClientEphemeral"), "ClientEphemeral")
    client_proof = _decode_b64(body.get("ClientProof"), "ClientProof")
    session_id = api.as_str(body.get("SRPSession"), "SRPSession")

    login = provider.take_login(session_id)
    if login is None or login.username.lower() != username.lower():
        raise api.invalid("Invalid SRP session")
    if login.session.user_id is None:
        logger.info("Login refused: unknown user")
        raise _wrong_credentials()

    try:
        server_proof = login.session.verify(client_ephemeral, client_proof)
    except srp.SRPError as error:
        logger.info("Login refused: %s", error)
        raise _wrong_credentials() from error

    user = users.get_user(provider.conn, login.session.user_id)
    if user["hv_required"]:
        _check_human_verification(provider, user, request)
    if user["free_plan"]:
        raise api.APIError(
            422,
            api.PAID_PLAN_REQUIRED,
            "A paid plan is required to use this application",
        )

    scope = SCOPE_TWO_FACTOR if user["totp_secret"] else SCOPE_FULL
    session = create_session(provider, user, scope)
    logger.info("User %s logged in (session %s)", user["name"], session["UID"])

    return api.ok(
        {
            **session,
            "ServerProof": base64.b64encode(server_proof).decode(),
            "PasswordMode": user["password_mode"],
            "2FA": _two_factor_info(user),
            "LocalID": 0,
            "EventID": events.encode_event_id(
                user["num"], events.latest_seq(provider.conn, user["id"])
            ),
        }
    )


@authenticated(partial_scope=True)
async def post_auth_2fa(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = await api.read_json(request)
    user = users.get_user(provider.conn, request.state.user_id)

    if not user["totp_secret"]:
        raise api.invalid("Two-factor authentication is not enabled")

    code = api.as_str(body.get("TwoFactorCode"), "TwoFactorCode")
    if not totp_matches(user["totp_secret"], code):
        raise _wrong_credentials()

    with store.transaction(provider.conn):
        provider.conn.execute(
            "UPDATE sessions SET scope = ? WHERE uid = ?",
            (SCOPE_FULL, request.state.session_uid),
        )
    return api.ok({"Scope": SCOPE_FULL, "Scopes": _scopes(SCOPE_FULL)})


async def post_auth_refresh(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = await api.read_json(request)

    uid = api.as_str(body.get("UID"), "UID", required=False)
    uid = uid or request.headers.get("x-pm-uid", "")
    refresh_token = api.as_str(body.get("RefreshToken"), "RefreshToken", required=False)

    session = provider.conn.execute(
        "SELECT * FROM sessions WHERE uid = ?", (uid,)
    ).fetchone()
    if session is None or not hmac.compare_digest(
        session["refresh_token"], str(refresh_token)
    ):
        raise api.APIError(400, api.REFRESH_TOKEN_INVALID, "Invalid refresh token")

    access_token = _token()
    new_refresh = _token()
    with store.transaction(provider.conn):
        provider.conn.execute(
            "UPDATE sessions SET access_token = ?, refresh_token = ?,"
            " access_expires = ? WHERE uid = ?",
            (access_token, new_refresh, time.time() + provider.auth_life, uid),
        )

    return api.ok(
        {
            "UID": uid,
            "UserID": session["user_id"],
            "AccessToken": access_token,
            "RefreshToken": new_refresh,
            "TokenType": "Bearer",
            "ExpiresIn": int(provider.auth_life),
            "Scope": session["scope"],
            "Scopes": _scopes(session["scope"]),
        }
    )


@authenticated(partial_scope=True)
async def delete_auth(request: Request) -> JSONResponse:
    provider = provider_of(request)
    with store.transaction(provider.conn):
        provider.conn.execute(
            "DELETE FROM sessions WHERE uid = ?", (request.state.session_uid,)
        )
    return api.ok()


@authenticated()
async def get_sessions(request: Request) -> JSONResponse:
    provider = provider_of(request)
    rows = provider.conn.execute(
        "SELECT * FROM sessions WHERE user_id = ? ORDER BY created",
        (request.state.user_id,),
    ).fetchall()

    sessions = [
        {
            "UID": row["uid"],
            "CreateTime": row["created"],
            "ClientID": "",
            "MemberID": "",
            "Revocable": 1,
            "LocalizedClientName": "Bridge",
        }
        for row in rows
    ]
    return api.ok({"Sessions": sessions})


@authenticated()
async def delete_other_sessions(request: Request) -> JSONResponse:
    provider = provider_of(request)
    with store.transaction(provider.conn):
        provider.conn.execute(
            "DELETE FROM sessions WHERE user_id = ? AND uid != ?",
            (request.state.user_id, request.state.session_uid),
        )
    return api.ok()


@authenticated()
async def delete_session(request: Request) -> JSONResponse:
    provider = provider_of(request)
    with store.transaction(provider.conn):
        provider.conn.execute(
            "DELETE FROM sessions WHERE user_id = ? AND uid = ?",
            (request.state.user_id, request.path_params["uid"]),
        )
    return api.ok()


async def get_modulus(request: Request) -> JSONResponse:
    provider = provider_of(request)
    return api.ok(
        {
            "Modulus": provider.identity.signed_modulus,
            "ModulusID": provider.identity.modulus_id,
        }
    )


def revoke_user_sessions(provider: Provider, user_id: str) -> int:
    with store.transaction(provider.conn):
        cursor = provider.conn.execute(
            "DELETE FROM sessions WHERE user_id = ?", (user_id,)
        )
    return cursor.rowcount
