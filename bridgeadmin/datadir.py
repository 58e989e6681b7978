"""The bridge's data directory and the secrets generated into it on first run.

Everything the embedded default needs on disk lives in one directory: the SQLite
database, the key that encrypts secrets at rest, Django's signing key and the
self-signed TLS certificate. The directory is created with mode 0700 and each
secret file with mode 0600, so only the account running the bridge can read them.
"""

import base64
import os
import secrets
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Return the data directory, private to this user (mode 0700).

    The directory holds the index (addresses, subjects) and the keys that
    open everything else, so it is made private even when it already
    existed with looser permissions.
    """
    configured = os.environ.get("BRIDGE_DATA_DIR")
    path = Path(configured).expanduser() if configured else REPO_ROOT / "data"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path.resolve()


def read_or_create_secret(name: str, nbytes: int = 32) -> str:
    """Return the base64 secret stored in DATA/<name>, generating it once.

    The file is created with O_EXCL so two processes starting together agree on
    one value: the loser of the race reads what the winner wrote.
    """
    path = data_dir() / name
    if not path.exists():
        value = base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).decode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(value + "\n")

    return path.read_text().strip()
