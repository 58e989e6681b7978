"""Fixtures for the structure tests: a Dovecot loaded with every sample."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mailsync.structure import normalize_crlf
from tests.fixtures.dovecot import DovecotClient, DovecotServer, FetchItem
from tests.support import corpus_files

HERE = Path(__file__).resolve().parent
MAILBOX = "structure-diff"


@dataclass(frozen=True)
class Sample:
    """One message under test: its id, its CRLF bytes."""

    id: str
    message: bytes


def samples() -> list[Sample]:
    """The shared corpus plus the edge cases in tests/structure/messages."""
    found = []
    for path in corpus_files():
        found.append(Sample(f"{path.parent.name}/{path.name}", _load(path)))
    for path in sorted((HERE / "messages").glob("*.eml")):
        found.append(Sample(f"edge/{path.name}", _load(path)))
    return found


def _load(path: Path) -> bytes:
    return normalize_crlf(path.read_bytes())


@dataclass
class DovecotMailbox:
    """Every storable sample APPENDed once; FETCH answers cached per UID."""

    client: DovecotClient
    uids: dict[str, int]
    _cache: dict[tuple[int, str], dict[str, FetchItem]] = field(default_factory=dict)

    def fetch_settled(self, sample: Sample, items: str) -> dict[str, FetchItem]:
        """FETCH items as a long-lived Dovecot mailbox answers them.

        Dovecot caches header fields on the first FETCH that asks for them,
        and a few answers differ between that first, uncached reply and all
        later ones; asking twice compares with the steady state.
        """
        self.fetch(sample, items)
        self._cache.pop((self.uids[sample.id], items))
        return self.fetch(sample, items)

    def fetch(self, sample: Sample, items: str) -> dict[str, FetchItem]:
        key = (self.uids[sample.id], items)
        if key not in self._cache:
            self._cache[key] = self.client.uid_fetch(key[0], items)
        return self._cache[key]


@pytest.fixture(scope="session")
def dovecot_mailbox(dovecot: DovecotServer) -> Iterator[DovecotMailbox]:  # noqa: F811
    client = dovecot.connect()
    client.create(MAILBOX)

    # Dovecot refuses to store an empty message; test_structure covers it.
    uids = {
        sample.id: client.append(MAILBOX, sample.message)
        for sample in samples()
        if sample.message
    }

    client.select(MAILBOX)
    yield DovecotMailbox(client, uids)
    client.close()
