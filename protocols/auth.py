"""Mail program logins, shared by the IMAP and SMTP listeners.

A mail program logs in with one of the account's enabled addresses (any
case) and the account's bridge password. In combined address mode the login
sees every address of the account; in split mode only the address it named.

Failed logins are counted in Django's cache, so every listener process shares
the count when the cache is Redis:

* per (username, peer IP): after ``MAX_FAILURES_PER_USER`` failures within
  ``FAILURE_WINDOW_SECONDS`` that pair is refused, even with the right
  password, until the window ends;
* per peer IP: the same after ``MAX_FAILURES_PER_PEER`` failures for any
  username, which stops one address from trying many usernames.

The per-IP limit is higher than the per-user one because on the usual
loopback setup every mail program shares 127.0.0.1: one program with a stale
password must not lock every other account out.

The window is fixed: it starts at the first failure and the counter expires
with it.
"""

import hashlib
import hmac
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache

from accounts.models import Activity, Address, LinkedAccount, record_activity

logger = logging.getLogger(__name__)

MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_PEER = 20
FAILURE_WINDOW_SECONDS = 15 * 60

# A login from the same program is recorded on the dashboard at most this
# often: IMAP clients reconnect every few minutes and would flood it.
ACTIVITY_INTERVAL_SECONDS = 60 * 60

# Compared against when the username is unknown, so a wrong username costs
# the same password comparison as a wrong password.
_DUMMY_PASSWORD = "x" * 22


class AuthFailed(Exception):
    """The username or password is wrong; the text is safe to show."""

    temporary = False


class LoginThrottled(AuthFailed):
    """Too many recent failures from this peer; try again after a while."""

    temporary = True

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Authenticated:
    """Who logged in: the account, and the address in split mode (else None)."""

    account: LinkedAccount
    address: Address | None

    @property
    def split(self) -> bool:
        return self.address is not None

    def visible_addresses(self) -> list[Address]:
        """The addresses this login may use (all enabled ones when combined)."""
        if self.address is not None:
            return [self.address]
        return [
            address
            for address in self.account.addresses.all()
            if address.status == Address.Status.ENABLED
        ]


def peer_host(peer: Any) -> str:
    """The IP address of a peer given as (host, port, ...) or as a string."""
    if isinstance(peer, tuple | list) and peer:
        return str(peer[0])
    if peer is None:
        return ""
    return str(peer)


def is_loopback(peer: Any) -> bool:
    """True when the peer connects from this machine."""
    host = peer_host(peer)
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


async def authenticate(
    username: str, password: str, peer: Any, *, protocol: str = ""
) -> Authenticated:
    """Check a mail program's login; raise AuthFailed or LoginThrottled.

    ``protocol`` ("IMAP", "SMTP") only names the listener on the dashboard.
    """
    return await sync_to_async(authenticate_sync)(
        username, password, peer, protocol=protocol
    )


def authenticate_sync(
    username: str, password: str, peer: Any, *, protocol: str = ""
) -> Authenticated:
    """The blocking body of :func:`authenticate`, for threads and tests."""
    username = username.strip()
    host = peer_host(peer)
    user_key, peer_key = _failure_keys(username, host)

    retry_after = _throttled_for(user_key, peer_key)
    if retry_after:
        logger.warning("login refused for %r from %s: throttled", username, host)
        raise LoginThrottled(
            "Too many failed logins from your address; try again in "
            f"{_minutes(retry_after)} minutes.",
            retry_after,
        )

    # A NUL cannot be in an address or a bridge password, and PostgreSQL
    # refuses it in a query: such a login is simply wrong.
    readable = "\x00" not in username and "\x00" not in password
    authenticated = _check_credentials(username, password) if readable else None
    if authenticated is None:
        _count_failure(user_key)
        _count_failure(peer_key)
        logger.info("login failed for %r from %s", username, host)
        raise AuthFailed("Unknown address or wrong bridge password.")

    cache.delete(user_key)
    _record_login(authenticated, username, host, protocol)
    logger.info(
        "login as %s from %s (account %s)", username, host, authenticated.account.pk
    )
    return authenticated


def _check_credentials(username: str, password: str) -> Authenticated | None:
    candidates = list(
        # A person deactivated on the dashboard loses mail-program access too.
        Address.objects.filter(
            email__iexact=username,
            status=Address.Status.ENABLED,
            account__owner__is_active=True,
        ).select_related("account")
    )

    if not candidates:
        hmac.compare_digest(_DUMMY_PASSWORD.encode(), password.encode())
        return None

    for address in candidates:
        account = address.account
        if not account.check_bridge_password(password):
            continue
        if account.address_mode == LinkedAccount.AddressMode.SPLIT:
            return Authenticated(account, address)
        return Authenticated(account, None)
    return None


def _failure_keys(username: str, host: str) -> tuple[str, str]:
    # Hash the username: cache keys must be short and free of odd characters.
    digest = hashlib.sha256(f"{username.casefold()}\0{host}".encode()).hexdigest()
    return f"login-failures:user:{digest[:32]}", f"login-failures:peer:{host}"


def _throttled_for(user_key: str, peer_key: str) -> int:
    """Seconds until a login may be tried again; 0 when it may now."""
    counts = cache.get_many([user_key, peer_key])
    user_failures = _count_value(counts.get(user_key))
    peer_failures = _count_value(counts.get(peer_key))
    if user_failures < MAX_FAILURES_PER_USER and peer_failures < MAX_FAILURES_PER_PEER:
        return 0

    # The cache API cannot tell how long a key has left; the whole window is
    # the honest upper bound.
    return FAILURE_WINDOW_SECONDS


def _count_value(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _count_failure(key: str) -> None:
    # ``add`` starts the window only if no count exists; ``incr`` keeps the
    # expiry both on the local-memory cache and on Redis.
    cache.add(key, 0, FAILURE_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:
        # Expired between the two calls: start a new window.
        cache.add(key, 1, FAILURE_WINDOW_SECONDS)


def _record_login(
    authenticated: Authenticated, username: str, host: str, protocol: str
) -> None:
    account = authenticated.account
    marker = hashlib.sha256(
        f"{account.pk}\0{username.casefold()}\0{host}\0{protocol}".encode()
    ).hexdigest()
    if not cache.add(f"login-recorded:{marker[:32]}", 1, ACTIVITY_INTERVAL_SECONDS):
        return

    listener = f"{protocol} " if protocol else ""
    record_activity(
        account,
        Activity.Kind.LOGIN,
        f"Mail program {listener}login as {username} from {host or 'unknown'}",
    )


def _minutes(seconds: int) -> int:
    return max(1, (seconds + 59) // 60)
