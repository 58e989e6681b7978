"""Request and response conventions of the provider's API.

Success bodies carry ``"Code": 1000`` (1001 when they bundle per-item
responses). Errors are ``{"Code", "Error"}`` plus ``Details`` when there are
any, with an HTTP status chosen the way the provider does (422 for most
refusals, 401 for a bad token, 400 for malformed requests).
"""

import json
import logging
import math
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

logger = logging.getLogger(__name__)

SUCCESS = 1000
MULTI = 1001
INVALID_VALUE = 2001
ALREADY_EXISTS = 2500
DOES_NOT_EXIST = 2501
APP_VERSION_MISSING = 5001
APP_VERSION_BAD = 5003
PASSWORD_WRONG = 8002
HUMAN_VERIFICATION_REQUIRED = 9001
INSUFFICIENT_SCOPE = 9101
PAID_PLAN_REQUIRED = 10004
REFRESH_TOKEN_INVALID = 10013
HUMAN_VERIFICATION_TOKEN_INVALID = 12087

# Integers must fit SQLite's 64-bit columns.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class APIError(Exception):
    """A refusal rendered as the provider's error body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error_response(
            self.status, self.code, self.message, self.details, self.headers
        )


def error_response(
    status: int,
    code: int,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"Code": code, "Error": message}
    if details is not None:
        body["Details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def invalid(message: str) -> APIError:
    return APIError(422, INVALID_VALUE, message)


def not_found(message: str) -> APIError:
    return APIError(422, DOES_NOT_EXIST, message)


def ok(payload: dict[str, Any] | None = None, *, code: int = SUCCESS) -> JSONResponse:
    body: dict[str, Any] = {"Code": code}
    if payload:
        body.update(payload)
    return JSONResponse(body)


def multi(responses: list[dict[str, Any]], **extra: Any) -> JSONResponse:
    return ok({"Responses": responses, **extra}, code=MULTI)


def item_ok(item_id: str) -> dict[str, Any]:
    return {"ID": item_id, "Response": {"Code": SUCCESS}}


def item_error(item_id: str, code: int, message: str) -> dict[str, Any]:
    return {"ID": item_id, "Response": {"Code": code, "Error": message}}


def _refuse_constant(name: str) -> Any:
    # Python reads NaN and Infinity, but they are not JSON and no response
    # could carry them back.
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON object of a request body; an empty body reads as {}."""
    raw = await request.body()
    if not raw.strip():
        return {}

    try:
        value = json.loads(
            raw, parse_constant=_refuse_constant, parse_float=_finite_float
        )
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise APIError(400, INVALID_VALUE, f"Malformed JSON body: {error}") from error

    if not isinstance(value, dict):
        raise APIError(400, INVALID_VALUE, "The JSON body must be an object")
    return value


def as_bool(value: Any) -> bool:
    """Read the API's 0/1 booleans (and tolerate true/false and "0"/"1")."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true"}
    return bool(value)


def as_int(
    value: Any,
    name: str,
    default: int | None = None,
    *,
    minimum: int = INT64_MIN,
    maximum: int = INT64_MAX,
) -> int:
    """An integer field (or its text) within bounds; by default what SQLite holds."""
    if value is None or value == "":
        if default is None:
            raise invalid(f"{name} is required")
        return default
    if isinstance(value, (list, dict)):
        raise invalid(f"{name} must be a number")

    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError) as error:
        raise invalid(f"{name} must be a number") from error

    if not minimum <= number <= maximum:
        raise invalid(f"{name} must be between {minimum} and {maximum}")
    return number


def as_number(
    value: Any, name: str, *, minimum: float, maximum: float, default: float = 0.0
) -> float:
    """A finite number field (int or float, or its text) within bounds."""
    if value is None or value == "":
        return default
    if isinstance(value, (list, dict, bool)):
        raise invalid(f"{name} must be a number")

    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise invalid(f"{name} must be a number") from error

    if not math.isfinite(number) or not minimum <= number <= maximum:
        raise invalid(f"{name} must be between {minimum:g} and {maximum:g}")
    return number


def as_email(value: Any, name: str) -> str:
    """An email address field: text around an "@", without spaces."""
    email = as_str(value, name).strip()
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in email):
        raise invalid(f"{name} must be an email address")
    return email


def as_str(value: Any, name: str, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise invalid(f"{name} is required")
        return ""
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string")
    return value


def as_str_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(f"{name} must be a list of strings")
    return value


_APP_VERSION = re.compile(
    r"^[A-Za-z][A-Za-z0-9_.-]*@(?P<version>\d+(?:\.\d+){0,3})(?:[-+][A-Za-z0-9_.+-]*)?$"
)
# Clients that do not name themselves send this; the provider accepts it.
_ANONYMOUS_APP_VERSION = "Other"


def parse_app_version(value: str) -> tuple[int, ...] | None:
    """The version numbers of an x-pm-appversion value, or None if malformed."""
    if value == _ANONYMOUS_APP_VERSION:
        return ()
    match = _APP_VERSION.match(value)
    if match is None:
        return None
    return tuple(int(part) for part in match["version"].split("."))
