"""The local index of each linked account's mail, as IMAP will serve it.

* :class:`Mailbox`: one IMAP mailbox per provider label or folder, with its
  UIDVALIDITY and the next UID to hand out.
* :class:`Message`: one provider message, with everything FETCH needs already
  serialised at sync time (ENVELOPE, BODYSTRUCTURE, part offsets, size).
* :class:`MailboxEntry`: a message's place in a mailbox: its UID there and the
  flags kept only locally (``\\Deleted`` and keywords).
* :class:`CachedMessage`: the built RFC 822 bytes, compressed and encrypted.
* :class:`SyncState`: where the first sync is, and the last applied event.
* :class:`SyncQueueItem`: a message the first sync listed and has not
  written yet, with its time, so it is written oldest first.
* :class:`PendingLink`: a provider login between its steps (2FA, mailbox
  password), kept for minutes only, its secrets sealed.

Invariant: a UID in a mailbox never changes while that mailbox's UIDVALIDITY
stays the same.
"""

import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts import secretbox
from accounts.models import LinkedAccount

# The provider's system label IDs and the Flags bits that decide \Draft are
# defined once, in the provider package; they are re-exported here because
# code that works on these models names them alongside.
from mailsync.provider.types import (  # noqa: F401
    ALL_DRAFTS,
    ALL_MAIL,
    ALL_SCHEDULED,
    ALL_SENT,
    ARCHIVE,
    DRAFTS,
    FLAG_RECEIVED,
    FLAG_SENT,
    INBOX,
    OUTBOX,
    SENT,
    SPAM,
    STARRED,
    TRASH,
)


def new_uidvalidity() -> int:
    """UIDVALIDITY from the clock, kept inside the 32-bit range IMAP allows."""
    return int(time.time()) & 0xFFFFFFFF


class SyncState(models.Model):
    class Phase(models.TextChoices):
        WAITING = "waiting", "Waiting"
        LABELS = "labels", "Labels"
        COUNTING = "counting", "Counting"
        LISTING = "listing", "Listing"
        MESSAGES = "messages", "Messages"
        DONE = "done", "Done"

    account = models.OneToOneField(
        LinkedAccount, on_delete=models.CASCADE, related_name="sync_state"
    )
    phase = models.CharField(
        max_length=10, choices=Phase.choices, default=Phase.WAITING
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    # The newest-first metadata cursor: the ID of the last message listed.
    cursor = models.CharField(max_length=200, blank=True)
    last_event_id = models.CharField(max_length=200, blank=True)
    # The highest UIDVALIDITY ever given to one of the account's mailboxes,
    # so a mailbox deleted and created again never gets the same one.
    last_uidvalidity = models.PositiveBigIntegerField(default=0)
    # Which process holds the sync, and until when (a lease, renewed while
    # working), so a killed worker's sync can be taken over safely.
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class SyncQueueItem(models.Model):
    """A message the first sync listed and has not written yet.

    The listing runs newest first; the writer takes these oldest first, so
    UIDs grow with the message time. A row goes in the same transaction that
    writes its message.
    """

    account = models.ForeignKey(
        LinkedAccount, on_delete=models.CASCADE, related_name="sync_queue"
    )
    provider_id = models.CharField(max_length=200)
    time = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "provider_id"], name="unique_queued_message"
            ),
        ]
        indexes = [models.Index(fields=["account", "time"])]

    def __str__(self) -> str:
        return self.provider_id


class Mailbox(models.Model):
    class Kind(models.TextChoices):
        SYSTEM = "system", "System"
        FOLDER = "folder", "Folder"
        LABEL = "label", "Label"
        PLACEHOLDER = "placeholder", "Placeholder"

    account = models.ForeignKey(
        LinkedAccount, on_delete=models.CASCADE, related_name="mailboxes"
    )
    # The provider label ID; empty for the "Folders" and "Labels" placeholders.
    label_id = models.CharField(max_length=200, blank=True)
    name = models.CharField(max_length=1000)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    special_use = models.CharField(max_length=20, blank=True)
    uidvalidity = models.PositiveBigIntegerField(default=new_uidvalidity)
    uidnext = models.PositiveBigIntegerField(default=1)
    subscribed = models.BooleanField(default=True)
    color = models.CharField(max_length=20, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name"], name="unique_mailbox_name"
            ),
        ]
        indexes = [models.Index(fields=["account", "label_id"])]

    def __str__(self) -> str:
        return self.name


