"""Attachments: uploaded to a draft as key packets + data packet, read back raw."""

import logging
import sqlite3
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import api, events, messages, pgp, store
from .auth import authenticated, provider_of

logger = logging.getLogger(__name__)

MAX_ATTACHMENT_SIZE = 25 * 1024 * 1024 + 1024 * 1024


def _packets_with_tags(data: bytes, tags: set[int], name: str) -> bytes:
    try:
        packets = pgp.iter_packets(data)
    except (pgp.PGPFailure, IndexError) as error:
        raise api.invalid(f"{name} is not OpenPGP data") from error

    if not packets or any(tag not in tags for tag, _, _ in packets):
        raise api.invalid(f"{name} holds the wrong kind of OpenPGP packet")
    return data


def add_attachment(
    conn: sqlite3.Connection,
    user_id: str,
    message_id: str,
    attachment: messages.NewAttachment,
) -> dict[str, Any]:
    if attachment.disposition not in ("inline", "attachment"):
        raise api.invalid("The Disposition only allows 'attachment' or 'inline'")
    if attachment.disposition == "inline" and not attachment.content_id:
        raise api.invalid("The 'inline' Disposition is only allowed with a ContentID")

    with store.transaction(conn):
        messages.get_draft_row(
            conn,
            user_id,
            message_id,
            not_a_draft="Attachments can only be added to drafts",
        )

        attachment_id = messages.insert_attachment(conn, message_id, attachment)
        events.record(
            conn, user_id, events.KIND_MESSAGE, message_id, events.ACTION_UPDATE
        )
        stored = conn.execute(
            "SELECT * FROM attachments WHERE id = ?", (attachment_id,)
        ).fetchone()

    return messages.attachment_json(stored)


async def _field(form: Any, name: str) -> str:
    value = form.get(name)
    if value is None:
        return ""
    if isinstance(value, UploadFile):
        return (await value.read()).decode("utf-8", errors="replace")
    return str(value)


async def _file(form: Any, name: str) -> bytes:
    value = form.get(name)
    if value is None:
        return b""
    if isinstance(value, UploadFile):
        return await value.read()
    return str(value).encode("latin-1", errors="replace")


@authenticated()
async def post_attachment(request: Request) -> JSONResponse:
    provider = provider_of(request)

    async with request.form(max_files=8) as form:
        message_id = await _field(form, "MessageID")
        filename = await _field(form, "Filename")
        mime_type = await _field(form, "MIMEType") or "application/octet-stream"
        disposition = await _field(form, "Disposition") or "attachment"
        content_id = (await _field(form, "ContentID")).strip()
        key_packets = await _file(form, "KeyPackets")
        data_packet = await _file(form, "DataPacket")
        signature = await _file(form, "Signature")

    if not message_id:
        raise api.invalid("MessageID is required")
    if not filename:
        raise api.invalid("Filename is required")
    if not key_packets or not data_packet:
        raise api.invalid("KeyPackets and DataPacket are required")
    if len(data_packet) > MAX_ATTACHMENT_SIZE:
        raise api.invalid("The attachment is too large")

    _packets_with_tags(key_packets, {pgp.TAG_PKESK, pgp.TAG_SKESK}, "KeyPackets")
    _packets_with_tags(
        data_packet, {pgp.TAG_SEIPD, pgp.TAG_SED, pgp.TAG_AEAD}, "DataPacket"
    )

    armored_signature = ""
    if signature:
        try:
            armored_signature = pgp.armor_signature(pgp.signature_binary(signature))
        except pgp.PGPFailure as error:
            raise api.invalid("Signature is not an OpenPGP signature") from error

    headers = []
    if content_id:
        bracketed = content_id if content_id.startswith("<") else f"<{content_id}>"
        headers.append(["content-id", bracketed])

    attachment = add_attachment(
        provider.conn,
        request.state.user_id,
        message_id,
        messages.NewAttachment(
            name=filename,
            mime_type=mime_type,
            disposition=disposition,
            key_packets=key_packets,
            data_packet=data_packet,
            content_id=content_id,
            headers=headers,
            signature=armored_signature,
        ),
    )
    return api.ok({"Attachment": attachment})


@authenticated()
async def get_attachment(request: Request) -> Response:
    provider = provider_of(request)
    row = provider.conn.execute(
        "SELECT attachments.data_packet FROM attachments"
        " JOIN messages ON messages.id = attachments.message_id"
        " WHERE attachments.id = ? AND messages.user_id = ?",
        (request.path_params["attachment_id"], request.state.user_id),
    ).fetchone()
    if row is None:
        raise api.not_found("Attachment does not exist")

    return Response(bytes(row["data_packet"]), media_type="application/octet-stream")
