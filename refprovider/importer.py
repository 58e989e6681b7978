"""Message import: the client's encrypted upload becomes a stored message.

A client uploads each message as MIME whose parts are already encrypted to the
address key: text parts as armored PGP, other parts as base64 of binary PGP.
A message the client could not encrypt part by part arrives as PGP/MIME
(multipart/encrypted) with the whole original inside. The provider keeps the
first text part as the Body (the PGP/MIME payload for the latter, with MIME
type multipart/mixed) and every other leaf as an attachment split into key
packets and a data packet.
"""

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse

from . import api, labels, messages, mime, pgp, store, users
from .auth import authenticated, provider_of

logger = logging.getLogger(__name__)

MAX_MESSAGES_PER_REQUEST = 10
MAX_MESSAGE_SIZE = 50 * 1024 * 1024
MAX_REQUEST_SIZE = 70 * 1024 * 1024
MAX_MULTIPART_PARTS = 64


class ImportFailure(Exception):
    """One message of an import cannot be stored."""


@dataclass
class Placement:
    """Where a message goes: its location, the Starred bit, type-1 labels."""

    location: str | None
    starred: bool
    label_ids: list[str]


def resolve_placement(
    conn: sqlite3.Connection, user_id: str, label_ids: list[str], flags: int
) -> Placement:
    location = None
    starred = False
    custom: list[str] = []
    exclusive = 0

    for label_id in label_ids:
        if label_id in labels.DERIVED_LABELS:
            raise ImportFailure(f"invalid label ID: {label_id}")

        kind = labels.label_kind(conn, user_id, label_id)
        if kind is None:
            raise ImportFailure(f"invalid label ID: {label_id}")

        if label_id == labels.STARRED:
            starred = True
        elif kind == labels.TYPE_LABEL:
            custom.append(label_id)
        else:
            exclusive += 1
            location = label_id
            if label_id in (labels.INBOX, labels.SENT, labels.DRAFTS):
                location = messages.home_location(flags)

    if exclusive > 1:
        raise ImportFailure("too many exclusive labels")
    return Placement(location, starred, custom)


@dataclass
class UploadedMessage:
    header: mime.Entity
    body: str | None
    mime_type: str
    attachments: list[messages.NewAttachment]


def _armored(entity: mime.Entity) -> str:
    data = entity.decoded_body()
    if data.lstrip().startswith(b"-----BEGIN PGP MESSAGE"):
        return data.decode("ascii", errors="replace").strip() + "\n"
    return pgp.join_armored(*pgp.split_message(data))


def _attachment(entity: mime.Entity) -> messages.NewAttachment:
    key_packets, data_packet = pgp.split_message(entity.decoded_body())

    name = entity.filename()
    if not name:
        name = (
            "message.eml"
            if entity.content_type == "message/rfc822"
            else ("attachment.bin")
        )

    disposition = entity.disposition()
    if disposition not in ("inline", "attachment"):
        disposition = "attachment"

    skipped = {"content-type", "content-disposition", "content-transfer-encoding"}
    headers = [
        [field_name.lower(), value]
        for field_name, value in entity.fields
        if field_name.lower() not in skipped
    ]

    return messages.NewAttachment(
        name=name,
        mime_type=entity.content_type,
        disposition=disposition,
        key_packets=key_packets,
        data_packet=data_packet,
        content_id=(entity.get("Content-Id") or "").strip(),
        headers=headers,
    )


def parse_upload(literal: bytes) -> UploadedMessage:
    root = mime.parse_entity(literal)
    bodies: list[tuple[str, str]] = []
    attachments: list[messages.NewAttachment] = []
    walked = 0

    def walk(entity: mime.Entity) -> None:
        nonlocal walked
        walked += 1
        if walked > MAX_MULTIPART_PARTS * 16:
            raise ImportFailure("the message has too many parts")

        if entity.main_type == "multipart":
            children = entity.children()
            if entity.sub_type == "encrypted":
                if len(children) != 2:
                    raise ImportFailure(
                        "multipart/encrypted needs exactly two parts,"
                        f" got {len(children)}"
                    )
                bodies.append(("multipart/mixed", _armored(children[1])))
                return
            for child in children:
                walk(child)
            return

        if entity.main_type == "text":
            bodies.append((entity.content_type, _armored(entity)))
            return

        attachments.append(_attachment(entity))

    try:
        walk(root)
    except pgp.PGPFailure as error:
        raise ImportFailure(f"a part is not encrypted OpenPGP: {error}") from error

    if not bodies:
        return UploadedMessage(root, None, "text/plain", attachments)

    # One text part names the type; several mean the provider keeps the first
    # under multipart/mixed.
    mime_type = bodies[0][0] if len(bodies) == 1 else "multipart/mixed"
    return UploadedMessage(root, bodies[0][1], mime_type, attachments)


