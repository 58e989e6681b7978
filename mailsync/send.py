"""Sending a message a mail program submitted, through the provider.

The steps, in order:

1. parse the raw message: body (HTML preferred, else plain text), inline
   images and attachments, recipients (Bcc are the envelope recipients that
   no header names);
2. check that every From address may send for this login (one From field);
3. create a draft encrypted to the sending address's key, threaded under its
   parent (found by the In-Reply-To/References Message-IDs);
4. upload each attachment: key packet, data packet, detached signature;
5. look up each recipient's public keys and build one package per scheme:
   internal recipients get the session keys encrypted to their keys, external
   ones without keys a clear package whose session keys the provider uses,
   external ones with keys a PGP/MIME package of the whole message;
6. send the draft. Only then is the message sent.

Whatever fails after step 3 deletes the draft, so a failed send leaves
nothing behind. A message submitted twice to the same recipients within
``sendrecorder.RECORD_SECONDS`` is sent once.

Nothing here knows SMTP: errors are :class:`SendFailed` with a ``kind``, a
``transient`` flag and a sentence for a person; the SMTP handler turns them
into replies.
"""

import asyncio
import email
import email.policy
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage, Message
from typing import Any, cast

from mailsync import sendrecorder
from mailsync.provider import pgp
from mailsync.provider.errors import (
    CryptoError,
    InvalidResponse,
    NetworkError,
    ProviderError,
    RateLimited,
    ServerUnavailable,
    SessionRevoked,
    ValidationError,
)
from mailsync.provider.types import (
    DRAFT_FORWARD,
    DRAFT_REPLY,
    FLAG_RECEIVED,
    FLAG_SENT,
    SCHEME_CLEAR,
    SCHEME_INTERNAL,
    SCHEME_PGP_MIME,
    SIGNATURE_NONE,
    DraftTemplate,
    EmailAddress,
)

logger = logging.getLogger(__name__)

INTERNAL_ID_DOMAIN = "protonmail.internalid"

# How long a second submission of a message waits for the first one to
# finish before it is told to try again later.
DUPLICATE_WAIT_SECONDS = 60.0
DUPLICATE_POLL_SECONDS = 0.5

# Public key flags: bit 2 marks a key that may encrypt.
KEY_FLAG_ENCRYPT = 2

_POLICY = email.policy.default
_ADDRESS_HEADERS = {"from", "sender", "to", "cc", "bcc", "reply-to"}


