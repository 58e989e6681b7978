"""What was sent recently, so that nothing is sent or stored twice.

Mail programs often send a message over SMTP and then APPEND their own copy
to the Sent mailbox over IMAP. The provider already keeps a Sent copy, so the
IMAP side asks :func:`recent_sent_message` and, within ``RECORD_SECONDS`` of
the send, answers with the provider's message instead of importing a second
one. A program that submits the same message to the same recipients twice in
that time (a retry after a dropped connection) is answered without a second
send.

The records live in Django's cache: shared by every process when the cache
is Redis, in this process's memory on the embedded default (where one process
runs both listeners).

The hash covers what a mail program keeps when it files its own copy: the
Subject, From, To and Cc headers, and for each leaf part its content type,
its disposition and its decoded body. Message-ID, Date, Bcc and the transfer
encoding may differ between the two copies and are left out.
"""

import email
import email.policy
import hashlib
import logging
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache

logger = logging.getLogger(__name__)

RECORD_SECONDS = 90

# A claim held by a send in progress. It outlives any sane send (the SMTP
# timeout is shorter), so it only expires by itself when a process died
# half-way.
CLAIM_SECONDS = 10 * 60
PENDING = "pending"

_HASHED_HEADERS = ("subject", "from", "to", "cc")


def message_hash(raw: bytes) -> str:
    """The de-duplication hash of a raw RFC 822 message."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    digest = hashlib.sha256()

    for name in _HASHED_HEADERS:
        digest.update(name.encode() + b":")
        digest.update(_header_text(message, name).encode("utf-8", "surrogateescape"))
        digest.update(b"\n")

    for part in message.walk():
        if part.is_multipart():
            continue
        digest.update(b"part:" + part.get_content_type().encode() + b"\n")
        disposition = (part.get_content_disposition() or "").lower()
        digest.update(b"disposition:" + disposition.encode() + b"\n")
        # Two attachments with the same bytes under other names are another
        # message: treating them as one would answer 250 for mail not sent.
        filename = part.get_filename() or ""
        digest.update(
            b"filename:" + filename.encode("utf-8", "surrogateescape") + b"\n"
        )
        digest.update(_body_bytes(part))
        digest.update(b"\n")

    return digest.hexdigest()


def _header_text(message: EmailMessage, name: str) -> str:
    values = [str(value) for value in message.get_all(name, [])]
    if name == "subject":
        return " ".join(" ".join(values).split())

    addresses = sorted(
        address.strip().lower()
        for _, address in getaddresses(values)
        if address.strip()
    )
    return ",".join(addresses)


def _body_bytes(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = b""
    if part.get_content_maintype() == "text":
        # Line ends and trailing blanks change when a program re-encodes.
        lines = payload.replace(b"\r\n", b"\n").split(b"\n")
        payload = b"\n".join(line.rstrip() for line in lines).rstrip(b"\n")
    return payload


def _account_id(account: Any) -> Any:
    return getattr(account, "pk", account)


def _sent_key(account: Any, digest: str) -> str:
    return f"sent:{_account_id(account)}:{digest}"


def _claim_key(account: Any, digest: str, recipients: list[str]) -> str:
    joined = "\0".join(sorted({r.strip().lower() for r in recipients}))
    recipients_digest = hashlib.sha256(joined.encode()).hexdigest()[:32]
    return f"sending:{_account_id(account)}:{digest}:{recipients_digest}"


def recent_sent_message(account: Any, raw_bytes: bytes) -> str | None:
    """The provider message ID of this message if it was sent just now."""
    return cache.get(_sent_key(account, message_hash(raw_bytes)))


recent_sent_message_async = sync_to_async(recent_sent_message)


def record_sent(account: Any, digest: str, message_id: str) -> None:
    """Remember a sent message's hash for ``RECORD_SECONDS``."""
    cache.set(_sent_key(account, digest), message_id, RECORD_SECONDS)


def claim_send(account: Any, digest: str, recipients: list[str]) -> str | None:
    """Claim the sending of a message; None when claimed.

    Otherwise the answer is what holds the claim: ``PENDING`` while another
    send of the same message runs, or the provider message ID when it was
    sent within the record window.
    """
    key = _claim_key(account, digest, recipients)
    if cache.add(key, PENDING, CLAIM_SECONDS):
        return None

    holder = cache.get(key)
    if holder is None:
        # Expired between the two calls; try once more.
        return None if cache.add(key, PENDING, CLAIM_SECONDS) else PENDING
    return holder


def finish_send(
    account: Any, digest: str, recipients: list[str], message_id: str
) -> None:
    """Turn a claim into the record of a message sent."""
    cache.set(_claim_key(account, digest, recipients), message_id, RECORD_SECONDS)
    record_sent(account, digest, message_id)


def release_send(account: Any, digest: str, recipients: list[str]) -> None:
    """Drop a claim after a failed send, so a retry may send."""
    key = _claim_key(account, digest, recipients)
    if cache.get(key) == PENDING:
        cache.delete(key)
