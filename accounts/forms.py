"""Dashboard forms.

Password fields never render their value back: a form shown again after an
error asks for the password again rather than put it in the page.
"""

import datetime
import hashlib
import ipaddress
import logging
import re

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.cache import cache

from accounts.models import LinkedAccount

logger = logging.getLogger(__name__)

# Generous for a certificate chain or a key, small enough to refuse junk early.
MAX_PEM_BYTES = 64 * 1024
MIN_RSA_BITS = 2048
# Dashboard sign-in failures tolerated within the window, per (username,
# address) and per address, as for mail program logins (protocols.auth).
SIGN_IN_MAX_FAILURES_PER_USER = 5
SIGN_IN_MAX_FAILURES_PER_ADDRESS = 20
SIGN_IN_FAILURE_WINDOW_SECONDS = 15 * 60
HOSTNAME_PATTERN = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def password_field(label: str, autocomplete: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": autocomplete}
        ),
    )


class SignInForm(AuthenticationForm):
    """Django's sign-in form, with failed attempts counted and limited.

    The dashboard reveals bridge passwords and links accounts, so guessing
    its passwords must stay slow. The window starts at the first failure.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That username and password do not match. Try again.",
        "throttled": (
            "Too many failed sign-ins from your address; try again in "
            f"{SIGN_IN_FAILURE_WINDOW_SECONDS // 60} minutes."
        ),
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        user_key, address_key = _sign_in_failure_keys(username, address)

        counts = cache.get_many([user_key, address_key])
        if (
            counts.get(user_key, 0) >= SIGN_IN_MAX_FAILURES_PER_USER
            or counts.get(address_key, 0) >= SIGN_IN_MAX_FAILURES_PER_ADDRESS
        ):
            logger.warning(
                "sign-in as %r from %s refused: throttled", username, address
            )
            raise forms.ValidationError(
                self.error_messages["throttled"], code="throttled"
            )

        try:
            cleaned = super().clean()
        except forms.ValidationError as error:
            if error.code == "invalid_login":
                _count_sign_in_failure(user_key)
                _count_sign_in_failure(address_key)
                logger.info("sign-in as %r from %s failed", username, address)
            raise

        cache.delete(user_key)
        return cleaned


def _sign_in_failure_keys(username: str, address: str) -> tuple[str, str]:
    # Hashed: cache keys must be short and free of odd characters.
    pair = hashlib.sha256(f"{username.casefold()}\0{address}".encode()).hexdigest()
    where = hashlib.sha256(address.encode()).hexdigest()
    return f"sign-in-failures:user:{pair[:32]}", f"sign-in-failures:peer:{where[:32]}"


def _count_sign_in_failure(key: str) -> None:
    # ``add`` starts the window only if no count exists; ``incr`` keeps it.
    cache.add(key, 0, SIGN_IN_FAILURE_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:
        cache.add(key, 1, SIGN_IN_FAILURE_WINDOW_SECONDS)


class PersonForm(UserCreationForm):
    """A new family or office member: a username and a first password."""

    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class LinkStartForm(forms.Form):
    username = forms.CharField(
        label="Provider username or address",
        max_length=320,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = password_field("Provider password", "current-password")


class TwoFactorForm(forms.Form):
    code = forms.CharField(
        label="Two-factor code",
        max_length=64,
        help_text="The 6-digit code from your authenticator app, or a recovery code.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
            }
        ),
    )

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split())


class MailboxPasswordForm(forms.Form):
    mailbox_password = password_field("Mailbox password", "current-password")


class ConfirmPasswordForm(forms.Form):
    """Re-entering the dashboard password before something sensitive."""

    password = password_field("Your dashboard password", "current-password")

    def __init__(self, user, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(
                "That is not your dashboard password.", code="wrong_password"
            )
        return password


class AddressModeForm(forms.Form):
    address_mode = forms.ChoiceField(
        label="Address mode",
        choices=LinkedAccount.AddressMode.choices,
        widget=forms.RadioSelect,
    )


def validate_host(value: str) -> str:
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass

    if not HOSTNAME_PATTERN.match(value):
        raise forms.ValidationError(
            "Enter an IP address (such as 127.0.0.1 or 0.0.0.0) or a host name."
        )
    return value.lower()


def port_field(label: str, allow_off: bool) -> forms.IntegerField:
    help_text = "0 turns this listener off." if allow_off else ""
    return forms.IntegerField(
        label=label,
        min_value=0 if allow_off else 1,
        max_value=65535,
        help_text=help_text,
    )


class BridgeSettingsForm(forms.Form):
    imap_host = forms.CharField(label="IMAP listen address", max_length=253)
    imap_port = port_field("IMAP port (STARTTLS)", allow_off=False)
    imaps_port = port_field("IMAP port with implicit TLS", allow_off=True)
    smtp_host = forms.CharField(label="SMTP listen address", max_length=253)
    smtp_port = port_field("SMTP port (STARTTLS)", allow_off=False)
    smtps_port = port_field("SMTP port with implicit TLS", allow_off=True)
    event_interval = forms.IntegerField(
        label="Event poll interval (seconds)",
        min_value=5,
        max_value=3600,
        help_text="How often each account asks the provider for changes.",
    )

    def clean_imap_host(self) -> str:
        return validate_host(self.cleaned_data["imap_host"])

    def clean_smtp_host(self) -> str:
        return validate_host(self.cleaned_data["smtp_host"])

    def clean(self) -> dict:
        cleaned = super().clean()
        ports = [
            cleaned.get(name)
            for name in ("imap_port", "imaps_port", "smtp_port", "smtps_port")
        ]
        in_use = [port for port in ports if port]
        if len(in_use) != len(set(in_use)):
            raise forms.ValidationError("Each listener needs a port of its own.")
        return cleaned


class CertificateUploadForm(forms.Form):
    """A PEM certificate (chain) and its unencrypted private key."""

    certificate = forms.FileField(label="Certificate (PEM)")
    private_key = forms.FileField(label="Private key (PEM, not encrypted)")

    def clean_certificate(self) -> bytes:
        data = read_upload(self.cleaned_data["certificate"])
        if b"PRIVATE KEY" in data:
            raise forms.ValidationError(
                "This file contains a private key; upload the key separately."
            )

        try:
            chain = x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise forms.ValidationError(
                "This is not a PEM certificate (it should begin with "
                "-----BEGIN CERTIFICATE-----)."
            ) from exc

        leaf = chain[0]
        now = datetime.datetime.now(datetime.UTC)
        if leaf.not_valid_after_utc <= now:
            raise forms.ValidationError(
                "This certificate expired on %(date)s.",
                params={"date": leaf.not_valid_after_utc.date().isoformat()},
            )
        if leaf.not_valid_before_utc > now:
            raise forms.ValidationError(
                "This certificate is not valid before %(date)s.",
                params={"date": leaf.not_valid_before_utc.date().isoformat()},
            )

        self.chain = chain
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in chain)

    def clean_private_key(self) -> bytes:
        data = read_upload(self.cleaned_data["private_key"])
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except TypeError as exc:
            raise forms.ValidationError(
                "This key is protected by a passphrase; upload it unencrypted "
                "(for example with: openssl pkey -in key.pem -out plain.pem)."
            ) from exc
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise forms.ValidationError(
                "This is not a PEM private key (it should begin with "
                "-----BEGIN PRIVATE KEY-----)."
            ) from exc

        if isinstance(key, rsa.RSAPrivateKey):
            if key.key_size < MIN_RSA_BITS:
                raise forms.ValidationError(
                    "This RSA key is too short; use at least %(bits)s bits.",
                    params={"bits": MIN_RSA_BITS},
                )
        elif not isinstance(key, ec.EllipticCurvePrivateKey):
            raise forms.ValidationError("Use an RSA or an elliptic-curve key.")

        self.key = key
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def clean(self) -> dict:
        cleaned = super().clean()
        if not hasattr(self, "chain") or not hasattr(self, "key"):
            return cleaned

        spki = (
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        certified_key = self.chain[0].public_key().public_bytes(*spki)
        uploaded_key = self.key.public_key().public_bytes(*spki)
        if certified_key != uploaded_key:
            raise forms.ValidationError(
                "The key does not belong to the certificate (their public keys differ)."
            )
        return cleaned


def read_upload(upload) -> bytes:
    if upload.size > MAX_PEM_BYTES:
        raise forms.ValidationError(
            "This file is too large for a certificate or key (%(limit)s KiB at most).",
            params={"limit": MAX_PEM_BYTES // 1024},
        )
    return upload.read()
