"""Linking a provider account to a person on this bridge.

The login takes up to three steps, each a call from the dashboard or from
``manage.py linkaccount``::

    progress = start_link(owner, username, password)
    if progress.step == "two_factor":
        progress = submit_two_factor(owner, progress.pending_id, code)
    if progress.step == "mailbox_password":
        progress = submit_mailbox_password(owner, progress.pending_id, password)
    assert progress.step == "done"; progress.account

Between steps the provider session and the login password (needed to derive
the key passphrase once the second factor is given) wait in a
:class:`~mailsync.models.PendingLink`, sealed, for ten minutes at most. When
the link is done the password is forgotten: the account keeps only the
session tokens and the salted key passphrase, both sealed.

Every failure is a :class:`LinkError` whose text can be shown to the person
as it is.
"""

import logging
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.db import transaction
from django.utils import timezone

from accounts.models import Activity, LinkedAccount, record_activity
from mailsync import dispatch, index, notify
from mailsync.models import PendingLink, SyncState
from mailsync.provider.client import UnlockedAccount
from mailsync.provider.errors import (
    AppVersionRejected,
    AuthError,
    HumanVerificationRequired,
    KeyUnlockError,
    NetworkError,
    PaidPlanRequired,
    ProviderError,
    RateLimited,
    ServerUnavailable,
    SRPError,
)
from mailsync.provider.types import Session
from mailsync.session import encode_key_passphrase, new_client, stored_session

logger = logging.getLogger(__name__)

# Wrong codes or mailbox passwords before the pending login is dropped.
MAX_ATTEMPTS = 3

# A person waits for the page while the bridge talks to the provider: a
# "Retry-After" longer than this is reported at once instead of waited out.
MAX_RETRY_AFTER_SECONDS = 5.0


@dataclass
class LinkProgress:
    """Where a login stands: the next step, or done with the account."""

    step: str  # "two_factor" | "mailbox_password" | "done"
    pending_id: int | None = None
    account: LinkedAccount | None = None


class LinkError(Exception):
    """A login step failed; the text says why in words a person can act on."""


class HumanVerificationNeeded(LinkError):
    """The provider wants the person to pass a check at ``url`` first.

    Open the URL, solve the check, then call ``start_link`` again with
    ``hv_token=token`` (and the method used as ``hv_type``).
    """

    def __init__(self, url: str, methods: list[str], token: str) -> None:
        super().__init__(
            "The provider wants to make sure a person is logging in. Open the "
            "verification page, complete it, then try again."
        )
        self.url = url
        self.methods = methods
        self.token = token


# -- the steps ---------------------------------------------------------------


def start_link(
    owner, username: str, password: str, hv_token=None, hv_type=None
) -> LinkProgress:
    """Log in with the provider username and password (first step)."""
    username = (username or "").strip()
    if not username or not password:
        raise LinkError("Enter the provider username and password.")

    purge_expired_links()
    result = _provider_call(_login, username, password, hv_token, hv_type)
    session = result.session

    other_owner = (
        LinkedAccount.objects.filter(provider_user_id=session.user_id)
        .exclude(owner=owner)
        .exists()
    )
    if session.user_id and other_owner:
        _logout_quietly(session)
        raise LinkError(
            "This provider account is already linked by another person on this bridge."
        )

    if result.two_factor_required:
        step = PendingLink.Step.TWO_FACTOR
    elif result.needs_mailbox_password:
        step = PendingLink.Step.MAILBOX_PASSWORD
    else:
        try:
            return _finish(owner, username, session, password)
        except LinkError:
            # Nothing waits for this session: the person starts again.
            _logout_quietly(session)
            raise

    pending = PendingLink(
        owner=owner,
        username=username,
        step=step,
        password_mode=result.password_mode,
    )
    _store_session(pending, session)
    pending.set_secret("password", password)
    pending.save()
    logger.info("pending login %s waits for %s", pending.id, step)
    return LinkProgress(step=step, pending_id=pending.id)


