"""Routes about the account itself: user, addresses, settings, contacts, misc."""

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import api, users
from .auth import authenticated, provider_of

logger = logging.getLogger(__name__)

# Mail settings the client may change, with the request field carrying each.
MAIL_SETTING_ROUTES = {
    "attachpublic": ("AttachPublicKey", "AttachPublicKey"),
    "drafttype": ("DraftMIMEType", "MIMEType"),
    "sign": ("Sign", "Sign"),
    "pgpscheme": ("PGPScheme", "PGPScheme"),
    "display": ("DisplayName", "DisplayName"),
    "signature": ("Signature", "Signature"),
}


@authenticated()
async def get_user(request: Request) -> JSONResponse:
    provider = provider_of(request)
    user = users.get_user(provider.conn, request.state.user_id)
    return api.ok({"User": users.user_json(provider.conn, user)})


@authenticated()
async def get_addresses(request: Request) -> JSONResponse:
    provider = provider_of(request)
    addresses = [
        users.address_json(provider.conn, address)
        for address in users.user_addresses(provider.conn, request.state.user_id)
    ]
    return api.ok({"Addresses": addresses})


@authenticated()
async def get_address(request: Request) -> JSONResponse:
    provider = provider_of(request)
    address = provider.conn.execute(
        "SELECT * FROM addresses WHERE id = ? AND user_id = ?",
        (request.path_params["address_id"], request.state.user_id),
    ).fetchone()
    if address is None:
        raise api.not_found("Address does not exist")
    return api.ok({"Address": users.address_json(provider.conn, address)})


@authenticated()
async def get_mail_settings(request: Request) -> JSONResponse:
    provider = provider_of(request)
    user = users.get_user(provider.conn, request.state.user_id)
    return api.ok({"MailSettings": users.mail_settings(user)})


# The values a client may choose, for the settings that have a fixed set.
SETTING_CHOICES: dict[str, set[Any]] = {
    "AttachPublicKey": {0, 1},
    "Sign": {0, 1},
    "PGPScheme": {8, 16},
    "DraftMIMEType": {"text/plain", "text/html"},
}


def _setting_value(setting: str, field: str, raw: Any) -> Any:
    if setting in {"AttachPublicKey", "Sign", "PGPScheme"}:
        value: Any = api.as_int(raw, field)
    else:
        value = api.as_str(raw, field, required=False)

    choices = SETTING_CHOICES.get(setting)
    if choices is not None and value not in choices:
        allowed = ", ".join(str(choice) for choice in sorted(choices, key=str))
        raise api.invalid(f"{field} must be one of {allowed}")
    return value


@authenticated()
async def put_mail_setting(request: Request) -> JSONResponse:
    provider = provider_of(request)
    route = MAIL_SETTING_ROUTES.get(request.path_params["setting"])
    if route is None:
        raise api.APIError(404, 404, "Unknown mail setting")

    setting, field = route
    body = await api.read_json(request)
    if field not in body:
        raise api.invalid(f"{field} is required")

    value = _setting_value(setting, field, body[field])
    settings = users.update_mail_settings(
        provider.conn, request.state.user_id, {setting: value}
    )
    return api.ok({"MailSettings": settings})


@authenticated()
async def get_user_settings(request: Request) -> JSONResponse:
    provider = provider_of(request)
    user = users.get_user(provider.conn, request.state.user_id)
    settings = dict(users.DEFAULT_USER_SETTINGS)
    settings["Password"] = {"Mode": user["password_mode"]}
    settings["2FA"] = {"Enabled": 1 if user["totp_secret"] else 0}
    return api.ok({"UserSettings": settings})


@authenticated()
async def get_contact_emails(request: Request) -> JSONResponse:
    # The provider keeps no contacts here: every lookup finds none.
    return api.ok({"ContactEmails": [], "Total": 0})


@authenticated()
async def get_contacts(request: Request) -> JSONResponse:
    return api.ok({"Contacts": [], "Total": 0})


async def get_ping(request: Request) -> JSONResponse:
    return api.ok()


async def accept_report(request: Request) -> JSONResponse:
    """Bug reports, statistics and metrics are accepted and dropped."""
    await request.body()
    return api.ok()


async def get_feature_flags(request: Request) -> JSONResponse:
    return api.ok({"toggles": []})
