"""Sending a draft with the client's per-recipient packages.

A package holds one encrypted body (its data packet, base64) and, per
recipient, how it is protected: internal recipients get the body's session
key encrypted to their own key (BodyKeyPacket); Clear packages carry the
session key itself (BodyKey) because the provider must send plain mail.
Internal recipients receive a copy in their Inbox made of their key packet
plus the shared data packet, so the provider never sees more than the real
one does. Everything for outside recipients goes to the outbox table, which
the control API shows; for PGP recipients it holds the encrypted message as
it would leave (``Armored``, and for PGP/MIME the whole ``Message``), which
only the recipient's own key opens.
"""

import base64
import binascii
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import api, drafts, events, labels, messages, mime, pgp, store, users
from .auth import authenticated, provider_of

logger = logging.getLogger(__name__)

SCHEME_INTERNAL = 1
SCHEME_ENCRYPTED_OUTSIDE = 2
SCHEME_CLEAR = 4
SCHEME_PGP_INLINE = 8
SCHEME_PGP_MIME = 16
SCHEME_CLEAR_MIME = 32
SCHEMES = {
    SCHEME_INTERNAL,
    SCHEME_ENCRYPTED_OUTSIDE,
    SCHEME_CLEAR,
    SCHEME_PGP_INLINE,
    SCHEME_PGP_MIME,
    SCHEME_CLEAR_MIME,
}
MIME_SCHEMES = {SCHEME_PGP_MIME, SCHEME_CLEAR_MIME}
CLEAR_SCHEMES = {SCHEME_CLEAR, SCHEME_CLEAR_MIME}
KEY_PACKET_SCHEMES = {SCHEME_INTERNAL, SCHEME_PGP_INLINE, SCHEME_PGP_MIME}
ENCRYPTED_OUTSIDE_SCHEMES = {SCHEME_PGP_INLINE, SCHEME_PGP_MIME}


@dataclass
class Recipient:
    email: str
    scheme: int
    signature: int
    body_key_packet: bytes | None
    attachment_key_packets: dict[str, bytes]


@dataclass
class Package:
    mime_type: str
    scheme_bits: int
    body: bytes
    body_key: pgp.SessionKey | None
    attachment_keys: dict[str, pgp.SessionKey]
    recipients: list[Recipient] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


