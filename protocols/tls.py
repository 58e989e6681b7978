"""The TLS certificate the IMAP and SMTP listeners present.

A person may configure a certificate of their own (BRIDGE_TLS_CERT and
BRIDGE_TLS_KEY, or the dashboard's settings page). Otherwise a self-signed one
is made on first run into DATA/tls/, for 127.0.0.1 and localhost, and made
again when it is about to expire.
"""

import datetime
import fcntl
import ipaddress
import logging
import os
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

logger = logging.getLogger(__name__)

SELF_SIGNED_LIFETIME = datetime.timedelta(days=3650)
RENEW_BEFORE = datetime.timedelta(days=31)


def tls_dir() -> Path:
    path = Path(settings.DATA_DIR) / "tls"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def certificate_paths() -> tuple[Path, Path]:
    """Where the certificate and key in use are (custom ones first)."""
    if settings.BRIDGE_TLS_CERT and settings.BRIDGE_TLS_KEY:
        return Path(settings.BRIDGE_TLS_CERT), Path(settings.BRIDGE_TLS_KEY)

    uploaded_cert, uploaded_key = (
        tls_dir() / "custom-cert.pem",
        tls_dir() / "custom-key.pem",
    )
    if uploaded_cert.exists() and uploaded_key.exists():
        return uploaded_cert, uploaded_key

    return tls_dir() / "cert.pem", tls_dir() / "key.pem"


def ensure_certificate() -> tuple[Path, Path]:
    """Return (certificate, key) paths, making a self-signed pair if needed."""
    cert_path, key_path = certificate_paths()
    if cert_path.parent != tls_dir() or cert_path.name != "cert.pem":
        return cert_path, key_path

    if _usable(cert_path, key_path):
        return cert_path, key_path

    # Several bridge processes may start together on a fresh data directory:
    # the lock makes one of them write the pair and the others use it.
    with open(tls_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _usable(cert_path, key_path):
            logger.info("making a self-signed TLS certificate in %s", cert_path.parent)
            _write_self_signed(cert_path, key_path)
    return cert_path, key_path


def _usable(cert_path: Path, key_path: Path) -> bool:
    return cert_path.exists() and key_path.exists() and not _expires_soon(cert_path)


def server_context() -> ssl.SSLContext:
    """An SSL context for the listeners, TLS 1.2 or newer."""
    cert_path, key_path = ensure_certificate()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    return context


def _expires_soon(cert_path: Path) -> bool:
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    remaining = certificate.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    return remaining < RENEW_BEFORE


def _write_self_signed(cert_path: Path, key_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Mail bridge (self-signed)"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + SELF_SIGNED_LIFETIME)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )

    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Each file appears whole (write then rename), the key never readable by
    # others; the key goes first so a certificate never lacks its key.
    _write_atomically(key_path, key_bytes, 0o600)
    _write_atomically(
        cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644
    )


def _write_atomically(path: Path, content: bytes, mode: int) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
