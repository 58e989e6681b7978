"""People's linked provider accounts, their addresses and their activity.

The provider login password is never stored. What is kept to act for the
person later (the session UID, the refresh token, the salted key passphrase)
and the bridge password for mail programs are encrypted with
:mod:`accounts.secretbox`.
"""

import base64
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts import secretbox


def new_bridge_password() -> str:
    """128 random bits as unpadded base64url (22 characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


class LinkedAccount(models.Model):
    class State(models.TextChoices):
        LINKING = "linking", "Linking"
        SYNCING = "syncing", "Syncing"
        READY = "ready", "Ready"
        NEEDS_LOGIN = "needs-login", "Needs login"
        ERROR = "error", "Error"

    class AddressMode(models.TextChoices):
        COMBINED = "combined", "Combined: one mailbox for all addresses"
        SPLIT = "split", "Split: a mailbox per address"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="linked_accounts",
    )
    provider_user_id = models.CharField(max_length=200, unique=True)
    username = models.CharField(max_length=320)
    primary_email = models.CharField(max_length=320)
    display_name = models.CharField(max_length=200, blank=True)

    state = models.CharField(
        max_length=20, choices=State.choices, default=State.LINKING
    )
    last_error = models.TextField(blank=True)
    address_mode = models.CharField(
        max_length=10, choices=AddressMode.choices, default=AddressMode.COMBINED
    )

    session_uid_sealed = models.BinaryField(default=b"")
    access_token_sealed = models.BinaryField(default=b"")
    refresh_token_sealed = models.BinaryField(default=b"")
    key_passphrase_sealed = models.BinaryField(default=b"")
    bridge_password_sealed = models.BinaryField(default=b"")

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_event_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["primary_email"]

    def __str__(self) -> str:
        return self.primary_email

    # Secrets: each is sealed with a purpose that names the account, so a
    # value copied between rows does not decrypt.

    def _purpose(self, field: str) -> str:
        return f"account:{self.provider_user_id}:{field}"

    def _get_secret(self, field: str) -> str:
        sealed = bytes(getattr(self, f"{field}_sealed") or b"")
        if not sealed:
            return ""
        return secretbox.decrypt_text(sealed, self._purpose(field))

    def _set_secret(self, field: str, value: str) -> None:
        sealed = secretbox.encrypt_text(value, self._purpose(field)) if value else b""
        setattr(self, f"{field}_sealed", sealed)

    session_uid = property(
        lambda self: self._get_secret("session_uid"),
        lambda self, value: self._set_secret("session_uid", value),
    )
    access_token = property(
        lambda self: self._get_secret("access_token"),
        lambda self, value: self._set_secret("access_token", value),
    )
    refresh_token = property(
        lambda self: self._get_secret("refresh_token"),
        lambda self, value: self._set_secret("refresh_token", value),
    )
    key_passphrase = property(
        lambda self: self._get_secret("key_passphrase"),
        lambda self, value: self._set_secret("key_passphrase", value),
    )
    bridge_password = property(
        lambda self: self._get_secret("bridge_password"),
        lambda self, value: self._set_secret("bridge_password", value),
    )

    def regenerate_bridge_password(self) -> str:
        password = new_bridge_password()
        self.bridge_password = password
        return password

    def check_bridge_password(self, candidate: str) -> bool:
        """Compare in constant time; an account without a password never matches."""
        expected = self.bridge_password
        if not expected:
            return False
        return hmac.compare_digest(expected.encode(), candidate.encode())

    def forget_session(self) -> None:
        """Drop the provider session (logout or revoked refresh token)."""
        self.session_uid = ""
        self.access_token = ""
        self.refresh_token = ""


class Address(models.Model):
    """One of the account's provider addresses; enabled ones can log in."""

    class Status(models.IntegerChoices):
        DISABLED = 0
        ENABLED = 1
        DELETING = 2

    account = models.ForeignKey(
        LinkedAccount, on_delete=models.CASCADE, related_name="addresses"
    )
    provider_id = models.CharField(max_length=200)
    email = models.CharField(max_length=320)
    display_name = models.CharField(max_length=200, blank=True)
    status = models.IntegerField(choices=Status.choices, default=Status.ENABLED)
    send = models.BooleanField(default=True)
    receive = models.BooleanField(default=True)
    order = models.IntegerField(default=0)
    address_type = models.IntegerField(default=1)

    class Meta:
        ordering = ["account", "order", "email"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "provider_id"], name="unique_address_per_account"
            )
        ]
        indexes = [models.Index(fields=["email"])]

    def __str__(self) -> str:
        return self.email

    @property
    def enabled(self) -> bool:
        return self.status == self.Status.ENABLED


class Activity(models.Model):
    """Recent things worth showing a person: sync phases, logins, errors."""

    class Kind(models.TextChoices):
        SYNC = "sync", "Sync"
        EVENT = "event", "Event"
        LOGIN = "login", "Mail program login"
        SEND = "send", "Sent mail"
        ERROR = "error", "Error"
        ACCOUNT = "account", "Account"

    account = models.ForeignKey(
        LinkedAccount, on_delete=models.CASCADE, related_name="activities"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    text = models.CharField(max_length=500)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]


def record_activity(account: LinkedAccount, kind: str, text: str) -> None:
    """Store one activity line; keep the last few hundred per account."""
    Activity.objects.create(account=account, kind=kind, text=text[:500])
    stale = Activity.objects.filter(account=account).order_by("-at", "-id")[300:]
    stale_ids = list(stale.values_list("id", flat=True)[:100])
    if stale_ids:
        Activity.objects.filter(id__in=stale_ids).delete()


class BridgeSetting(models.Model):
    """One setting changed on the dashboard; read by ``runbridge`` at start.

    Only settings a person changed are stored: a missing row means the value
    from the environment (Django settings) applies. See
    :mod:`accounts.settings_store`.
    """

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key
