"""Key routes: the user's key salts and anyone's public keys by address."""

import base64
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import api, users
from .auth import authenticated, provider_of

logger = logging.getLogger(__name__)

RECIPIENT_INTERNAL = 1
RECIPIENT_EXTERNAL = 2


@authenticated()
async def get_key_salts(request: Request) -> JSONResponse:
    provider = provider_of(request)
    rows = provider.conn.execute(
        "SELECT id, key_salt FROM user_keys WHERE user_id = ?",
        (request.state.user_id,),
    ).fetchall()

    salts = [
        {"ID": row["id"], "KeySalt": base64.b64encode(bytes(row["key_salt"])).decode()}
        for row in rows
    ]
    return api.ok({"KeySalts": salts})


@authenticated()
async def get_public_keys(request: Request) -> JSONResponse:
    provider = provider_of(request)
    email = api.as_str(request.query_params.get("Email"), "Email")

    address = users.find_address(provider.conn, email)
    if address is None or not address["receive"]:
        return api.ok(
            {"RecipientType": RECIPIENT_EXTERNAL, "MIMEType": "text/html", "Keys": []}
        )

    keys = [
        {"Flags": users.KEY_FLAGS_ACTIVE, "PublicKey": key.public_key}
        for key in users.address_keys(provider.conn, address["id"])
    ]
    return api.ok(
        {"RecipientType": RECIPIENT_INTERNAL, "MIMEType": "text/html", "Keys": keys}
    )
