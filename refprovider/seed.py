"""Loading mail into a user's account from .eml files or an mbox.

Two storage shapes, both real: ``import`` stores each message the way the
provider keeps mail imported by a client that encrypts the whole message
(PGP/MIME: the full original encrypted as one armored Body, MIME type
multipart/mixed); ``web`` stores it the way the provider's web app writes
mail (one text/html or text/plain body encrypted alone, each attachment
apart as key packets + data packet).
"""

import logging
import mailbox
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from . import importer, labels, messages, mime, pgp, store, users

logger = logging.getLogger(__name__)

LOCATIONS = {
    "inbox": labels.INBOX,
    "sent": labels.SENT,
    "drafts": labels.DRAFTS,
    "archive": labels.ARCHIVE,
    "spam": labels.SPAM,
    "trash": labels.TRASH,
}
MODES = ("import", "web")


class SeedError(Exception):
    """The seed request cannot be carried out."""


def read_messages(
    *,
    directory: Path | None = None,
    mbox: Path | None = None,
    eml: Iterable[Path] = (),
) -> Iterator[bytes]:
    """Raw messages from a directory of .eml files, an mbox, or single files."""
    if directory is not None:
        for path in sorted(Path(directory).rglob("*.eml")):
            yield path.read_bytes()
    if mbox is not None:
        box = mailbox.mbox(str(mbox), create=False)
        for key in box.iterkeys():
            yield box.get_bytes(key)
    for path in eml:
        yield Path(path).read_bytes()


def _flags_for(location: str) -> int:
    if location == "sent":
        return messages.FLAG_SENT
    if location == "drafts":
        return 0
    return messages.FLAG_RECEIVED


def _time_of(date: str | datetime | int | None) -> int | None:
    if date is None:
        return None
    if isinstance(date, int):
        return date
    if isinstance(date, str):
        date = datetime.fromisoformat(date)
    return int(date.timestamp())


def seed(
    data_dir: Path,
    username: str,
    literals: Iterable[bytes],
    *,
    folder: str | None = None,
    label_names: Iterable[str] = (),
    location: str = "inbox",
    starred: bool = False,
    unread: bool = True,
    date: str | datetime | int | None = None,
    mode: str = "import",
    conn: sqlite3.Connection | None = None,
) -> list[str]:
    """Store messages for a user; return their ids. Each one produces its event."""
    if location not in LOCATIONS:
        raise SeedError(f"unknown location {location!r}")
    if mode not in MODES:
        raise SeedError(f"unknown mode {mode!r}")

    own_connection = conn is None
    conn = conn or store.connect(data_dir)
    try:
        user = users.find_user(conn, username)
        if user is None:
            raise SeedError(f"no user {username!r}")

        label_ids = [LOCATIONS[location]]
        if folder:
            label_ids = [labels.find_or_create_folder_path(conn, user["id"], folder)]
        label_ids += [
            labels.find_or_create_label(conn, user["id"], name) for name in label_names
        ]
        if starred:
            label_ids.append(labels.STARRED)

        flags = _flags_for(location)
        seeded = []
        for literal in literals:
            store_one = _store_imported if mode == "import" else _store_as_web
            seeded.append(
                store_one(conn, user, literal, label_ids, flags, unread, _time_of(date))
            )
    finally:
        if own_connection:
            conn.close()

    logger.info("Seeded %d message(s) for %s (%s mode)", len(seeded), username, mode)
    return seeded


def deliver(
    conn: sqlite3.Connection,
    user: sqlite3.Row,
    literal: bytes,
    label_ids: list[str],
    unread: bool = True,
) -> str:
    """An outside message arriving for a user (stored like imported mail)."""
    return _store_imported(
        conn, user, literal, label_ids, messages.FLAG_RECEIVED, unread, None
    )


def _primary_address(conn: sqlite3.Connection, user: sqlite3.Row) -> sqlite3.Row:
    addresses = users.user_addresses(conn, user["id"])
    if not addresses:
        raise SeedError(f"the user {user['name']!r} has no address")
    return addresses[0]


def _store_imported(
    conn: sqlite3.Connection,
    user: sqlite3.Row,
    literal: bytes,
    label_ids: list[str],
    flags: int,
    unread: bool,
    when: int | None,
) -> str:
    address = _primary_address(conn, user)
    key = users.primary_address_key(conn, address["id"])
    armored = pgp.encrypt_armored(
        literal, key.public_key, signer=(key.private_key, key.passphrase)
    )
    upload = mime.full_encryption_upload(literal, armored)

    try:
        return importer.import_message(
            conn,
            user["id"],
            upload,
            address["id"],
            label_ids,
            flags,
            unread,
            time_override=when,
        )
    except importer.ImportFailure as error:
        raise SeedError(str(error)) from error


def _store_as_web(
    conn: sqlite3.Connection,
    user: sqlite3.Row,
    literal: bytes,
    label_ids: list[str],
    flags: int,
    unread: bool,
    when: int | None,
) -> str:
    address = _primary_address(conn, user)
    key = users.primary_address_key(conn, address["id"])
    signer = (key.private_key, key.passphrase)
    root = mime.parse_entity(literal)
    parts = mime.leaves(root)

    # The web app keeps one body; the first text part is the one it shows.
    bodies = [leaf.entity for leaf in parts if leaf.is_body]
    chosen = bodies[0] if bodies else None
    mime_type = chosen.content_type if chosen is not None else "text/plain"
    if mime_type not in ("text/html", "text/plain"):
        mime_type = "text/plain"
    text = chosen.text() if chosen is not None else ""

    attachments = []
    for leaf in parts:
        if leaf.is_body:
            continue
        data = leaf.entity.decoded_body()
        key_packets, data_packet = pgp.encrypt_split(data, key.public_key)
        disposition = leaf.entity.disposition()
        attachments.append(
            messages.NewAttachment(
                name=leaf.entity.filename() or "attachment.bin",
                mime_type=leaf.entity.content_type,
                disposition=disposition if disposition == "inline" else "attachment",
                key_packets=key_packets,
                data_packet=data_packet,
                content_id=(leaf.entity.get("Content-Id") or "").strip(),
                headers=[
                    [name.lower(), value]
                    for name, value in leaf.entity.fields
                    if name.lower() == "content-id"
                ],
                signature=pgp.sign_detached(data, *signer),
            )
        )

    try:
        placement = importer.resolve_placement(conn, user["id"], label_ids, flags)
    except importer.ImportFailure as error:
        raise SeedError(str(error)) from error

    new = importer.new_message(
        root,
        placement,
        user_id=user["id"],
        address_id=address["id"],
        body=pgp.encrypt_armored(text.encode("utf-8"), key.public_key, signer=signer),
        mime_type=mime_type,
        flags=flags,
        unread=unread,
        when=when,
    )
    with store.transaction(conn):
        return messages.insert_message(conn, new, attachments)
