"""Every provider route the bridge uses, through ProviderClient, against the
reference provider: the happy paths, the refusals and the forced faults."""

import base64
import hashlib
import hmac
import struct
import time

import pytest

from mailsync.provider import pgp
from mailsync.provider.errors import (
    AlreadyExists,
    AppVersionRejected,
    AuthError,
    HumanVerificationRequired,
    NotFound,
    PaidPlanRequired,
    RateLimited,
    ServerUnavailable,
    SessionRevoked,
    Timeout,
    TwoFactorRequired,
    ValidationError,
)
from mailsync.provider.types import (
    ALL_MAIL,
    ARCHIVE,
    EVENT_CREATE,
    FLAG_RECEIVED,
    INBOX,
    LABEL_TYPE_FOLDER,
    LABEL_TYPE_LABEL,
    SCHEME_CLEAR,
    SCHEME_INTERNAL,
    STARRED,
    TRASH,
    DraftTemplate,
    EmailAddress,
    ImportRequest,
)
from tests.provider.helpers import (
    PASSWORD,
    Sleeps,
    internal,
    logged_in,
    make_client,
    new_user,
)


def totp(secret_b32: str, at: float | None = None) -> str:
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((at or time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def message_bytes(subject: str, body: str = "hello") -> bytes:
    return (
        f"From: Someone <someone@example.org>\r\n"
        f"To: you@proton.test\r\n"
        f"Subject: {subject}\r\n"
        f"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.org>\r\n"
        f"\r\n{body}\r\n"
    ).encode()


async def import_some(client, account, subjects, label_ids=(INBOX,), unread=True):
    address = account.addresses[0]
    requests = [
        ImportRequest(
            message_bytes(subject),
            address.id,
            list(label_ids),
            unread=unread,
            flags=FLAG_RECEIVED,
        )
        for subject in subjects
    ]
    results = await client.import_messages(account.keyring(address.id), requests)
    assert all(result.ok for result in results), results
    return [result.message_id for result in results]


# -- auth ----------------------------------------------------------------------


async def test_login_unlock_and_read_the_account(refprovider):
    name, emails = new_user(refprovider, addresses=None)
    client = make_client(refprovider)

    result = await client.login(name, PASSWORD)
    account = await client.unlock(PASSWORD)
    user = await client.get_user()
    salts = await client.get_salts()

    assert result.session.uid and not result.two_factor_required
    assert result.password_mode == 1
    assert user.name == name and salts
    assert [a.email for a in account.addresses] == emails
    assert account.keyring(account.addresses[0].id) is not None
    assert (await client.get_address(account.addresses[0].id)).email == emails[0]
    await client.aclose()


async def test_unlock_again_with_the_stored_key_passphrase(refprovider):
    client, account, _ = await logged_in(refprovider)

    again = await client.unlock(key_passphrase=account.key_passphrase)

    assert sorted(again.keys.addresses) == sorted(account.keys.addresses)


async def test_wrong_password_is_an_auth_error(refprovider):
    name, _ = new_user(refprovider)
    client = make_client(refprovider)

    with pytest.raises(AuthError) as caught:
        await client.login(name, "not the password")

    assert caught.value.code == 8002


async def test_two_password_mode_unlocks_with_the_mailbox_password(refprovider):
    name, _ = new_user(refprovider, mailbox_password="second secret")
    client = make_client(refprovider)

    result = await client.login(name, PASSWORD)
    account = await client.unlock("second secret")

    assert result.needs_mailbox_password
    assert account.keys.addresses


async def test_totp_gates_the_session_until_the_code(refprovider):
    secret = base64.b32encode(b"0123456789abcdef0123").decode()
    name, _ = new_user(refprovider, totp_secret=secret)
    client = make_client(refprovider)

    result = await client.login(name, PASSWORD)
    with pytest.raises(TwoFactorRequired):
        await client.get_user()
    with pytest.raises(AuthError):
        await client.submit_2fa("000000" if totp(secret) != "000000" else "111111")
    await client.submit_2fa(totp(secret))

    assert result.two_factor_required
    assert (await client.get_user()).name == name


async def test_session_without_second_factor_is_refused_by_the_provider(refprovider):
    secret = base64.b32encode(b"0123456789abcdef0123").decode()
    name, _ = new_user(refprovider, totp_secret=secret)
    client = make_client(refprovider)
    await client.login(name, PASSWORD)
    client.two_factor_pending = False  # pretend we forgot

    with pytest.raises(TwoFactorRequired) as caught:
        await client.get_user()

    assert caught.value.status == 403


async def test_human_verification_then_login_with_the_token(refprovider):
    name, _ = new_user(refprovider, human_verification=True)
    client = make_client(refprovider)

    with pytest.raises(HumanVerificationRequired) as caught:
        await client.login(name, PASSWORD)
    internal(refprovider, "POST", f"users/{name}/hv-approve", Token=caught.value.token)
    result = await client.login(name, PASSWORD, hv_token=caught.value.token)

    assert caught.value.url.startswith("https://verify.proton.me/?methods=")
    assert "token=" in caught.value.url
    assert result.session.uid


async def test_free_plan_is_refused(refprovider):
    name, _ = new_user(refprovider, free_plan=True)
    client = make_client(refprovider)

    with pytest.raises(PaidPlanRequired):
        await client.login(name, PASSWORD)


async def test_refresh_rotates_tokens_and_reports_them(refprovider):
    stored = []
    client, _, _ = await logged_in(refprovider, on_session_refreshed=stored.append)
    before = client.session.refresh_token

    session = await client.refresh()

    assert session.refresh_token != before
    assert stored == [session]
    assert (await client.get_user()).id


async def test_expired_access_token_is_refreshed_on_401(refprovider):
    stored = []
    client, _, _ = await logged_in(refprovider, on_session_refreshed=stored.append)
    client.session.access_token = "expired-or-forged"

    user = await client.get_user()

    assert user.id and len(stored) == 1


async def test_revoked_session_needs_a_new_login(refprovider):
    client, account, _ = await logged_in(refprovider)
    internal(refprovider, "POST", f"users/{account.user.name}/revoke")

    with pytest.raises(SessionRevoked):
        await client.get_user()


async def test_logout_ends_the_session(refprovider):
    client, _, _ = await logged_in(refprovider)
    session = client.session

    await client.logout()
    other = make_client(refprovider, session=session)

    assert client.session is None
    with pytest.raises(SessionRevoked):
        await other.get_user()


async def test_modulus_route(refprovider):
    client = make_client(refprovider)

    modulus = await client.get_modulus()

    assert "BEGIN PGP SIGNED MESSAGE" in modulus["Modulus"] and modulus["ModulusID"]


async def test_old_app_version_is_rejected(refprovider):
    client = make_client(refprovider, app_version="not a version")

    with pytest.raises(AppVersionRejected) as caught:
        await client.auth_info("anyone")

    assert caught.value.code == 5003


# -- settings, keys ------------------------------------------------------------


async def test_settings_and_public_keys(refprovider):
    client, account, emails = await logged_in(refprovider)

    mail_settings = await client.get_mail_settings()
    core_settings = await client.get_core_settings()
    internal_keys = await client.get_public_keys(emails[0])
    external_keys = await client.get_public_keys("nobody@example.org")
    contacts = await client.get_contact_emails("nobody@example.org")

    assert mail_settings.draft_mime_type in ("text/html", "text/plain")
    assert isinstance(core_settings, dict)
    assert internal_keys.internal and internal_keys.keys
    fingerprint = pgp.PublicKey(internal_keys.keys[0].public_key).fingerprint
    assert fingerprint in account.keyring(account.addresses[0].id).fingerprints
    assert not external_keys.internal
    assert contacts == []


# -- labels --------------------------------------------------------------------


async def test_label_and_folder_lifecycle(refprovider):
    client, _, _ = await logged_in(refprovider)

    parent = await client.create_label("Work", LABEL_TYPE_FOLDER)
    child = await client.create_label(
        "Projects", LABEL_TYPE_FOLDER, parent_id=parent.id
    )
    label = await client.create_label("Important", LABEL_TYPE_LABEL, color="#abc")
    renamed = await client.update_label(label.id, name="Urgent", color="#abc")
    folders = await client.get_labels(LABEL_TYPE_FOLDER)
    with pytest.raises(AlreadyExists):
        await client.create_label("Urgent", LABEL_TYPE_LABEL)
    await client.delete_label(renamed.id)
    remaining = await client.get_labels(LABEL_TYPE_LABEL)

    assert child.parent_id == parent.id
    assert {f.path for f in folders} >= {"Work", "Work/Projects"}
    assert renamed.name == "Urgent"
    assert renamed.id not in {lb.id for lb in remaining}


async def test_system_labels_are_listed(refprovider):
    client, _, _ = await logged_in(refprovider)

    system = await client.get_labels(4)

    assert {INBOX, TRASH, ALL_MAIL, ARCHIVE} <= {label.id for label in system}


async def test_deleting_a_missing_label_is_not_found(refprovider):
    client, _, _ = await logged_in(refprovider)

    with pytest.raises((NotFound, ValidationError)):
        await client.delete_label("no-such-label")


# -- messages ------------------------------------------------------------------


async def test_import_list_count_get_and_ids(refprovider):
    client, account, _ = await logged_in(refprovider)
    ids = await import_some(client, account, [f"note {i}" for i in range(5)])

    page, total = await client.list_messages(label_id=INBOX)
    count = await client.count_messages(label_id=INBOX)
    counts = {c.label_id: c for c in await client.get_message_counts()}
    all_ids = [i async for i in client.iter_message_ids(page_size=2)]
    message = await client.get_message(ids[0])

    assert total == count == 5 and len(page) == 5
    assert counts[INBOX].total == 5 and counts[INBOX].unread == 5
    assert sorted(all_ids) == sorted(ids)
    assert message.subject == "note 0" and message.unread
    assert INBOX in message.label_ids


async def test_metadata_pages_newest_first_without_repeats(refprovider):
    client, account, _ = await logged_in(refprovider)
    ids = await import_some(client, account, [f"page {i}" for i in range(7)])

    pages = [page async for page in client.iter_message_metadata(page_size=3)]
    seen = [message.id for page in pages for message in page]

    listed, _ = await client.list_messages(desc=True)

    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert seen == [message.id for message in listed]


async def test_metadata_walk_resumes_after_an_id(refprovider):
    client, account, _ = await logged_in(refprovider)
    await import_some(client, account, [f"resume {i}" for i in range(5)])
    first = [page async for page in client.iter_message_metadata(page_size=2)][0]

    rest = [
        m async for p in client.iter_message_metadata(after_id=first[-1].id) for m in p
    ]

    assert len(first) + len(rest) == 5
    assert first[-1].id not in {m.id for m in rest}


async def test_flags_labels_and_delete(refprovider):
    client, account, _ = await logged_in(refprovider)
    ids = await import_some(client, account, ["a", "b"])
    label = await client.create_label("Tag", LABEL_TYPE_LABEL)

    await client.mark_read(ids)
    await client.mark_forwarded(ids[:1])
    starred = await client.label_messages(ids, STARRED)
    tagged = await client.label_messages(ids[:1], label.id)
    moved = await client.label_messages(ids[1:], ARCHIVE)
    first = await client.get_message(ids[0])
    second = await client.get_message(ids[1])
    await client.mark_unread(ids[:1])
    await client.mark_unforwarded(ids[:1])
    await client.unlabel_messages(ids, STARRED)
    after = await client.get_message(ids[0])
    await client.delete_messages(ids)

    assert all(r.ok for r in starred + tagged + moved)
    assert not first.unread and first.is_forwarded and first.starred
    assert label.id in first.label_ids
    assert ARCHIVE in second.label_ids and INBOX not in second.label_ids
    assert after.unread and not after.is_forwarded and not after.starred
    with pytest.raises(NotFound):
        await client.get_message(ids[0])


async def test_missing_message_is_not_found(refprovider):
    client, _, _ = await logged_in(refprovider)

    with pytest.raises(NotFound):
        await client.get_message("no-such-message")


async def test_import_into_an_unknown_label_is_reported_per_message(refprovider):
    client, account, _ = await logged_in(refprovider)
    address = account.addresses[0]
    request = ImportRequest(message_bytes("x"), address.id, ["no-such-label"])

    results = await client.import_messages(account.keyring(address.id), [request])

    assert not results[0].ok and results[0].error


# -- drafts, attachments, send -------------------------------------------------


async def _draft_with_attachment(client, account, to):
    address = account.addresses[0]
    keyring = account.keyring(address.id)
    template = DraftTemplate(
        subject="Report",
        sender=EmailAddress(address.email, "Me"),
        to_list=[EmailAddress(to)],
        body=keyring.encrypt(b"see attached"),
        mime_type="text/plain",
    )
    draft = await client.create_draft(template)
    data = b"%PDF-1.4 " + bytes(range(256))
    split = keyring.encrypt_split(data, sign=False)
    attachment = await client.upload_attachment(
        draft.id,
        filename="report.pdf",
        mime_type="application/pdf",
        split=split,
        signature=keyring.sign_detached(data),
    )
    return draft, attachment, data, keyring


async def test_draft_create_update_and_attachment_round_trip(refprovider):
    client, account, _ = await logged_in(refprovider)
    draft, attachment, data, keyring = await _draft_with_attachment(
        client, account, "bob@example.org"
    )

    template = DraftTemplate(
        subject="Report v2",
        sender=EmailAddress(account.addresses[0].email, "Me"),
        to_list=[EmailAddress("bob@example.org")],
        body=keyring.encrypt(b"see attached, v2"),
        mime_type="text/plain",
    )
    updated = await client.update_draft(draft.id, template)
    fetched = await client.get_message(draft.id)
    packet = await client.get_attachment(attachment.id)
    stored = fetched.attachments[0]

    assert updated.subject == "Report v2" and fetched.is_draft
    assert keyring.decrypt(fetched.body) == b"see attached, v2"
    assert stored.name == "report.pdf" and stored.mime_type == "application/pdf"
    assert keyring.decrypt_split(base64.b64decode(stored.key_packets), packet) == data


async def test_send_to_an_internal_and_an_external_recipient(refprovider):
    bob_name, bob_emails = new_user(refprovider)
    client, account, _ = await logged_in(refprovider)
    draft, attachment, data, keyring = await _draft_with_attachment(
        client, account, bob_emails[0]
    )
    bob_keys = await client.get_public_keys(bob_emails[0])
    att_key = keyring.decrypt_session_key(base64.b64decode(attachment.key_packets))
    package = pgp.build_send_package(
        "text/plain",
        b"see attached",
        [
            pgp.Recipient(
                bob_emails[0],
                SCHEME_INTERNAL,
                pgp.PublicKey(bob_keys.keys[0].public_key),
            ),
            pgp.Recipient("carol@example.org", SCHEME_CLEAR),
        ],
        signer=keyring,
        attachment_keys={attachment.id: att_key},
    )
    template = DraftTemplate(
        subject="Report",
        sender=EmailAddress(account.addresses[0].email, "Me"),
        to_list=[EmailAddress(bob_emails[0]), EmailAddress("carol@example.org")],
        body=keyring.encrypt(b"see attached"),
        mime_type="text/plain",
    )
    await client.update_draft(draft.id, template)

    sent = await client.send_draft(draft.id, [package])

    bob = make_client(refprovider)
    await bob.login(bob_name, PASSWORD)
    bob_account = await bob.unlock(PASSWORD)
    inbox, _ = await bob.list_messages(label_id=INBOX)
    received, literal = await bob.fetch_rfc822(bob_account, inbox[0].id)
    outbox = internal(refprovider, "GET", "outbox")
    assert sent.flags & 2
    assert received.subject == "Report"
    assert b"see attached" in literal and base64.b64encode(data)[:40] in literal
    assert "carol@example.org" in str(outbox)


async def test_send_without_a_package_for_a_recipient_is_refused(refprovider):
    client, account, _ = await logged_in(refprovider)
    draft, _, _, _ = await _draft_with_attachment(client, account, "bob@example.org")

    with pytest.raises(ValidationError):
        await client.send_draft(draft.id, [])


# -- events --------------------------------------------------------------------


async def test_events_report_new_messages_and_chain_with_more(refprovider):
    client, account, _ = await logged_in(refprovider)
    latest = await client.get_latest_event_id()
    internal(refprovider, "POST", "max-updates", Count=2)
    try:
        ids = await import_some(client, account, ["e1", "e2", "e3"])
        seen, event_id, events = [], latest, []
        for _ in range(10):
            event = await client.get_event(event_id)
            events.append(event)
            seen += [m.id for m in event.messages if m.action == EVENT_CREATE]
            event_id = event.event_id
            if not event.more:
                break
    finally:
        internal(refprovider, "POST", "max-updates", Count=50)

    assert set(ids) <= set(seen)
    assert any(event.more for event in events)


async def _events_since(client, event_id):
    events = []
    for _ in range(10):
        event = await client.get_event(event_id)
        events.append(event)
        event_id = event.event_id
        if not event.more:
            break
    return events


async def test_events_carry_labels_addresses_and_refresh(refprovider):
    client, account, _ = await logged_in(refprovider)
    latest = await client.get_latest_event_id()

    label = await client.create_label("Evented", LABEL_TYPE_LABEL)
    internal(
        refprovider,
        "POST",
        f"users/{account.user.name}/addresses",
        Email=f"extra.{account.user.name}@proton.test",
    )
    internal(refprovider, "POST", f"users/{account.user.name}/refresh-event", Flags=1)
    events = await _events_since(client, latest)

    label_ids = {e.id for event in events for e in event.labels}
    emails = {e.address.email for event in events for e in event.addresses if e.address}
    assert label.id in label_ids
    assert f"extra.{account.user.name}@proton.test" in emails
    assert any(event.needs_mail_refresh for event in events)


async def test_unknown_event_id_is_refused(refprovider):
    client, _, _ = await logged_in(refprovider)

    with pytest.raises((NotFound, ValidationError)):
        await client.get_event("not-an-event")


# -- forced faults ---------------------------------------------------------------


@pytest.fixture
def faults(refprovider):
    yield lambda **rule: internal(refprovider, "POST", "faults", **rule)
    internal(refprovider, "DELETE", "faults")
    internal(refprovider, "POST", "offline", Offline=False)


async def test_rate_limit_is_waited_out(refprovider, faults):
    sleeps = Sleeps()
    client, _, _ = await logged_in(refprovider, sleeps=sleeps)
    faults(Path="/core/v4/users", Status=429, RetryAfter=3, Count=2)

    user = await client.get_user()

    assert user.id and sleeps == [3.0, 3.0]


async def test_long_rate_limit_is_raised(refprovider, faults):
    client, _, _ = await logged_in(refprovider, max_retry_after=10)
    faults(Path="/core/v4/users", Status=429, RetryAfter=120, Count=1)

    with pytest.raises(RateLimited) as caught:
        await client.get_user()

    assert caught.value.retry_after == 120


async def test_server_errors_are_retried_until_they_pass(refprovider, faults):
    sleeps = Sleeps()
    client, _, _ = await logged_in(refprovider, sleeps=sleeps)
    faults(Path="/core/v4/addresses", Status=500, Count=2)

    addresses = await client.get_addresses()

    assert addresses and len(sleeps) == 2


async def test_offline_provider_fails_after_the_attempts(refprovider, faults):
    sleeps = Sleeps()
    client, _, _ = await logged_in(refprovider, sleeps=sleeps, max_attempts=3)
    internal(refprovider, "POST", "offline", Offline=True)

    with pytest.raises(ServerUnavailable) as caught:
        await client.get_user()

    assert caught.value.transient and len(sleeps) == 2


async def test_slow_answer_is_a_timeout(refprovider, faults):
    client, _, _ = await logged_in(refprovider, timeout=0.5, max_attempts=1)
    faults(Path="/core/v4/users", Delay=2, Count=1)

    with pytest.raises(Timeout):
        await client.get_user()


async def test_forced_refusal_code_is_mapped(refprovider, faults):
    client, _, _ = await logged_in(refprovider)
    faults(Path="/mail/v4/settings", Status=422, Code=2001, Count=1)

    with pytest.raises(ValidationError) as caught:
        await client.get_mail_settings()

    assert caught.value.code == 2001
