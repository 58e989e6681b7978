"""What can go wrong when talking to the provider, as the bridge sees it.

Provider HTTP answers are turned into these exceptions in one place,
``error_from_response``; transport failures in ``error_from_transport``.
Callers catch by meaning, and ``transient`` tells a retrying caller (Celery
task, event loop) whether trying again later can help::

    ProviderError(code, message, status, transient)
     ├── AuthError                  wrong password or 2FA code (8002), bad SRP
     │    ├── SRPError               login parameters or server proof refused
     │    └── TwoFactorRequired      the session still needs its second factor
     ├── SessionRevoked             refresh refused (10013): log in again
     ├── HumanVerificationRequired  9001, with methods, token and the URL
     ├── PaidPlanRequired           10004
     ├── AppVersionRejected         5001/5003: this bridge must be updated
     ├── PermissionDenied           403 for another reason
     ├── NotFound                   404 and the provider's "does not exist"
     ├── ValidationError            422 and 400 that name a bad request
     │    └── AlreadyExists          2500, e.g. a label name taken
     ├── RateLimited                429 (transient, carries retry_after)
     ├── ServerUnavailable          5xx (transient)
     ├── NetworkError               connection failed or dropped (transient)
     │    └── Timeout
     └── InvalidResponse            the answer is not what the API promises

    CryptoError                     OpenPGP failures (not a provider answer)
     ├── DecryptionError
     ├── KeyUnlockError
     └── SignatureError
"""

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

logger = logging.getLogger(__name__)

# Codes from the provider's error responses.
CODE_OK = 1000
CODE_MULTI = 1001
CODE_INVALID_REQUEST = 2001
CODE_ALREADY_EXISTS = 2500
CODE_NOT_FOUND = 2501
CODE_APP_VERSION_MISSING = 5001
CODE_APP_VERSION_BAD = 5003
CODE_WRONG_PASSWORD = 8002
CODE_HUMAN_VERIFICATION = 9001
CODE_INSUFFICIENT_SCOPE = 9101
CODE_PAID_PLAN_REQUIRED = 10004
CODE_REFRESH_INVALID = 10013
CODE_BAD_HV_TOKEN = 12087

HUMAN_VERIFICATION_URL = "https://verify.proton.me/"


class ProviderError(Exception):
    """A provider call failed; ``transient`` says whether a retry may help."""

    def __init__(
        self,
        code: int = 0,
        message: str = "",
        status: int = 0,
        transient: bool = False,
    ) -> None:
        super().__init__(message or f"provider error {code} (HTTP {status})")
        self.code = code
        self.message = message
        self.status = status
        self.transient = transient

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code}, status={self.status}, "
            f"message={self.message!r})"
        )


class AuthError(ProviderError):
    """The credentials were refused (wrong password, wrong 2FA code)."""


class SRPError(AuthError):
    """The SRP parameters or the server's proof cannot be trusted."""

    def __init__(self, message: str) -> None:
        super().__init__(code=0, message=message)


class TwoFactorRequired(AuthError):
    """The session must pass its second factor before this call."""


class SessionRevoked(ProviderError):
    """The session is gone (refresh refused): the person must log in again."""


class HumanVerificationRequired(ProviderError):
    """The provider wants a person to solve a check at ``url`` first."""

    def __init__(
        self,
        code: int,
        message: str,
        status: int,
        methods: list[str],
        token: str,
    ) -> None:
        super().__init__(code, message, status, transient=False)
        self.methods = methods
        self.token = token

    @property
    def url(self) -> str:
        query = urlencode({"methods": ",".join(self.methods), "token": self.token})
        return f"{HUMAN_VERIFICATION_URL}?{query}"


class PaidPlanRequired(ProviderError):
    """The account's plan does not include bridge access."""


class AppVersionRejected(ProviderError):
    """The provider refuses this bridge version; it must be updated."""


class PermissionDenied(ProviderError):
    """The session may not make this call."""


class NotFound(ProviderError):
    """The object asked for does not exist (any more)."""


class ValidationError(ProviderError):
    """The provider refused the request as malformed or not allowed."""


class AlreadyExists(ValidationError):
    """An object with that name or identity exists already."""


class RateLimited(ProviderError):
    """Too many requests; ``retry_after`` is the wait the provider asked for."""

    def __init__(
        self, code: int, message: str, status: int, retry_after: float | None
    ) -> None:
        super().__init__(code, message, status, transient=True)
        self.retry_after = retry_after


class ServerUnavailable(ProviderError):
    """The provider failed or is offline for now."""


class NetworkError(ProviderError):
    """The provider could not be reached, or the connection broke."""


class Timeout(NetworkError):
    """The provider did not answer in time."""


class InvalidResponse(ProviderError):
    """The provider answered something the API does not promise."""


class CryptoError(Exception):
    """An OpenPGP operation failed."""


class DecryptionError(CryptoError):
    """No key of the keyring could decrypt the data, or it is corrupt."""


class KeyUnlockError(CryptoError):
    """A private key could not be unlocked with the passphrase given."""


class SignatureError(CryptoError):
    """A signature is missing, malformed or does not verify."""


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a Retry-After header (delta form only)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        # HTTP-date form; the provider does not send it, so fall back to the
        # caller's own backoff rather than parse dates here.
        return None


def error_from_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> ProviderError:
    """Turn a failed provider answer into the exception that describes it."""
    headers = headers or {}
    body: dict[str, Any] = payload if isinstance(payload, dict) else {}
    raw_code = body.get("Code")
    code = raw_code if isinstance(raw_code, int) else 0
    message = str(body.get("Error") or f"HTTP {status}")
    raw_details = body.get("Details")
    details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}

    if code == CODE_HUMAN_VERIFICATION:
        methods = details.get("HumanVerificationMethods") or []
        token = details.get("HumanVerificationToken") or ""
        return HumanVerificationRequired(
            code, message, status, [str(m) for m in methods], str(token)
        )

    if code == CODE_PAID_PLAN_REQUIRED:
        return PaidPlanRequired(code, message, status)

    if code == CODE_REFRESH_INVALID:
        return SessionRevoked(code, message, status)

    if code in (CODE_APP_VERSION_MISSING, CODE_APP_VERSION_BAD):
        return AppVersionRejected(code, message, status)

    if code in (CODE_WRONG_PASSWORD, CODE_BAD_HV_TOKEN):
        return AuthError(code, message, status)

    if code == CODE_INSUFFICIENT_SCOPE:
        return TwoFactorRequired(code, message, status)

    if code == CODE_ALREADY_EXISTS:
        return AlreadyExists(code, message, status)

    if status == 429:
        return RateLimited(code, message, status, parse_retry_after(headers))

    if status >= 500:
        return ServerUnavailable(code, message, status, transient=True)

    if status == 401:
        return SessionRevoked(code, message, status)

    if status == 403:
        return PermissionDenied(code, message, status)

    if status == 404 or code == CODE_NOT_FOUND:
        return NotFound(code, message, status)

    if status in (400, 409, 413, 422):
        return ValidationError(code, message, status)

    return ProviderError(code, message, status)


def error_from_transport(exc: httpx.HTTPError) -> ProviderError:
    """Turn an httpx transport failure into a transient provider error."""
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(
            message=f"the provider did not answer in time ({exc})", transient=True
        )
    return NetworkError(
        message=f"the provider cannot be reached ({exc})", transient=True
    )
