"""Bridge settings a staff member changed on the dashboard.

The environment (Django settings) gives every default. A value saved on the
settings page is stored as a :class:`~accounts.models.BridgeSetting` row and
wins over the environment from the next start of ``manage.py runbridge``:
listeners bind once, at start, so a change never moves a running socket.

An uploaded TLS certificate is the exception to "stored in the database": its
private key is a secret, so the pair goes where :mod:`protocols.tls` looks for
it (``DATA/tls/custom-cert.pem`` and ``custom-key.pem``, the key mode 0600),
also used from the next start.
"""

import datetime
import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.conf import settings
from django.db import transaction

from accounts.models import BridgeSetting

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BridgeSettings:
    """Where the listeners bind (0 = off) and how often events are polled."""

    imap_host: str
    imap_port: int
    imaps_port: int
    smtp_host: str
    smtp_port: int
    smtps_port: int
    event_interval: int


# Each field's default comes from the Django setting of the same meaning.
DEFAULTS_FROM = {
    "imap_host": "BRIDGE_IMAP_HOST",
    "imap_port": "BRIDGE_IMAP_PORT",
    "imaps_port": "BRIDGE_IMAPS_PORT",
    "smtp_host": "BRIDGE_SMTP_HOST",
    "smtp_port": "BRIDGE_SMTP_PORT",
    "smtps_port": "BRIDGE_SMTPS_PORT",
    "event_interval": "BRIDGE_EVENT_INTERVAL",
}

KEYS = tuple(field.name for field in fields(BridgeSettings))


def defaults() -> BridgeSettings:
    """The values the environment gives, ignoring the database."""
    return BridgeSettings(
        **{key: getattr(settings, DEFAULTS_FROM[key]) for key in KEYS}
    )


def stored() -> dict[str, Any]:
    """Only the values a person saved, by key."""
    rows = BridgeSetting.objects.filter(key__in=KEYS).values_list("key", "value")
    return dict(rows)


def effective() -> BridgeSettings:
    """What ``runbridge`` uses: saved values over the environment's."""
    values = {key: getattr(defaults(), key) for key in KEYS}
    values.update(stored())
    return BridgeSettings(**values)


def save(changes: dict[str, Any]) -> list[str]:
    """Store the values that differ from the effective ones; return their keys.

    A value equal to the environment's default removes its row, so a later
    change of the environment applies again.
    """
    unknown = set(changes) - set(KEYS)
    if unknown:
        raise KeyError(f"unknown bridge settings: {sorted(unknown)}")

    current = effective()
    environment = defaults()
    changed = [key for key, value in changes.items() if getattr(current, key) != value]

    with transaction.atomic():
        for key in changed:
            value = changes[key]
            if value == getattr(environment, key):
                BridgeSetting.objects.filter(key=key).delete()
            else:
                BridgeSetting.objects.update_or_create(
                    key=key, defaults={"value": value}
                )

    if changed:
        logger.info("bridge settings changed: %s", ", ".join(sorted(changed)))
    return changed


# Where protocols.tls looks for an uploaded pair (after BRIDGE_TLS_CERT/KEY).
CUSTOM_CERT_NAME = "custom-cert.pem"
CUSTOM_KEY_NAME = "custom-key.pem"


@dataclass(frozen=True)
class CertificateInfo:
    source: str  # "environment", "uploaded" or "self-signed"
    subject: str
    not_after: datetime.datetime
    sha256: str


def custom_certificate_paths() -> tuple[Path, Path]:
    from protocols.tls import tls_dir

    return tls_dir() / CUSTOM_CERT_NAME, tls_dir() / CUSTOM_KEY_NAME


def install_certificate(certificate_pem: bytes, key_pem: bytes) -> None:
    """Store an uploaded pair for the listeners, replacing any earlier one."""
    cert_path, key_path = custom_certificate_paths()

    # Key first, created 0600 and renamed into place, so no reader ever sees
    # a half-written key or a new certificate next to the old key.
    _write_atomically(key_path, key_pem, mode=0o600)
    _write_atomically(cert_path, certificate_pem, mode=0o644)
    logger.info("custom TLS certificate installed in %s", cert_path.parent)


def remove_certificate() -> bool:
    """Drop the uploaded pair; the self-signed one applies again."""
    removed = False
    for path in custom_certificate_paths():
        if path.exists():
            path.unlink()
            removed = True
    if removed:
        logger.info("custom TLS certificate removed")
    return removed


def has_uploaded_certificate() -> bool:
    return all(path.exists() for path in custom_certificate_paths())


def certificate_pem() -> bytes:
    """The certificate chain mail programs should trust, without any key."""
    from protocols.tls import ensure_certificate

    cert_path, _key_path = ensure_certificate()
    chain = x509.load_pem_x509_certificates(Path(cert_path).read_bytes())
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in chain)


def certificate_info() -> CertificateInfo:
    """Describe the certificate the listeners present (made if missing)."""
    leaf = x509.load_pem_x509_certificate(certificate_pem())
    if settings.BRIDGE_TLS_CERT and settings.BRIDGE_TLS_KEY:
        source = "environment"
    elif has_uploaded_certificate():
        source = "uploaded"
    else:
        source = "self-signed"

    return CertificateInfo(
        source=source,
        subject=leaf.subject.rfc4514_string(),
        not_after=leaf.not_valid_after_utc,
        sha256=leaf.fingerprint(hashes.SHA256()).hex(":").upper(),
    )


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.new")
    # A leftover from a crash would keep its old mode through O_TRUNC.
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
