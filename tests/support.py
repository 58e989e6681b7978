"""Helpers shared by the test suite."""

import asyncio
import os
import shutil
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """Where the team's shared test material (corpus, vectors) lives."""
    configured = os.environ.get("BRIDGE_SHARED_DIR")
    if configured:
        return Path(configured)
    return (REPO_ROOT / ".." / "shared").resolve()


def corpus_files() -> list[Path]:
    """Every real-world message of the shared corpus, in a stable order."""
    corpus = shared_dir() / "corpus"
    return sorted(corpus.glob("*/*.eml"))


def require_program(name: str) -> str:
    """Return the path of an outside program, or skip (fail under CI) without it."""
    path = shutil.which(name) or _sbin_lookup(name)
    if path:
        return path

    message = f"{name} is not installed; install it (see .ci/run) to run this test"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _sbin_lookup(name: str) -> str | None:
    # Debian puts daemons such as dovecot in sbin, which is not on every PATH.
    for folder in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    return None


def bridge_process_env(**extra: str) -> dict[str, str]:
    """Environment for a bridge process (runbridge, celery) started by a test.

    It points the child at the database the test is using (pytest-django's
    test database, not the configured one) and at the same data directory, so
    both sides see the same rows and the same secret key.
    """
    from django.conf import settings
    from django.db import connection

    database = connection.settings_dict
    if database["ENGINE"] == "django.db.backends.sqlite3":
        url = f"sqlite:///{database['NAME']}"
    else:
        user = database.get("USER") or "postgres"
        host = database.get("HOST") or "127.0.0.1"
        port = database.get("PORT") or 5432
        url = f"postgres://{user}@{host}:{port}/{database['NAME']}"

    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        BRIDGE_DATA_DIR=str(settings.DATA_DIR),
        BRIDGE_SECRET_KEY=settings.BRIDGE_SECRET_KEY,
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class LoopThread:
    """An asyncio loop in a daemon thread; ``run`` executes a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def self_signed_pair(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for a test listener, in ``folder``."""
    from protocols import tls

    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    tls._write_self_signed(cert_path, key_path)
    return cert_path, key_path