def new_message(
    header: mime.Entity,
    placement: Placement,
    *,
    user_id: str,
    address_id: str,
    body: str,
    mime_type: str,
    flags: int,
    unread: bool,
    when: int | None,
) -> messages.NewMessage:
    """A message to store, its subject, addresses and date read from ``header``.

    ``when`` overrides the Date field; without either, the message is new now.
    """
    envelope = mime.envelope_of(header)
    return messages.NewMessage(
        user_id=user_id,
        address_id=address_id,
        body=body,
        mime_type=mime_type,
        subject=envelope.subject,
        sender=envelope.sender,
        to_list=envelope.to_list,
        cc_list=envelope.cc_list,
        bcc_list=envelope.bcc_list,
        reply_tos=envelope.reply_tos,
        external_id=envelope.external_id,
        flags=flags,
        time=when or envelope.time or int(time.time()),
        unread=unread,
        location=placement.location,
        starred=placement.starred,
        label_ids=placement.label_ids,
        header=header.header_bytes.decode("utf-8", errors="replace"),
        parsed_headers=header.fields,
    )


def import_message(
    conn: sqlite3.Connection,
    user_id: str,
    literal: bytes,
    address_id: str,
    label_ids: list[str],
    flags: int,
    unread: bool,
    *,
    time_override: int | None = None,
) -> str:
    """Store one encrypted upload; return the new message id."""
    if len(literal) > MAX_MESSAGE_SIZE:
        raise ImportFailure("message exceeds maximum import size of 50MB")

    address = conn.execute(
        "SELECT * FROM addresses WHERE id = ? AND user_id = ?", (address_id, user_id)
    ).fetchone()
    if address is None:
        raise ImportFailure("invalid address ID")

    placement = resolve_placement(conn, user_id, label_ids, flags)
    upload = parse_upload(literal)

    body = upload.body
    if body is None:
        # A message of attachments only gets an empty body.
        key = users.primary_address_key(conn, address_id)
        body = pgp.encrypt_armored(b"", key.public_key)

    new = new_message(
        upload.header,
        placement,
        user_id=user_id,
        address_id=address_id,
        body=body,
        mime_type=upload.mime_type,
        flags=flags | messages.FLAG_IMPORTED,
        unread=unread,
        when=time_override,
    )

    with store.transaction(conn):
        return messages.insert_message(conn, new, upload.attachments)


def _metadata_of(raw: Any) -> dict[str, Any]:
    try:
        metadata = json.loads(raw)
    except (TypeError, ValueError) as error:
        raise api.APIError(400, api.INVALID_VALUE, "Metadata is not JSON") from error
    if not isinstance(metadata, dict):
        raise api.APIError(400, api.INVALID_VALUE, "Metadata must be an object")
    return metadata


@authenticated()
async def post_import(request: Request) -> JSONResponse:
    provider = provider_of(request)
    length = int(request.headers.get("content-length") or 0)
    if length > MAX_REQUEST_SIZE:
        raise api.APIError(413, api.INVALID_VALUE, "The import request is too large")

    async with request.form(max_files=MAX_MESSAGES_PER_REQUEST * 2) as form:
        metadata_raw = form.get("Metadata")
        if metadata_raw is None:
            raise api.invalid("Metadata is required")
        if isinstance(metadata_raw, UploadFile):
            metadata_raw = (await metadata_raw.read()).decode("utf-8", "replace")
        metadata = _metadata_of(metadata_raw)

        uploads: list[tuple[str, bytes]] = []
        for name, value in form.multi_items():
            if name == "Metadata":
                continue
            if isinstance(value, UploadFile):
                uploads.append((name, await value.read()))
            else:
                uploads.append((name, value.encode("utf-8")))

    if not uploads:
        raise api.invalid("No message to import")
    if len(uploads) > MAX_MESSAGES_PER_REQUEST:
        raise api.invalid(
            f"At most {MAX_MESSAGES_PER_REQUEST} messages can be imported at once"
        )

    responses = []
    for name, literal in uploads:
        responses.append(
            {
                "Name": name,
                "Response": _import_one(
                    provider, request, name, literal, metadata.get(name)
                ),
            }
        )

    return api.multi(responses)


def _import_one(
    provider: Any, request: Request, name: str, literal: bytes, metadata: Any
) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        return {"Code": api.INVALID_VALUE, "Error": f"No metadata for {name}"}

    try:
        message_id = import_message(
            provider.conn,
            request.state.user_id,
            literal,
            api.as_str(metadata.get("AddressID"), "AddressID"),
            api.as_str_list(metadata.get("LabelIDs"), "LabelIDs"),
            api.as_int(metadata.get("Flags"), "Flags", default=0, minimum=0),
            api.as_bool(metadata.get("Unread") or 0),
        )
    except (ImportFailure, api.APIError) as error:
        logger.info("Import of part %s refused: %s", name, error)
        return {"Code": api.INVALID_VALUE, "Error": f"failed to import: {error}"}

    return {"Code": api.SUCCESS, "MessageID": message_id}