def submit_two_factor(owner, pending_id, code: str) -> LinkProgress:
    """Give the two-factor code the provider asked for."""
    pending = _load_pending(owner, pending_id, PendingLink.Step.TWO_FACTOR)
    code = (code or "").strip().replace(" ", "")
    if not code:
        raise LinkError("Enter the code from your authenticator app.")

    session = _pending_session(pending)
    try:
        session = _provider_call(_second_factor, session, code)
    except LinkError as exc:
        if not isinstance(exc.__cause__, AuthError):
            raise
        _count_attempt(pending)
        raise LinkError(
            "That code is not right. Enter the current code from your "
            "authenticator app."
        ) from exc

    if pending.password_mode == 2:
        _store_session(pending, session)
        pending.step = PendingLink.Step.MAILBOX_PASSWORD
        pending.save()
        return LinkProgress(step=pending.step, pending_id=pending.id)

    password = pending.get_secret("password")
    return _finish(owner, pending.username, session, password, pending=pending)


def submit_mailbox_password(owner, pending_id, mailbox_password: str) -> LinkProgress:
    """Give the second (mailbox) password of a two-password account."""
    pending = _load_pending(owner, pending_id, PendingLink.Step.MAILBOX_PASSWORD)
    if not mailbox_password:
        raise LinkError("Enter the mailbox password.")

    session = _pending_session(pending)
    return _finish(owner, pending.username, session, mailbox_password, pending=pending)


def cancel_link(owner, pending_id) -> None:
    """Abandon a login in progress and end its provider session."""
    pending = PendingLink.objects.filter(id=pending_id, owner=owner).first()
    if pending is None:
        return

    session = _pending_session(pending)
    pending.delete()
    _logout_quietly(session)


def purge_expired_links() -> int:
    """Delete pending logins older than their ten minutes."""
    deleted, _ = PendingLink.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


# -- finishing ---------------------------------------------------------------


def _finish(
    owner,
    username: str,
    session: Session,
    key_password: str,
    pending: PendingLink | None = None,
) -> LinkProgress:
    try:
        session, unlocked = _provider_call(_unlock, session, key_password)
    except LinkError as exc:
        if not isinstance(exc.__cause__, KeyUnlockError):
            raise
        message = "The mailbox password is not right."
        if pending is None or pending.password_mode != 2:
            message = "The password does not unlock this account's keys."
        if pending is not None:
            _count_attempt(pending)
        raise LinkError(message) from exc

    account, relinked, replaced = _save_account(
        owner, username, session, unlocked, pending
    )
    if replaced is not None and replaced.uid != session.uid:
        # The earlier login's tokens are no longer kept anywhere.
        _logout_quietly(replaced)
    if relinked:
        record_activity(
            account, Activity.Kind.ACCOUNT, "Logged in to the provider again"
        )
    else:
        record_activity(account, Activity.Kind.ACCOUNT, "Linked to the bridge")

    notify.publish_status(account.id, {"state": account.state})
    if account.state == LinkedAccount.State.SYNCING:
        dispatch.run_task("first_sync", account.id)
    logger.info("account %s linked (again: %s)", account.id, relinked)
    return LinkProgress(step="done", account=account)


def _save_account(
    owner,
    username: str,
    session: Session,
    unlocked: UnlockedAccount,
    pending: PendingLink | None,
) -> tuple[LinkedAccount, bool, Session | None]:
    """Store the login; also return the session it replaces, if any."""
    user = unlocked.user
    enabled = [address for address in unlocked.addresses if address.enabled]
    primary = enabled[0].email if enabled else user.email

    with transaction.atomic():
        account = (
            LinkedAccount.objects.select_for_update()
            .filter(provider_user_id=user.id)
            .first()
        )
        if account is not None and account.owner_id != owner.id:
            raise LinkError(
                "This provider account is already linked by another person on "
                "this bridge."
            )

        relinked = account is not None
        replaced = stored_session(account) if account is not None else None
        if account is None:
            account = LinkedAccount(owner=owner, provider_user_id=user.id)

        account.username = username
        account.primary_email = primary
        account.display_name = user.display_name or user.name
        account.session_uid = session.uid
        account.access_token = session.access_token
        account.refresh_token = session.refresh_token
        account.key_passphrase = encode_key_passphrase(unlocked.key_passphrase)
        account.last_error = ""
        if not account.bridge_password:
            account.regenerate_bridge_password()

        # Linking again after a lost session keeps the index: a finished
        # sync goes straight back to events, an unfinished one resumes.
        synced = (
            relinked
            and SyncState.objects.filter(
                account=account, phase=SyncState.Phase.DONE
            ).exists()
        )
        account.state = (
            LinkedAccount.State.READY if synced else LinkedAccount.State.SYNCING
        )
        account.save()
        SyncState.objects.get_or_create(account=account)
        index.replace_addresses(account, unlocked.addresses)

        if pending is not None and pending.pk:
            pending.delete()
    return account, relinked, replaced


