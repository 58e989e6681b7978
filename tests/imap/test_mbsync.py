"""mbsync (Debian's isync) mirrors the bridge into a Maildir and back.

Real-world messages are seeded into the reference provider in several
places, synced into the bridge, and mirrored by mbsync over IMAP: every
mailbox arrives, every message equals what was seeded, a second run changes
nothing, and a flag set in the Maildir reaches the provider.
"""

import re
import subprocess
from pathlib import Path

import pytest

from mailsync.models import STARRED, MailboxEntry
from mailsync.structure import normalize_crlf
from mailsync.sync import first_sync
from tests.support import corpus_files, require_program

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SELECTABLE = [
    "INBOX",
    "Drafts",
    "Sent",
    "Starred",
    "Archive",
    "Spam",
    "Trash",
    "All Mail",
    "Folders/Work",
    "Labels/Red",
]


def corpus_sample(count: int) -> list[bytes]:
    """A spread of corpus messages Dovecot-style servers store unchanged."""
    files = corpus_files()
    step = max(1, len(files) // count)
    picked = [path.read_bytes() for path in files[::step]]
    return [raw for raw in picked if raw.strip()][:count]


def mbsync_config(root: Path, port: int, email: str, password: str) -> Path:
    (root / "mail").mkdir()
    config = root / "mbsyncrc"
    config.write_text(
        f"""\
IMAPAccount bridge
Host 127.0.0.1
Port {port}
User {email}
Pass "{password}"
SSLType None
AuthMechs LOGIN

IMAPStore bridge-far
Account bridge

MaildirStore local-near
Path {root}/mail/
Inbox {root}/mail/INBOX
SubFolders Verbatim

Channel bridge
Far :bridge-far:
Near :local-near:
Patterns *
Create Near
SyncState *
"""
    )
    return config


def run_mbsync(config: Path) -> str:
    binary = require_program("mbsync")
    result = subprocess.run(
        [binary, "-c", str(config), "-V", "bridge"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    with (config.parent / "mbsync.log").open("a") as log:
        log.write(output)
    assert result.returncode == 0, output[-4000:]
    return output


def without_tuid(message: bytes) -> bytes:
    """The message without the X-TUID line mbsync writes into its copies."""
    return re.sub(rb"(?m)^X-TUID: [^\r\n]*\r\n", b"", message, count=1)


def maildir_messages(folder: Path) -> dict[str, bytes]:
    """Message files by name (which carries the flags), in cur/ and new/."""
    found = {}
    for sub in ("cur", "new"):
        for path in sorted((folder / sub).glob("*")):
            found[f"{sub}/{path.name}"] = path.read_bytes()
    return found


def bridge_state(account) -> set[tuple]:
    """Every entry of the account with its flags, as the index keeps them."""
    rows = MailboxEntry.objects.filter(mailbox__account=account).values_list(
        "mailbox__name",
        "uid",
        "deleted",
        "keywords",
        "message__unread",
        "message__label_ids",
    )
    return {tuple(map(str, row)) for row in rows}


def test_mbsync_mirrors_the_bridge(imap_server, link_account, refprovider, tmp_path):
    require_program("mbsync")
    linked = link_account()
    name = linked.user.name
    sample = corpus_sample(12)
    inbox = sample[:5]
    refprovider.seed(name, inbox)
    refprovider.seed(name, sample[5:8], folder="Work")
    refprovider.seed(name, sample[8:10], labels=["Red"], location="archive")
    refprovider.seed(name, sample[10:], location="sent")
    first_sync(linked.account.pk)
    config = mbsync_config(
        tmp_path, imap_server.port, linked.email, linked.bridge_password
    )

    run_mbsync(config)

    mail = tmp_path / "mail"
    for mailbox in SELECTABLE:
        assert (mail / mailbox / "cur").is_dir(), mailbox
    mirrored = {
        without_tuid(normalize_crlf(raw))
        for raw in maildir_messages(mail / "All Mail").values()
    }
    assert mirrored == {normalize_crlf(raw) for raw in sample}
    assert len(maildir_messages(mail / "INBOX")) == len(inbox)
    assert len(maildir_messages(mail / "Folders" / "Work")) == 3
    assert len(maildir_messages(mail / "Labels" / "Red")) == 2

    near_before = {name: maildir_messages(mail / name) for name in SELECTABLE}
    far_before = bridge_state(linked.account)
    run_mbsync(config)
    near_after = {name: maildir_messages(mail / name) for name in SELECTABLE}
    assert near_after == near_before
    assert bridge_state(linked.account) == far_before


def test_a_flag_set_in_the_maildir_reaches_the_provider(
    imap_server, link_account, refprovider, tmp_path
):
    require_program("mbsync")
    linked = link_account()
    (message_id,) = refprovider.seed(linked.user.name, corpus_sample(1))
    first_sync(linked.account.pk)
    config = mbsync_config(
        tmp_path, imap_server.port, linked.email, linked.bridge_password
    )
    run_mbsync(config)

    inbox = tmp_path / "mail" / "INBOX"
    (path,) = list((inbox / "new").glob("*")) + list((inbox / "cur").glob("*"))
    unique, _, flags = path.name.partition(":2,")
    assert "S" not in flags
    # Read and flagged in the mail program: Maildir keeps that in the name.
    path.rename(inbox / "cur" / f"{unique}:2,FS")
    run_mbsync(config)

    api = refprovider.login(linked.user.name, linked.user.password)
    stored = api.get(f"mail/v4/messages/{message_id}").json()["Message"]
    assert stored["Unread"] == 0
    assert STARRED in stored["LabelIDs"]
