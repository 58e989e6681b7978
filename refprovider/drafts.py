"""Drafts: created and updated by the client with a body already encrypted.

A draft has no Received or Sent flag, lives in Drafts (and All Drafts) and
can be changed until it is sent. Its header is made by the provider from the
draft's fields, the way the provider does for mail written in its own apps.
"""

import base64
import binascii
import email.utils
import logging
import sqlite3
import time
from email.header import Header
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import api, events, labels, message_routes, messages, mime, pgp, store
from .auth import authenticated, provider_of

logger = logging.getLogger(__name__)

ACTION_REPLY = 0
ACTION_REPLY_ALL = 1
ACTION_FORWARD = 2
TEXT_TYPES = {"text/plain", "text/html"}


def _address(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise api.invalid(f"{name} must be an object with Name and Address")
    return {
        "Name": api.as_str(value.get("Name"), f"{name}.Name", required=False),
        "Address": api.as_str(value.get("Address"), f"{name}.Address", required=False),
    }


def _address_list(value: Any, name: str) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise api.invalid(f"{name} must be a list")
    return [_address(item, name) for item in value]


def _check_body(body: Any) -> str:
    if not isinstance(body, str):
        raise api.invalid("Body must be an armored encrypted message")
    try:
        pgp.split_message(body)
    except pgp.PGPFailure as error:
        raise api.invalid("Body must be an armored encrypted message") from error
    return body


def _encode_subject(subject: str) -> str:
    if subject.isascii():
        return subject
    return Header(subject, "utf-8").encode()


def draft_header(
    subject: str,
    sender: dict[str, str],
    to_list: list[dict[str, str]],
    cc_list: list[dict[str, str]],
    bcc_list: list[dict[str, str]],
    mime_type: str,
    sent_time: int,
    external_id: str = "",
    in_reply_to: str = "",
) -> list[list[str]]:
    """Header fields the provider writes for mail composed through the API."""
    fields = [["Date", email.utils.formatdate(sent_time, usegmt=True)]]
    if sender.get("Address") or sender.get("Name"):
        fields.append(["From", mime.format_address(sender)])
    for name, addresses in (("To", to_list), ("Cc", cc_list), ("Bcc", bcc_list)):
        if addresses:
            fields.append([name, ", ".join(mime.format_address(a) for a in addresses)])
    fields.append(["Subject", _encode_subject(subject)])
    if external_id:
        fields.append(["Message-Id", f"<{external_id}>"])
    if in_reply_to:
        fields.append(["In-Reply-To", in_reply_to])
        fields.append(["References", in_reply_to])
    fields.append(["MIME-Version", "1.0"])
    fields.append(["Content-Type", f"{mime_type}; charset=utf-8"])
    return fields


def header_text(fields: list[list[str]]) -> str:
    return "".join(f"{name}: {value}\r\n" for name, value in fields)


def _sender_address(
    conn: sqlite3.Connection, user_id: str, sender: dict[str, str]
) -> sqlite3.Row:
    address = conn.execute(
        "SELECT * FROM addresses WHERE user_id = ? AND email = ?",
        (user_id, sender["Address"].strip()),
    ).fetchone()
    if address is None or not address["send"] or address["status"] != 1:
        raise api.invalid("The sender is not an address of this account that can send")
    return address


def _parent_reference(
    conn: sqlite3.Connection, user_id: str, parent_id: str | None
) -> tuple[str | None, str]:
    if not parent_id:
        return None, ""
    parent = messages.get_message_row(conn, user_id, parent_id)
    if parent is None:
        raise api.not_found("The parent message does not exist")
    reference = f"<{parent['external_id']}>" if parent["external_id"] else ""
    return parent_id, reference


def _parent_attachments(
    conn: sqlite3.Connection, parent_id: str | None, key_packets: Any
) -> list[messages.NewAttachment]:
    """Attachments of the parent carried over (a forward), re-keyed by the client.

    The client sends, per parent attachment id, the session key encrypted to
    the draft's address key; the data packet is shared.
    """
    if not parent_id or not isinstance(key_packets, dict):
        return []

    copies = []
    for attachment_id, packet in key_packets.items():
        row = conn.execute(
            "SELECT * FROM attachments WHERE id = ? AND message_id = ?",
            (attachment_id, parent_id),
        ).fetchone()
        if row is None:
            raise api.not_found(f"The parent has no attachment {attachment_id}")
        try:
            key_packet = base64.b64decode(str(packet), validate=True)
        except (binascii.Error, ValueError) as error:
            raise api.invalid("AttachmentKeyPackets must be base64") from error

        copies.append(messages.attachment_copy(row, key_packet))
    return copies


def create_draft(
    conn: sqlite3.Connection, user_id: str, request_body: dict[str, Any]
) -> dict[str, Any]:
    template = request_body.get("Message")
    if not isinstance(template, dict):
        raise api.invalid("Message is required")

    sender = _address(template.get("Sender"), "Sender")
    address = _sender_address(conn, user_id, sender)

    mime_type = template.get("MIMEType") or "text/html"
    if not isinstance(mime_type, str) or mime_type not in TEXT_TYPES:
        raise api.invalid("The MIMEType must be text/plain or text/html")

    body = _check_body(api.as_str(template.get("Body"), "Body"))
    action = api.as_int(request_body.get("Action"), "Action", default=ACTION_REPLY)
    parent_id, reference = _parent_reference(
        conn,
        user_id,
        api.as_str(request_body.get("ParentID"), "ParentID", required=False) or None,
    )

    to_list = _address_list(template.get("ToList"), "ToList")
    cc_list = _address_list(template.get("CCList"), "CCList")
    bcc_list = _address_list(template.get("BCCList"), "BCCList")
    subject = api.as_str(template.get("Subject"), "Subject", required=False)
    external_id = api.as_str(template.get("ExternalID"), "ExternalID", required=False)
    now = int(time.time())

    fields = draft_header(
        subject,
        sender,
        to_list,
        cc_list,
        bcc_list,
        mime_type,
        now,
        external_id,
        reference,
    )
    new = messages.NewMessage(
        user_id=user_id,
        address_id=address["id"],
        body=body,
        mime_type=mime_type,
        subject=subject,
        sender=sender,
        to_list=to_list,
        cc_list=cc_list,
        bcc_list=bcc_list,
        reply_tos=[],
        external_id=external_id,
        flags=0,
        time=now,
        unread=api.as_bool(template.get("Unread") or 0),
        location=labels.DRAFTS,
        header=header_text(fields),
        parsed_headers=fields,
        parent_id=parent_id,
        draft_action=action if parent_id else None,
    )

    with store.transaction(conn):
        copies = _parent_attachments(
            conn, parent_id, request_body.get("AttachmentKeyPackets")
        )
        message_id = messages.insert_message(conn, new, copies)
        row = messages.get_message_row(conn, user_id, message_id)

    assert row is not None
    return messages.message_json(conn, row)


def update_draft(
    conn: sqlite3.Connection, user_id: str, message_id: str, request_body: dict
) -> dict[str, Any]:
    template = request_body.get("Message")
    if not isinstance(template, dict):
        raise api.invalid("Message is required")

    sender = _address(template.get("Sender"), "Sender")
    if not sender["Address"]:
        raise api.invalid("The Sender address is required")

    mime_type = template.get("MIMEType") or ""
    if not isinstance(mime_type, str) or mime_type not in TEXT_TYPES:
        raise api.invalid("The MIMEType must be text/plain or text/html")

    with store.transaction(conn):
        row = messages.get_draft_row(
            conn, user_id, message_id, not_a_draft="Only drafts can be changed"
        )

        address = _sender_address(conn, user_id, sender)
        subject = (
            api.as_str(template.get("Subject"), "Subject", required=False)
            or row["subject"]
        )
        body = _check_body(template.get("Body") or row["body"])

        lists = {}
        for field_name, column in (
            ("ToList", "to_list"),
            ("CCList", "cc_list"),
            ("BCCList", "bcc_list"),
        ):
            if template.get(field_name) is not None:
                lists[column] = _address_list(template.get(field_name), field_name)
            else:
                lists[column] = store.loads(row[column], [])

        external_id = (
            api.as_str(template.get("ExternalID"), "ExternalID", required=False)
            or row["external_id"]
        )
        parent = (
            messages.get_message_row(conn, user_id, row["parent_id"])
            if row["parent_id"]
            else None
        )
        reference = (
            f"<{parent['external_id']}>" if parent and parent["external_id"] else ""
        )
        fields = draft_header(
            subject,
            sender,
            lists["to_list"],
            lists["cc_list"],
            lists["bcc_list"],
            mime_type,
            row["time"],
            external_id,
            reference,
        )

        conn.execute(
            "UPDATE messages SET address_id = ?, subject = ?, sender = ?,"
            " to_list = ?, cc_list = ?, bcc_list = ?, body = ?, mime_type = ?,"
            " external_id = ?, header = ?, parsed_headers = ? WHERE id = ?",
            (
                address["id"],
                subject,
                store.dumps(sender),
                store.dumps(lists["to_list"]),
                store.dumps(lists["cc_list"]),
                store.dumps(lists["bcc_list"]),
                body,
                mime_type,
                external_id,
                header_text(fields),
                store.dumps(fields),
                message_id,
            ),
        )
        events.record(
            conn, user_id, events.KIND_MESSAGE, message_id, events.ACTION_UPDATE
        )
        updated = messages.get_message_row(conn, user_id, message_id)

    assert updated is not None
    return messages.message_json(conn, updated)


@authenticated()
async def post_messages(request: Request) -> JSONResponse:
    """POST /mail/v4/messages: a listing (method override GET) or a new draft."""
    body = await api.read_json(request)
    if request.headers.get("x-http-method-override", "").upper() == "GET":
        return await message_routes.list_route(request, body)

    provider = provider_of(request)
    message = create_draft(provider.conn, request.state.user_id, body)
    return api.ok({"Message": message})


@authenticated()
async def put_draft(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = await api.read_json(request)
    message = update_draft(
        provider.conn, request.state.user_id, request.path_params["message_id"], body
    )
    return api.ok({"Message": message})
