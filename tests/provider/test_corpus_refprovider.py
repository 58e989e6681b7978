"""Real-world mail through the provider and back: what IMAP will serve."""

import email
import email.policy

from mailsync.provider.build import normalize_crlf
from mailsync.provider.types import FLAG_RECEIVED, INBOX, ImportRequest
from tests.provider.helpers import logged_in
from tests.support import corpus_files

CORPUS = corpus_files()

# Originals that Python's email package cannot take apart, so they cannot
# serve as the reference for what the parts should be.
UNPARSEABLE_REFERENCE = {
    "mime_emails__raw_email_with_binary_encoded.eml": (
        "the multipart/alternative boundary is not recognised by Python's parser"
    ),
    "mime_emails__raw_email_with_illegal_boundary.eml": (
        "an illegal boundary Python's parser refuses; the provider splits it"
    ),
}


async def test_every_corpus_message_imported_comes_back_byte_identical(refprovider):
    assert len(CORPUS) > 100, "the shared corpus was not found"
    client, account, _ = await logged_in(refprovider)
    address = account.addresses[0]
    requests = [
        ImportRequest(path.read_bytes(), address.id, [INBOX], flags=FLAG_RECEIVED)
        for path in CORPUS
    ]

    results = await client.import_messages(account.keyring(address.id), requests)
    refused = [
        (p.name, r.error) for p, r in zip(CORPUS, results, strict=True) if not r.ok
    ]
    differing = []
    for path, result in zip(CORPUS, results, strict=True):
        if not result.ok:
            continue
        _, literal = await client.fetch_rfc822(account, result.message_id)
        if literal != normalize_crlf(path.read_bytes()):
            differing.append(path.name)

    assert (refused, differing) == ([], [])


def _leaves(message):
    """(content type, filename, content) of every leaf; text decoded."""
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        if kind.startswith("text/"):
            payload = part.get_payload(decode=True) or b""
            charset = part.get_content_charset() or "utf-8"
            try:
                content = payload.decode(charset, "replace")
            except LookupError:
                content = payload.decode("utf-8", "replace")
            content = content.replace("\r\n", "\n").strip()
        else:
            content = part.get_payload(decode=True)
        yield kind, part.get_filename(), content


def _differences(original_bytes: bytes, literal: bytes) -> str | None:
    """What the rebuilt web-style message lost, or None."""
    original = email.message_from_bytes(original_bytes, policy=email.policy.default)
    rebuilt = email.message_from_bytes(literal, policy=email.policy.default)
    want = [leaf for leaf in _leaves(original) if not leaf[0].startswith("text/")]
    got = [leaf for leaf in _leaves(rebuilt) if not leaf[0].startswith("text/")]
    # A part without a filename gets one from the provider ("attachment.bin").
    named = {name for _, name, _ in want}
    got = [(kind, name if name in named else None, data) for kind, name, data in got]
    if sorted(got, key=repr) != sorted(want, key=repr):
        return f"attachments differ: {[g[:2] for g in got]} != {[w[:2] for w in want]}"

    # The web app keeps one text: the one of the rebuilt message's type.
    texts = [leaf for leaf in _leaves(rebuilt) if leaf[0].startswith("text/")]
    if texts:
        kind, _, text = texts[0]
        candidates = [c for k, _, c in _leaves(original) if k == kind]
        # Mail without a text of that type gets an empty one.
        if not (text in candidates or (text == "" and not candidates)):
            return f"the {kind} text differs"
    return None


async def test_web_style_messages_keep_text_and_attachments(refprovider):
    paths = [
        p
        for p in CORPUS
        if p.name.startswith(("attachment_emails", "mime_emails"))
        and p.name not in UNPARSEABLE_REFERENCE
    ]
    client, account, _ = await logged_in(refprovider)
    ids = refprovider.seed(account.user.name, eml=paths, mode="web")

    failures = {}
    for path, message_id in zip(paths, ids, strict=True):
        _, literal = await client.fetch_rfc822(account, message_id)
        difference = _differences(path.read_bytes(), literal)
        if difference:
            failures[path.name] = difference

    assert len(paths) > 20
    assert failures == {}