class Message(models.Model):
    account = models.ForeignKey(
        LinkedAccount, on_delete=models.CASCADE, related_name="messages"
    )
    provider_id = models.CharField(max_length=200)
    address_id = models.CharField(max_length=200, blank=True)
    label_ids = models.JSONField(default=list)
    external_id = models.CharField(max_length=1000, blank=True)

    unread = models.BooleanField(default=False)
    provider_flags = models.BigIntegerField(default=0)
    is_replied = models.BooleanField(default=False)
    is_replied_all = models.BooleanField(default=False)
    is_forwarded = models.BooleanField(default=False)

    internal_date = models.DateTimeField(default=timezone.now)
    sent_date = models.DateTimeField(null=True, blank=True)
    size = models.PositiveBigIntegerField(default=0)

    # Pre-serialised IMAP text, computed once when the message is built.
    envelope = models.BinaryField(default=b"")
    bodystructure = models.BinaryField(default=b"")
    body = models.BinaryField(default=b"")
    # Section path -> [header_start, body_start, body_end] offsets into the
    # cached message, so FETCH BODY[n] slices without parsing.
    parts = models.JSONField(default=dict)
    # Header fields and decoded text for SEARCH, compressed and encrypted.
    search_sealed = models.BinaryField(default=b"")

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "provider_id"], name="unique_provider_message"
            ),
        ]

    def __str__(self) -> str:
        return self.provider_id

    @property
    def starred(self) -> bool:
        return STARRED in self.label_ids

    @property
    def is_draft(self) -> bool:
        return not self.provider_flags & (FLAG_RECEIVED | FLAG_SENT)


class MailboxEntry(models.Model):
    mailbox = models.ForeignKey(
        Mailbox, on_delete=models.CASCADE, related_name="entries"
    )
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="entries"
    )
    uid = models.PositiveBigIntegerField()
    deleted = models.BooleanField(default=False)
    keywords = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "uid"], name="unique_uid"),
            models.UniqueConstraint(
                fields=["mailbox", "message"], name="unique_message_in_mailbox"
            ),
        ]
        ordering = ["mailbox", "uid"]


class CachedMessage(models.Model):
    """The exact bytes FETCH BODY[] serves, compressed and AES-GCM encrypted.

    ``header_sealed`` holds the same bytes up to the end of the top-level
    header, sealed on their own, so header-only FETCH opens a few hundred
    octets instead of the whole message. Empty on rows cached before it
    existed; readers then fall back to ``sealed``.
    """

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, related_name="cached", primary_key=True
    )
    sealed = models.BinaryField()
    header_sealed = models.BinaryField(default=b"")


class EventFailure(models.Model):
    """An event that could not be applied; its messages were re-fetched."""

    account = models.ForeignKey(
        LinkedAccount, on_delete=models.CASCADE, related_name="event_failures"
    )
    event_id = models.CharField(max_length=200)
    error = models.TextField()
    message_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set once a later re-fetch brought the messages in line with the
    # provider; unresolved rows are retried by the event poller.
    resolved_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)


PENDING_LINK_LIFETIME = timedelta(minutes=10)


def _pending_expiry():
    return timezone.now() + PENDING_LINK_LIFETIME


def _new_seal_nonce() -> str:
    return secrets.token_hex(16)


class PendingLink(models.Model):
    """A provider login in progress, between the password and the last step.

    The login password stays here (sealed) only until the key passphrase can
    be derived from it; the row is deleted when the link is done, cancelled
    or expired.
    """

    class Step(models.TextChoices):
        TWO_FACTOR = "two_factor", "Two-factor code"
        MAILBOX_PASSWORD = "mailbox_password", "Mailbox password"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_links"
    )
    username = models.CharField(max_length=320)
    step = models.CharField(max_length=20, choices=Step.choices)
    password_mode = models.PositiveSmallIntegerField(default=1)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Bound into every sealed field's purpose, so a sealed value copied to
    # another row does not decrypt.
    seal_nonce = models.CharField(max_length=32, default=_new_seal_nonce)

    session_uid_sealed = models.BinaryField(default=b"")
    access_token_sealed = models.BinaryField(default=b"")
    refresh_token_sealed = models.BinaryField(default=b"")
    password_sealed = models.BinaryField(default=b"")

    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=_pending_expiry, db_index=True)

    def _purpose(self, field: str) -> str:
        return f"pending-link:{self.seal_nonce}:{field}"

    def get_secret(self, field: str) -> str:
        sealed = bytes(getattr(self, f"{field}_sealed") or b"")
        if not sealed:
            return ""
        return secretbox.decrypt_text(sealed, self._purpose(field))

    def set_secret(self, field: str, value: str) -> None:
        sealed = secretbox.encrypt_text(value, self._purpose(field)) if value else b""
        setattr(self, f"{field}_sealed", sealed)

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()