def _b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise api.invalid(f"{name} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise api.invalid(f"{name} is not base64") from error


def _object(value: Any, name: str) -> dict[str, Any]:
    """An optional JSON object keyed by ids; absent or empty reads as {}."""
    if not value:
        return {}
    if not isinstance(value, dict):
        raise api.invalid(f"{name} must be an object")
    return value


def _key_packets(value: Any, name: str) -> bytes:
    """Base64 of one or more key packets (public-key or passphrase ones)."""
    packets = _b64(value, name)
    try:
        tags = [tag for tag, _, _ in pgp.iter_packets(packets)]
    except (pgp.PGPFailure, IndexError) as error:
        raise api.invalid(f"{name} is not OpenPGP data") from error
    if not tags or any(tag not in (pgp.TAG_PKESK, pgp.TAG_SKESK) for tag in tags):
        raise api.invalid(f"{name} must hold key packets only")
    return packets


def _session_key(value: Any, name: str) -> pgp.SessionKey:
    if not isinstance(value, dict):
        raise api.invalid(f"{name} must be an object with Key and Algorithm")
    algorithm = str(value.get("Algorithm") or "").lower()
    if algorithm not in pgp.ALGORITHMS_BY_NAME:
        raise api.invalid(f"{name} has an unknown Algorithm")
    return pgp.SessionKey(algorithm, _b64(value.get("Key"), f"{name}.Key"))


def parse_package(raw: Any, index: int) -> Package:
    where = f"Packages[{index}]"
    if not isinstance(raw, dict):
        raise api.invalid(f"{where} must be an object")

    addresses = raw.get("Addresses")
    if not isinstance(addresses, dict) or not addresses:
        raise api.invalid(f"{where}.Addresses must name at least one recipient")

    mime_type = str(raw.get("MIMEType") or "")
    body = _b64(raw.get("Body"), f"{where}.Body")
    try:
        tags = [tag for tag, _, _ in pgp.iter_packets(body)]
    except (pgp.PGPFailure, IndexError) as error:
        raise api.invalid(f"{where}.Body is not an encrypted data packet") from error
    if tags != [pgp.TAG_SEIPD] and tags != [pgp.TAG_SED] and tags != [pgp.TAG_AEAD]:
        raise api.invalid(f"{where}.Body must be exactly one encrypted data packet")

    body_key = (
        _session_key(raw["BodyKey"], f"{where}.BodyKey") if raw.get("BodyKey") else None
    )
    attachment_keys = {
        attachment_id: _session_key(key, f"{where}.AttachmentKeys")
        for attachment_id, key in _object(
            raw.get("AttachmentKeys"), f"{where}.AttachmentKeys"
        ).items()
    }

    package = Package(
        mime_type=mime_type,
        scheme_bits=api.as_int(raw.get("Type"), f"{where}.Type", default=0),
        body=body,
        body_key=body_key,
        attachment_keys=attachment_keys,
        raw=raw,
    )

    for email, entry in addresses.items():
        recipient = _parse_recipient(where, email, entry)
        if recipient.body_key_packet is not None:
            _check_joins(recipient.email, recipient.body_key_packet, body)
        package.recipients.append(recipient)
    return package


def _check_joins(email: str, key_packet: bytes, body: bytes) -> None:
    """Refuse a key packet that does not make one message with the body."""
    try:
        pgp.join_armored(key_packet, body)
    except pgp.PGPFailure as error:
        raise api.invalid(
            f"BodyKeyPacket of {email} and the Body are not one message"
        ) from error


def _parse_recipient(where: str, email: str, entry: Any) -> Recipient:
    if not isinstance(entry, dict):
        raise api.invalid(f"{where}.Addresses[{email}] must be an object")

    scheme = api.as_int(entry.get("Type"), f"{where}.Addresses[{email}].Type")
    if scheme not in SCHEMES:
        raise api.invalid(f"Unknown encryption scheme {scheme} for {email}")

    key_packet = None
    if entry.get("BodyKeyPacket"):
        key_packet = _key_packets(entry["BodyKeyPacket"], f"BodyKeyPacket of {email}")

    attachment_packets = {
        attachment_id: _key_packets(packet, f"AttachmentKeyPackets of {email}")
        for attachment_id, packet in _object(
            entry.get("AttachmentKeyPackets"), f"AttachmentKeyPackets of {email}"
        ).items()
    }
    return Recipient(
        email=email.strip(),
        scheme=scheme,
        signature=api.as_int(entry.get("Signature"), "Signature", default=0),
        body_key_packet=key_packet,
        attachment_key_packets=attachment_packets,
    )


def validate(
    conn: sqlite3.Connection,
    draft: sqlite3.Row,
    packages: list[Package],
    attachment_ids: list[str],
) -> None:
    """Refuse packages that do not cover the draft's recipients correctly."""
    covered: dict[str, Recipient] = {}

    for package in packages:
        is_mime = package.mime_type == "multipart/mixed"
        for recipient in package.recipients:
            email = recipient.email.lower()
            if email in covered:
                raise api.invalid(f"{recipient.email} appears in more than one package")
            covered[email] = recipient

            if package.scheme_bits and not package.scheme_bits & recipient.scheme:
                raise api.invalid(
                    f"The package Type does not include the scheme of {recipient.email}"
                )
            if (recipient.scheme in MIME_SCHEMES) != is_mime:
                raise api.invalid(
                    f"Scheme {recipient.scheme} of {recipient.email} does not match"
                    f" a {package.mime_type or 'missing'} package"
                )
            if not is_mime and package.mime_type not in drafts.TEXT_TYPES:
                raise api.invalid(
                    "A package MIMEType must be text/plain, text/html"
                    " or multipart/mixed"
                )

            _validate_recipient(conn, package, recipient, attachment_ids, is_mime)

    wanted = []
    for column in ("to_list", "cc_list", "bcc_list"):
        wanted += [entry["Address"] for entry in store.loads(draft[column], [])]
    if not wanted:
        raise api.invalid("The draft has no recipient")

    for email in wanted:
        if email.strip().lower() not in covered:
            raise api.invalid(f"Missing a send package for the recipient {email}")


def _validate_recipient(
    conn: sqlite3.Connection,
    package: Package,
    recipient: Recipient,
    attachment_ids: list[str],
    is_mime: bool,
) -> None:
    email = recipient.email

    if recipient.scheme == SCHEME_INTERNAL:
        address = users.find_address(conn, email)
        if address is None or not address["receive"]:
            raise api.invalid(f"{email} is not an address on this provider")

    if recipient.scheme in KEY_PACKET_SCHEMES and recipient.body_key_packet is None:
        raise api.invalid(f"BodyKeyPacket is required for {email}")

    if recipient.scheme in CLEAR_SCHEMES and package.body_key is None:
        raise api.invalid(f"The package of {email} needs a BodyKey (clear scheme)")

    if is_mime:
        return

    for attachment_id in attachment_ids:
        has_packet = attachment_id in recipient.attachment_key_packets
        has_key = attachment_id in package.attachment_keys
        if recipient.scheme == SCHEME_CLEAR and not has_key:
            raise api.invalid(f"AttachmentKeys lacks attachment {attachment_id}")
        if recipient.scheme in (SCHEME_INTERNAL, SCHEME_PGP_INLINE) and not has_packet:
            raise api.invalid(
                f"AttachmentKeyPackets of {email} lacks attachment {attachment_id}"
            )


def _deliver_internal(
    conn: sqlite3.Connection,
    draft: sqlite3.Row,
    package: Package,
    recipient: Recipient,
    draft_attachments: list[sqlite3.Row],
    now: int,
) -> bool:
    """Put a copy in an internal recipient's Inbox; False if not possible."""
    address = users.find_address(conn, recipient.email)
    if address is None or not address["receive"]:
        return False

    recipient_key = users.primary_address_key(conn, address["id"])
    key_packet = recipient.body_key_packet
    if key_packet is None or recipient.scheme in CLEAR_SCHEMES:
        if package.body_key is None:
            return False
        key_packet = pgp.encrypt_session_key(package.body_key, recipient_key.public_key)

    copies = []
    if package.mime_type != "multipart/mixed":
        for attachment in draft_attachments:
            packet = recipient.attachment_key_packets.get(attachment["id"])
            if packet is None:
                session_key = package.attachment_keys.get(attachment["id"])
                if session_key is None:
                    return False
                packet = pgp.encrypt_session_key(session_key, recipient_key.public_key)
            copies.append(messages.attachment_copy(attachment, packet))

    fields = [
        pair
        for pair in store.loads(draft["parsed_headers"], [])
        if pair[0].lower() != "bcc"
    ]
    new = messages.NewMessage(
        user_id=address["user_id"],
        address_id=address["id"],
        body=pgp.join_armored(key_packet, package.body),
        mime_type=package.mime_type,
        subject=draft["subject"],
        sender=store.loads(draft["sender"], {}),
        to_list=store.loads(draft["to_list"], []),
        cc_list=store.loads(draft["cc_list"], []),
        reply_tos=[store.loads(draft["sender"], {})],
        external_id=draft["external_id"],
        flags=messages.FLAG_RECEIVED | messages.FLAG_INTERNAL | messages.FLAG_E2E,
        time=now,
        unread=True,
        location=labels.INBOX,
        header=drafts.header_text(fields),
        parsed_headers=fields,
    )
    messages.insert_message(conn, new, copies)
    return True


def _outbox_entry(
    draft: sqlite3.Row, package: Package, recipient: Recipient
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Recipient": recipient.email,
        "Type": recipient.scheme,
        "Signature": recipient.signature,
        "MIMEType": package.mime_type,
        "Subject": draft["subject"],
        "Body": base64.b64encode(package.body).decode("ascii"),
        "BodyKeyPacket": (
            base64.b64encode(recipient.body_key_packet).decode("ascii")
            if recipient.body_key_packet
            else None
        ),
        "AttachmentKeyPackets": {
            key: base64.b64encode(packet).decode("ascii")
            for key, packet in recipient.attachment_key_packets.items()
        },
    }
    if recipient.scheme in ENCRYPTED_OUTSIDE_SCHEMES and recipient.body_key_packet:
        # What goes on the wire: the recipient's key packet and the shared
        # data packet as one message, which only the recipient's key opens.
        armored = pgp.join_armored(recipient.body_key_packet, package.body)
        entry["Armored"] = armored
        if recipient.scheme == SCHEME_PGP_MIME:
            fields = store.loads(draft["parsed_headers"], [])
            entry["Message"] = mime.pgp_mime_message(fields, armored).decode("utf-8")
    if recipient.scheme in CLEAR_SCHEMES and package.body_key is not None:
        entry["BodyKey"] = {
            "Key": base64.b64encode(package.body_key.key).decode("ascii"),
            "Algorithm": package.body_key.algorithm,
        }
        entry["AttachmentKeys"] = {
            key: {
                "Key": base64.b64encode(value.key).decode(),
                "Algorithm": value.algorithm,
            }
            for key, value in package.attachment_keys.items()
        }
    return entry


def send_draft(
    conn: sqlite3.Connection, user_id: str, draft_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    raw_packages = body.get("Packages")
    if not isinstance(raw_packages, list) or not raw_packages:
        raise api.invalid("Packages is required")
    packages = [parse_package(raw, index) for index, raw in enumerate(raw_packages)]

    with store.transaction(conn):
        draft = messages.get_draft_row(
            conn, user_id, draft_id, not_a_draft="The message was sent already"
        )

        draft_attachments = conn.execute(
            "SELECT * FROM attachments WHERE message_id = ? ORDER BY seq", (draft_id,)
        ).fetchall()
        validate(conn, draft, packages, [row["id"] for row in draft_attachments])

        now = int(time.time())
        all_internal = all(
            recipient.scheme == SCHEME_INTERNAL
            for package in packages
            for recipient in package.recipients
        )
        flags = draft["flags"] | messages.FLAG_SENT
        if all_internal:
            flags |= messages.FLAG_INTERNAL | messages.FLAG_E2E

        conn.execute(
            "UPDATE messages SET flags = ?, location = ?, time = ?, unread = 0"
            " WHERE id = ?",
            (flags, labels.SENT, now, draft_id),
        )
        events.record(
            conn, user_id, events.KIND_MESSAGE, draft_id, events.ACTION_UPDATE
        )
        _mark_parent(conn, user_id, draft)

        for package in packages:
            for recipient in package.recipients:
                delivered = False
                if recipient.scheme in (SCHEME_INTERNAL, *CLEAR_SCHEMES):
                    delivered = _deliver_internal(
                        conn, draft, package, recipient, draft_attachments, now
                    )
                if not delivered:
                    conn.execute(
                        "INSERT INTO outbox (user_id, message_id, sender, recipient,"
                        " package, created) VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            user_id,
                            draft_id,
                            store.loads(draft["sender"], {}).get("Address", ""),
                            recipient.email,
                            store.dumps(_outbox_entry(draft, package, recipient)),
                            now,
                        ),
                    )

        sent = messages.get_message_row(conn, user_id, draft_id)

    assert sent is not None
    logger.info(
        "Message sent to %d recipient(s)", sum(len(p.recipients) for p in packages)
    )
    return messages.message_json(conn, sent)


def _mark_parent(conn: sqlite3.Connection, user_id: str, draft: sqlite3.Row) -> None:
    if not draft["parent_id"] or draft["draft_action"] is None:
        return

    flag = {
        drafts.ACTION_REPLY: messages.FLAG_REPLIED,
        drafts.ACTION_REPLY_ALL: messages.FLAG_REPLIED_ALL,
        drafts.ACTION_FORWARD: messages.FLAG_FORWARDED,
    }.get(draft["draft_action"])
    parent = messages.get_message_row(conn, user_id, draft["parent_id"])
    if flag is None or parent is None or parent["flags"] & flag:
        return

    conn.execute(
        "UPDATE messages SET flags = ? WHERE id = ?",
        (parent["flags"] | flag, parent["id"]),
    )
    events.record(
        conn, user_id, events.KIND_MESSAGE, parent["id"], events.ACTION_UPDATE_FLAGS
    )


@authenticated()
async def post_send(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = await api.read_json(request)
    sent = send_draft(
        provider.conn, request.state.user_id, request.path_params["message_id"], body
    )
    return api.ok({"Sent": sent})