# -- pending logins ----------------------------------------------------------


def _load_pending(owner, pending_id, step: str) -> PendingLink:
    pending = PendingLink.objects.filter(id=pending_id, owner=owner).first()
    if pending is None or pending.expired:
        if pending is not None:
            pending.delete()
        raise LinkError("This login has expired or was cancelled. Start again.")
    if pending.step != step:
        raise LinkError("This login is waiting for another step. Start again.")
    return pending


def _count_attempt(pending: PendingLink) -> None:
    pending.attempts += 1
    if pending.attempts >= MAX_ATTEMPTS:
        session = _pending_session(pending)
        pending.delete()
        _logout_quietly(session)
        raise LinkError("Too many wrong attempts. Start the login again.")
    pending.save(update_fields=["attempts"])


def _store_session(pending: PendingLink, session: Session) -> None:
    pending.set_secret("session_uid", session.uid)
    pending.set_secret("access_token", session.access_token)
    pending.set_secret("refresh_token", session.refresh_token)


def _pending_session(pending: PendingLink) -> Session:
    return Session(
        uid=pending.get_secret("session_uid"),
        access_token=pending.get_secret("access_token"),
        refresh_token=pending.get_secret("refresh_token"),
    )


# -- provider conversations (each on its own client and event loop) ----------


def _provider_call(function, *args):
    """Run one async provider conversation; turn its failure into a LinkError."""
    try:
        return async_to_sync(function)(*args)
    except ProviderError as exc:
        raise _link_error(exc) from exc
    except KeyUnlockError as exc:
        raise LinkError("The keys could not be unlocked.") from exc


def _logout_quietly(session: Session) -> None:
    """End a session at the provider; if that fails it expires there anyway."""
    try:
        _provider_call(_logout, session)
    except LinkError as exc:
        logger.info("logout of an unused login session failed: %s", exc)


def _client(session: Session | None = None):
    return new_client(session=session, max_retry_after=MAX_RETRY_AFTER_SECONDS)


async def _login(username, password, hv_token, hv_type):
    async with _client() as client:
        return await client.login(
            username, password, hv_token=hv_token, hv_token_type=hv_type
        )


async def _second_factor(session: Session, code: str) -> Session:
    async with _client(session) as client:
        client.two_factor_pending = True
        await client.submit_2fa(code)
        return client.session or session


async def _unlock(session: Session, key_password: str):
    async with _client(session) as client:
        unlocked = await client.unlock(key_password)
        return client.session, unlocked


async def _logout(session: Session) -> None:
    async with _client(session) as client:
        await client.logout()


def _wait_text(retry_after: float | None) -> str:
    if not retry_after:
        return "a few minutes"
    minutes = max(1, -(-int(retry_after) // 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _link_error(exc: ProviderError) -> LinkError:
    if isinstance(exc, HumanVerificationRequired):
        return HumanVerificationNeeded(exc.url, exc.methods, exc.token)
    if isinstance(exc, PaidPlanRequired):
        return LinkError(
            "This provider account is on a free plan, and the bridge works only "
            "with paid plans. Upgrade the plan, then try again."
        )
    if isinstance(exc, SRPError):
        return LinkError(
            "The provider's login answer could not be verified, so the bridge "
            "did not trust it. Check the provider address in the settings."
        )
    if isinstance(exc, AuthError):
        return LinkError("The username or password is not right.")
    if isinstance(exc, AppVersionRejected):
        return LinkError(
            "The provider no longer accepts this version of the bridge. Update "
            "the bridge, then try again."
        )
    if isinstance(exc, RateLimited):
        return LinkError(
            "The provider is refusing logins for a while (too many attempts). "
            f"Wait {_wait_text(exc.retry_after)}, then try again."
        )
    if isinstance(exc, ServerUnavailable | NetworkError):
        return LinkError(
            "The provider cannot be reached right now. Try again in a moment."
        )
    return LinkError(f"The provider refused the login: {exc.message or exc}.")