class SendFailed(Exception):
    """The message was not sent; ``str()`` is a sentence for a person.

    ``kind`` says what was wrong: "sender", "recipient", "message",
    "provider", "session" or "duplicate". ``transient`` says whether sending
    the same message again later may work.
    """

    def __init__(self, message: str, *, kind: str, transient: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.transient = transient


@dataclass
class OutgoingAttachment:
    filename: str
    mime_type: str
    data: bytes
    disposition: str = "attachment"
    content_id: str = ""


@dataclass
class OutgoingMessage:
    """What the provider needs from a submitted message."""

    sender: EmailAddress | None
    subject: str
    to_list: list[EmailAddress]
    cc_list: list[EmailAddress]
    bcc_list: list[EmailAddress]
    body: str
    mime_type: str
    attachments: list[OutgoingAttachment] = field(default_factory=list)
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    forwarded_message_id: str = ""
    # The whole message without Bcc, for PGP/MIME recipients.
    mime_body: bytes = b""
    # Every address of the From field(s), and how many From fields there are:
    # PGP/MIME recipients see these headers as written, so all must be ours.
    authors: list[EmailAddress] = field(default_factory=list)
    from_fields: int = 0


@dataclass(frozen=True)
class SendResult:
    """The provider's ID of the sent message; ``duplicate`` if sent before."""

    message_id: str
    duplicate: bool = False


# -- parsing -------------------------------------------------------------------


def parse_message(
    raw: bytes, envelope_recipients: Iterable[str] = ()
) -> OutgoingMessage:
    """Read a raw RFC 822 message into what the provider needs.

    Recipients named in To or Cc but absent from the envelope are dropped;
    envelope recipients no header names become Bcc.
    """
    message = cast(EmailMessage, email.message_from_bytes(raw, policy=_POLICY))
    headers = _decoded_headers(message)

    envelope = [r.strip() for r in envelope_recipients if r.strip()]
    wanted = {r.lower() for r in envelope}

    def listed(name: str) -> list[EmailAddress]:
        found = _addresses(headers.get(name, []))
        if not envelope:
            return found
        return [a for a in found if a.address.lower() in wanted]

    to_list, cc_list, bcc_list = listed("to"), listed("cc"), listed("bcc")
    named = {a.address.lower() for a in (*to_list, *cc_list, *bcc_list)}
    for recipient in envelope:
        if recipient.lower() not in named:
            bcc_list.append(EmailAddress(recipient))
            named.add(recipient.lower())

    authors = _addresses(headers.get("from", []))
    senders = authors or _addresses(headers.get("sender", []))

    collector = _PartCollector()
    collector.visit(message)

    return OutgoingMessage(
        sender=senders[0] if senders else None,
        subject=" ".join(" ".join(headers.get("subject", [])).split()),
        to_list=to_list,
        cc_list=cc_list,
        bcc_list=bcc_list,
        body=collector.body_text(),
        mime_type=collector.body_type(),
        attachments=collector.attachments,
        message_id=_first_message_id(headers.get("message-id", [])),
        in_reply_to=_first_message_id(headers.get("in-reply-to", [])),
        references=_message_ids(headers.get("references", [])),
        forwarded_message_id=_first_message_id(
            headers.get("x-forwarded-message-id", [])
        ),
        mime_body=_without_bcc(raw),
        authors=authors,
        from_fields=len(headers.get("from", [])),
    )


def _decoded_headers(message: Message) -> dict[str, list[str]]:
    """Header values as text, whether encoded-words or raw UTF-8 (SMTPUTF8)."""
    headers: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        text = _undo_surrogates(str(value))
        if name.lower() not in _ADDRESS_HEADERS:
            # Address fields stay raw: ``_addresses`` parses them itself.
            try:
                text = str(_POLICY.header_factory(name, text))
            except (ValueError, TypeError, IndexError):
                pass
        headers.setdefault(name.lower(), []).append(text)
    return headers


def _undo_surrogates(text: str) -> str:
    # The bytes parser keeps 8-bit header bytes as surrogate escapes.
    if not any("\udc80" <= char <= "\udcff" for char in text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _addresses(values: list[str]) -> list[EmailAddress]:
    found: list[EmailAddress] = []
    for value in values:
        try:
            header = _POLICY.header_factory("to", value)
        except (ValueError, TypeError, IndexError):
            continue
        for address in getattr(header, "addresses", ()):
            found.append(_email_address(address))
    return [a for a in found if a.address]


def _email_address(address: HeaderAddress) -> EmailAddress:
    if address.username and address.domain:
        spec = f"{address.username}@{address.domain}"
    else:
        spec = address.addr_spec
    return EmailAddress(address=spec.strip(), name=address.display_name or "")


def _message_ids(values: list[str]) -> list[str]:
    ids: list[str] = []
    for value in values:
        for token in value.replace(",", " ").split():
            token = token.strip().strip("<>").strip()
            if "@" in token:
                ids.append(token)
    return ids


def _first_message_id(values: list[str]) -> str:
    ids = _message_ids(values)
    return ids[0] if ids else ""


def _without_bcc(raw: bytes) -> bytes:
    """The message with its Bcc field removed and CRLF line ends."""
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    end = raw.find(b"\r\n\r\n")
    header, body = (raw, b"") if end < 0 else (raw[: end + 2], raw[end + 2 :])

    kept: list[bytes] = []
    skipping = False
    for line in header.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith(b"bcc:")
        if not skipping:
            kept.append(line)
    return b"\r\n".join(kept) + body


class _PartCollector:
    """Walks a MIME tree: picks the body, gathers attachments and images."""

    def __init__(self) -> None:
        self.html: list[str] = []
        self.plain: list[str] = []
        self.attachments: list[OutgoingAttachment] = []

    def body_type(self) -> str:
        return "text/html" if self.html else "text/plain"

    def body_text(self) -> str:
        if self.html:
            return "".join(self.html)
        return "\n".join(self.plain)

    def visit(self, part: EmailMessage) -> None:
        content_type = part.get_content_type()
        children = _children(part)

        if content_type == "multipart/alternative" and children:
            self._visit_alternative(children)
        elif children and content_type != "message/rfc822":
            for child in children:
                self.visit(child)
        elif part.is_multipart() or self._is_body(part):
            # A multipart whose boundary is missing or broken reads as text.
            text = _text_of(part)
            if part.get_content_subtype() == "html":
                self.html.append(text)
            else:
                self.plain.append(text)
        else:
            self.attachments.append(_attachment(part, len(self.attachments) + 1))

    def _visit_alternative(self, children: list[EmailMessage]) -> None:
        # Keep the richest alternative the provider can take; the provider
        # makes its own plain-text version.
        best = children[0]
        for child in children:
            if _holds_html(child):
                best = child
        self.visit(best)

    def _is_body(self, part: EmailMessage) -> bool:
        if part.get_content_maintype() != "text":
            return False
        if part.get_content_subtype() not in ("plain", "html"):
            return False
        if part.get_content_disposition() == "attachment" or part.get_filename():
            return False
        # A second body of the other kind (plain after HTML) is kept as an
        # attachment rather than mixed into the first.
        if part.get_content_subtype() == "plain" and self.html:
            return False
        return not (part.get_content_subtype() == "html" and self.plain)


def payload_bytes(part: Message) -> bytes:
    """A leaf part's body with its transfer encoding undone."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _children(part: EmailMessage) -> list[EmailMessage]:
    if not part.is_multipart():
        return []
    payload = part.get_payload()
    if not isinstance(payload, list):
        return []
    return [child for child in payload if isinstance(child, EmailMessage)]


def _holds_html(part: EmailMessage) -> bool:
    if part.get_content_type() == "text/html":
        return True
    return any(_holds_html(child) for child in _children(part))


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        content = None
    if isinstance(content, str):
        return content.replace("\r\n", "\n")

    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload()).encode("utf-8", "surrogateescape")
    return payload.decode("utf-8", "replace").replace("\r\n", "\n")


def _attachment(part: EmailMessage, number: int) -> OutgoingAttachment:
    content_type = part.get_content_type()
    if content_type == "message/rfc822":
        inner = _children(part)
        data = inner[0].as_bytes() if inner else b""
    else:
        data = payload_bytes(part)

    content_id = str(part.get("Content-ID", "") or "").strip().strip("<>").strip()
    disposition = part.get_content_disposition()
    if disposition == "inline" and not content_id:
        # The provider cannot place an inline part without a Content-ID.
        disposition = "attachment"
    elif disposition not in ("inline", "attachment"):
        disposition = "inline" if content_id else "attachment"

    filename = part.get_filename() or ""
    if filename:
        filename = _undo_surrogates(filename)
    else:
        filename = _default_filename(content_type, number)

    return OutgoingAttachment(
        filename=filename,
        mime_type=content_type,
        data=data,
        disposition=disposition,
        content_id=content_id,
    )


def _default_filename(content_type: str, number: int) -> str:
    extensions = {
        "text/plain": "txt",
        "text/html": "html",
        "message/rfc822": "eml",
        "image/png": "png",
        "image/jpeg": "jpg",
        "image/gif": "gif",
    }
    return f"attachment-{number}.{extensions.get(content_type, 'bin')}"


# -- sender check ---------------------------------------------------------------


def strip_plus_alias(address: str) -> str:
    """``name+tag@domain`` -> ``name@domain``: the address that owns it."""
    local, at, domain = address.partition("@")
    if not at:
        return address
    return f"{local.split('+', 1)[0]}@{domain}"


def find_sending_address(addresses: Iterable[Any], email_address: str) -> Any | None:
    """The provider address (``email``, ``enabled``, ``send``) for a sender."""
    wanted = {email_address.strip().lower(), strip_plus_alias(email_address).lower()}
    for address in addresses:
        if address.email.strip().lower() in wanted:
            return address
    return None


# -- sending --------------------------------------------------------------------


async def send_message(
    client: Any,
    unlocked: Any,
    *,
    account_key: Any,
    mail_from: str,
    recipients: list[str],
    raw: bytes,
    allowed_senders: Iterable[str] | None = None,
    split_address_id: str = "",
) -> SendResult:
    """Send ``raw`` from ``mail_from`` to ``recipients``; raise SendFailed.

    ``client`` is the account's ProviderClient and ``unlocked`` its
    UnlockedAccount. ``allowed_senders`` narrows who may send (split mode:
    the one address logged in); ``split_address_id`` limits the parent
    lookup to that address. ``account_key`` identifies the account in the
    send records.
    """
    if not recipients:
        raise SendFailed(
            "The message has no recipients.", kind="recipient", transient=False
        )

    digest = await asyncio.to_thread(sendrecorder.message_hash, raw)
    earlier = await _claim(account_key, digest, recipients)
    if earlier:
        logger.info("message already sent as %s; not sending again", earlier)
        return SendResult(earlier, duplicate=True)

    attempt = _Attempt()
    try:
        message_id = await _send(
            client,
            unlocked,
            attempt,
            mail_from=mail_from,
            recipients=recipients,
            raw=raw,
            allowed_senders=allowed_senders,
            split_address_id=split_address_id,
        )
    except BaseException:
        if attempt.sent_id:
            # Cut short after the message left: a retry must not send again.
            await asyncio.to_thread(
                sendrecorder.finish_send,
                account_key,
                digest,
                recipients,
                attempt.sent_id,
            )
        else:
            await asyncio.to_thread(
                sendrecorder.release_send, account_key, digest, recipients
            )
        raise

    await asyncio.to_thread(
        sendrecorder.finish_send, account_key, digest, recipients, message_id
    )
    return SendResult(message_id)


async def _claim(account_key: Any, digest: str, recipients: list[str]) -> str:
    """Claim the send; the earlier message ID if it was sent already."""
    waited = 0.0
    while True:
        holder = await asyncio.to_thread(
            sendrecorder.claim_send, account_key, digest, recipients
        )
        if holder is None:
            return ""
        if holder != sendrecorder.PENDING:
            return holder
        if waited >= DUPLICATE_WAIT_SECONDS:
            raise SendFailed(
                "The same message is being sent right now; try again in a minute.",
                kind="duplicate",
                transient=True,
            )
        await asyncio.sleep(DUPLICATE_POLL_SECONDS)
        waited += DUPLICATE_POLL_SECONDS


@dataclass
class _Attempt:
    """What one send did; ``sent_id`` is set once the message surely left."""

    sent_id: str = ""


async def _send(
    client: Any,
    unlocked: Any,
    attempt: _Attempt,
    *,
    mail_from: str,
    recipients: list[str],
    raw: bytes,
    allowed_senders: Iterable[str] | None,
    split_address_id: str,
) -> str:
    try:
        outgoing = await asyncio.to_thread(parse_message, raw, recipients)
    except Exception as exc:
        # The parser has no error type of its own; any failure means the same.
        logger.warning("cannot parse a submitted message: %s", type(exc).__name__)
        raise SendFailed(
            "The message cannot be read as an e-mail message.",
            kind="message",
            transient=False,
        ) from exc

    if outgoing.from_fields > 1:
        raise SendFailed(
            "The message has more than one From field; name its author once.",
            kind="message",
            transient=False,
        )

    sender_email = outgoing.sender.address if outgoing.sender else mail_from
    address = _sending_address(unlocked, sender_email, allowed_senders)
    for author in outgoing.authors[1:]:
        _sending_address(unlocked, author.address, allowed_senders)
    # The provider knows the address itself, not a plus alias of it.
    name = outgoing.sender.name if outgoing.sender else ""
    outgoing.sender = EmailAddress(address.email, name or address.display_name)

    try:
        keyring = unlocked.keyring(address.id)
    except CryptoError as exc:
        raise SendFailed(
            f"The keys of {address.email} are not unlocked; log in to the "
            "account again on the bridge dashboard.",
            kind="session",
            transient=False,
        ) from exc

    parent_id, action, stale_drafts = await _find_parent(
        client, outgoing, split_address_id
    )
    draft_id = await _create_draft(client, keyring, outgoing, parent_id, action)

    stage = "preparing"
    try:
        attachment_keys = await _upload_attachments(
            client, keyring, draft_id, outgoing.attachments
        )
        packages = await _build_packages(
            client, keyring, outgoing, attachment_keys, recipients
        )
        stage = "sending"
        sent_id = await _send_draft(client, draft_id, packages)
        stage = "sent"
    finally:
        if stage != "sent":
            kept = await _shielded(_discard_draft(client, draft_id, stage == "sending"))
            if kept:
                attempt.sent_id = draft_id

    if stale_drafts:
        await _delete_quietly(client, stale_drafts)
    logger.info(
        "sent message %s to %d recipients with %d attachments",
        sent_id,
        len(recipients),
        len(outgoing.attachments),
    )
    return sent_id


def _sending_address(
    unlocked: Any, sender_email: str, allowed_senders: Iterable[str] | None
) -> Any:
    address = find_sending_address(unlocked.addresses, sender_email)
    allowed = (
        None
        if allowed_senders is None
        else {a.strip().lower() for a in allowed_senders}
    )
    if (
        address is None
        or not address.enabled
        or not address.send
        or (allowed is not None and address.email.lower() not in allowed)
    ):
        raise SendFailed(
            f"{sender_email} is not an address this login may send from; "
            "use one of the account's enabled addresses as the From address.",
            kind="sender",
            transient=False,
        )
    return address


async def _find_parent(
    client: Any, outgoing: OutgoingMessage, split_address_id: str
) -> tuple[str, int | None, list[str]]:
    """(parent ID, draft action, drafts to delete after the send)."""
    references = list(outgoing.references)
    if outgoing.in_reply_to:
        references.append(outgoing.in_reply_to)
    if not references:
        return "", None, []

    if not outgoing.in_reply_to:
        action = DRAFT_FORWARD
    elif outgoing.in_reply_to == outgoing.forwarded_message_id:
        action = DRAFT_FORWARD
    else:
        action = DRAFT_REPLY

    internal = [r for r in references if r.endswith("@" + INTERNAL_ID_DOMAIN)]
    external = [r for r in references if not r.endswith("@" + INTERNAL_ID_DOMAIN)]
    address_filter = split_address_id or None

    parent_id = ""
    stale_drafts: list[str] = []
    try:
        for reference in internal:
            found, _ = await client.list_messages(
                ids=[reference.rsplit("@", 1)[0]], address_id=address_filter
            )
            for metadata in found:
                if metadata.is_draft:
                    stale_drafts.append(metadata.id)
                else:
                    parent_id = metadata.id

        if not parent_id and external:
            found, _ = await client.list_messages(
                external_id=external[-1], address_id=address_filter
            )
            parent_id = _pick_parent(found)
    except ProviderError as exc:
        # Threading is a nicety: send unthreaded rather than not at all.
        logger.warning("parent lookup failed, sending unthreaded: %r", exc)
        return "", None, []

    return parent_id, (action if parent_id else None), stale_drafts


def _pick_parent(found: list[Any]) -> str:
    if len(found) == 1:
        only = found[0]
        return only.id if only.flags & (FLAG_SENT | FLAG_RECEIVED) else ""
    for metadata in found:
        if metadata.flags & FLAG_SENT:
            return metadata.id
    return ""


async def _create_draft(
    client: Any,
    keyring: pgp.KeyRing,
    outgoing: OutgoingMessage,
    parent_id: str,
    action: int | None,
) -> str:
    body = await asyncio.to_thread(keyring.encrypt, outgoing.body.encode("utf-8"))
    assert outgoing.sender is not None
    template = DraftTemplate(
        subject=outgoing.subject,
        sender=outgoing.sender,
        to_list=outgoing.to_list,
        cc_list=outgoing.cc_list,
        bcc_list=outgoing.bcc_list,
        body=body,
        mime_type=outgoing.mime_type,
        external_id=outgoing.message_id,
    )
    try:
        draft = await client.create_draft(
            template, parent_id=parent_id or None, action=action
        )
    except ProviderError as exc:
        raise _send_failure(exc, "create the draft") from exc
    return draft.id


async def _upload_attachments(
    client: Any,
    keyring: pgp.KeyRing,
    draft_id: str,
    attachments: list[OutgoingAttachment],
) -> dict[str, pgp.SessionKey]:
    """Upload each attachment; its session key by provider attachment ID."""
    keys: dict[str, pgp.SessionKey] = {}
    for attachment in attachments:
        session_key, split, signature = await asyncio.to_thread(
            _encrypt_attachment, keyring, attachment.data
        )
        try:
            uploaded = await client.upload_attachment(
                draft_id,
                filename=attachment.filename,
                mime_type=attachment.mime_type,
                split=split,
                signature=signature,
                disposition=attachment.disposition,
                content_id=attachment.content_id,
            )
        except ProviderError as exc:
            raise _send_failure(exc, "upload an attachment") from exc
        keys[uploaded.id] = session_key
    return keys


def _encrypt_attachment(
    keyring: pgp.KeyRing, data: bytes
) -> tuple[pgp.SessionKey, pgp.SplitMessage, bytes]:
    session_key = pgp.generate_session_key()
    data_packet = pgp.encrypt_with_session_key(data, session_key)
    key_packets = keyring.public_key().encrypt_session_key(session_key)
    signature = keyring.sign_detached(data)
    return session_key, pgp.SplitMessage(key_packets, data_packet), signature


async def _build_packages(
    client: Any,
    keyring: pgp.KeyRing,
    outgoing: OutgoingMessage,
    attachment_keys: dict[str, pgp.SessionKey],
    recipients: list[str],
) -> list[dict[str, Any]]:
    resolved = [await _resolve_recipient(client, r) for r in _unique(recipients)]
    return await asyncio.to_thread(
        make_packages, keyring, outgoing, attachment_keys, resolved
    )


def _unique(recipients: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for recipient in recipients:
        seen.setdefault(recipient.strip().lower(), recipient.strip())
    return list(seen.values())


async def _resolve_recipient(client: Any, address: str) -> pgp.Recipient:
    try:
        keys = await client.get_public_keys(address)
    except ValidationError as exc:
        raise SendFailed(
            f"The provider refused the recipient {address}: {exc.message}",
            kind="recipient",
            transient=False,
        ) from exc
    except ProviderError as exc:
        raise _send_failure(exc, f"look up the keys of {address}") from exc

    public_key = _encryption_key(keys.keys)
    if keys.internal:
        if public_key is None:
            raise SendFailed(
                f"The provider has no usable key for {address}.",
                kind="recipient",
                transient=False,
            )
        return pgp.Recipient(address, SCHEME_INTERNAL, public_key)
    if public_key is not None:
        return pgp.Recipient(address, SCHEME_PGP_MIME, public_key)
    # A clear copy goes out without a detached signature.
    return pgp.Recipient(address, SCHEME_CLEAR, signature=SIGNATURE_NONE)


def _encryption_key(keys: list[Any]) -> pgp.PublicKey | None:
    ordered = [k for k in keys if k.flags & KEY_FLAG_ENCRYPT] or list(keys)
    for key in ordered:
        try:
            return pgp.PublicKey(key.public_key)
        except CryptoError:
            logger.warning("skipping a recipient key that cannot be read")
    return None


def make_packages(
    keyring: pgp.KeyRing,
    outgoing: OutgoingMessage,
    attachment_keys: dict[str, pgp.SessionKey],
    recipients: list[pgp.Recipient],
) -> list[dict[str, Any]]:
    """One package for the body's recipients, one for the PGP/MIME ones."""
    packages: list[dict[str, Any]] = []

    text_recipients = [r for r in recipients if r.scheme != SCHEME_PGP_MIME]
    if text_recipients:
        packages.append(
            pgp.build_send_package(
                outgoing.mime_type,
                outgoing.body.encode("utf-8"),
                text_recipients,
                signer=keyring,
                attachment_keys=attachment_keys,
            )
        )

    # PGP/MIME recipients get the whole message, attachments inside it.
    mime_recipients = [r for r in recipients if r.scheme == SCHEME_PGP_MIME]
    if mime_recipients:
        packages.append(
            pgp.build_send_package(
                "multipart/mixed", outgoing.mime_body, mime_recipients, signer=keyring
            )
        )

    return packages


async def _send_draft(
    client: Any, draft_id: str, packages: list[dict[str, Any]]
) -> str:
    try:
        sent = await client.send_draft(draft_id, packages)
    except ProviderError as exc:
        if _outcome_unknown(exc) and await _was_sent(client, draft_id):
            logger.info("send of %s answered %r but it went out", draft_id, exc)
            return draft_id
        raise _send_failure(exc, "send the message") from exc
    return sent.id or draft_id


def _outcome_unknown(exc: ProviderError) -> bool:
    # A refusal (4xx) or an overload answer (429, 503) means nothing was
    # done; a broken connection or another 5xx may hide a send that worked.
    if isinstance(exc, RateLimited):
        return False
    if isinstance(exc, ServerUnavailable):
        return exc.status != 503
    return isinstance(exc, NetworkError | InvalidResponse)


async def _was_sent(client: Any, draft_id: str) -> bool:
    try:
        message = await client.get_message(draft_id)
    except ProviderError as exc:
        logger.warning("cannot tell whether %s was sent: %r", draft_id, exc)
        return False
    return not message.is_draft


async def _discard_draft(client: Any, draft_id: str, maybe_sent: bool) -> bool:
    """Delete the draft of a failed send; True if it turned out to be sent.

    Interrupted while the send request was out, the message may have left;
    then the "draft" is the Sent copy, which must stay.
    """
    if maybe_sent and await _was_sent(client, draft_id):
        logger.warning("message %s went out although its send was cut short", draft_id)
        return True
    await _delete_quietly(client, [draft_id])
    return False


async def _shielded(coroutine: Any) -> Any:
    # A cancelled send (program gone, shutdown) must still clean up.
    task = asyncio.ensure_future(coroutine)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


async def _delete_quietly(client: Any, message_ids: list[str]) -> None:
    try:
        await client.delete_messages(message_ids)
    except ProviderError as exc:
        logger.warning("could not delete drafts %s: %r", message_ids, exc)


def _send_failure(exc: ProviderError, step: str) -> SendFailed:
    if isinstance(exc, SessionRevoked):
        return SendFailed(
            "The bridge is logged out of the account; log in again on the "
            "bridge dashboard.",
            kind="session",
            transient=True,
        )
    if isinstance(exc, RateLimited):
        return SendFailed(
            "The provider asks the bridge to slow down; try again in a few minutes.",
            kind="provider",
            transient=True,
        )
    if exc.transient:
        return SendFailed(
            f"The provider could not {step} just now; try again later.",
            kind="provider",
            transient=True,
        )
    detail = exc.message or f"HTTP {exc.status}"
    return SendFailed(
        f"The provider refused to {step}: {detail}",
        kind="provider",
        transient=False,
    )
