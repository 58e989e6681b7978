"""A real SMTP listener on a free loopback port, in a thread of its own.

The listener runs its own event loop in a background thread, as it does in
``runbridge``; the tests talk to it with smtplib and swaks like any mail
program. Its database work happens in other threads, so tests that use it
need the transactional database (``transactional_db``).
"""

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from protocols.smtp.server import SMTPService, start_smtp

# A linked account on the reference provider, for the send tests.
from tests.fixtures.linked_account import link_account  # noqa: F401
from tests.support import LoopThread, free_port, self_signed_pair

HOST = "127.0.0.1"


@dataclass
class RunningSMTP:
    service: SMTPService
    loop: LoopThread
    cert_path: Path

    @property
    def port(self) -> int:
        return self.service.port

    @property
    def implicit_tls_port(self) -> int:
        return self.service.implicit_tls_port

    def client_tls_context(self) -> ssl.SSLContext:
        """A context that trusts the listener's self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.cert_path))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    """One self-signed certificate for the whole run (RSA keys take a while)."""
    return self_signed_pair(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp_options() -> dict[str, Any]:
    """Extra start_smtp options; override in a module to change them."""
    return {}


@pytest.fixture
def smtp_server(
    transactional_db, settings, tls_files, smtp_options
) -> Iterator[RunningSMTP]:
    cert_path, key_path = tls_files
    settings.BRIDGE_TLS_CERT = str(cert_path)
    settings.BRIDGE_TLS_KEY = str(key_path)
    cache.clear()

    loop = LoopThread()
    service = loop.run(start_smtp(HOST, 0, free_port(), **smtp_options))
    try:
        yield RunningSMTP(service, loop, cert_path)
    finally:
        loop.run(service.stop())
        loop.close()
        cache.clear()
