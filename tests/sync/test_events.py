"""The event loop, end to end: provider changes reach the index."""

import base64

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.models import Address, LinkedAccount
from mailsync import cache, events, notify, tasks
from mailsync.models import EventFailure, Mailbox, MailboxEntry, Message, SyncState
from mailsync.session import open_session
from tests.support import corpus_files
from tests.sync.conftest import link, wait_for_task

NEW_MAIL = (
    b"From: Bruno <bruno@example.org>\r\n"
    b"To: someone@proton.test\r\n"
    b"Subject: %s\r\n"
    b"Date: Mon, 2 Dec 2024 10:00:00 +0000\r\n"
    b"Message-ID: <%s@example.org>\r\n"
    b"\r\n"
    b"Hello there.\r\n"
)


def new_mail(tag: str) -> bytes:
    return NEW_MAIL % (tag.encode(), tag.encode())


@pytest.fixture
def linked(owner, provider):
    """A ready account with three messages in INBOX, and a web-app session."""
    user = provider.adduser()
    ids = provider.seed(user.name, eml=corpus_files()[:3])
    account = link(owner, user)
    assert account.state == LinkedAccount.State.READY
    web = provider.login(user.name, user.password)
    return account, user, ids, web


def poll(account) -> str:
    return events.poll_events(account.id)


def entries(account, name) -> dict[str, int]:
    box = Mailbox.objects.get(account=account, name=name)
    return dict(
        MailboxEntry.objects.filter(mailbox=box).values_list(
            "message__provider_id", "uid"
        )
    )


def latest_event_id(web) -> str:
    return web.get("core/v4/events/latest").json()["EventID"]


def stored_event_id(account) -> str:
    return SyncState.objects.get(account=account).last_event_id


def folder_id(web, name) -> str:
    folders = web.get("core/v4/labels", params={"Type": 3}).json()["Labels"]
    return next(label["ID"] for label in folders if label["Name"] == name)


def test_new_message_arrives_with_the_next_uid(linked, provider):
    account, user, ids, web = linked
    message_id = provider.deliver(user.name, new_mail("fresh"))

    poll(account)

    inbox = entries(account, "INBOX")
    assert inbox[message_id] == 4
    message = Message.objects.get(account=account, provider_id=message_id)
    assert cache.read_message(message) == new_mail("fresh")
    assert stored_event_id(account) == latest_event_id(web)


def test_changed_mailboxes_are_published(linked, provider):
    account, user, _, _ = linked
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(notify.account_group(account.id), channel)
    provider.deliver(user.name, new_mail("published"))

    poll(account)

    inbox = Mailbox.objects.get(account=account, name="INBOX")
    received = async_to_sync(layer.receive)(channel)
    assert received["type"] == "mailbox.changed"
    assert inbox.id in received["mailboxes"]


def test_read_and_unread_follow_the_provider(linked):
    account, _, ids, web = linked
    uid_before = entries(account, "INBOX")[ids[0]]

    web.put("mail/v4/messages/read", json={"IDs": [ids[0]]}).raise_for_status()
    poll(account)
    assert Message.objects.get(provider_id=ids[0]).unread is False

    web.put("mail/v4/messages/unread", json={"IDs": [ids[0]]}).raise_for_status()
    poll(account)
    assert Message.objects.get(provider_id=ids[0]).unread is True
    assert entries(account, "INBOX")[ids[0]] == uid_before


def test_starring_adds_to_starred(linked):
    account, _, ids, web = linked
    web.put(
        "mail/v4/messages/label", json={"LabelID": "10", "IDs": [ids[1]]}
    ).raise_for_status()

    poll(account)

    assert Message.objects.get(provider_id=ids[1]).starred
    assert entries(account, "Starred") == {ids[1]: 1}


def test_move_to_a_folder_keeps_the_all_mail_uid(linked):
    account, _, ids, web = linked
    web.post("core/v4/labels", json={"Name": "Receipts", "Type": 3, "Color": "#f66"})
    all_mail_uid = entries(account, "All Mail")[ids[2]]

    web.put(
        "mail/v4/messages/label",
        json={"LabelID": folder_id(web, "Receipts"), "IDs": [ids[2]]},
    ).raise_for_status()
    poll(account)

    assert ids[2] not in entries(account, "INBOX")
    assert entries(account, "Folders/Receipts") == {ids[2]: 1}
    assert entries(account, "All Mail")[ids[2]] == all_mail_uid


def test_label_added_then_removed(linked):
    account, _, ids, web = linked
    created = web.post(
        "core/v4/labels", json={"Name": "Travel", "Type": 1, "Color": "#f66"}
    ).json()["Label"]

    web.put(
        "mail/v4/messages/label", json={"LabelID": created["ID"], "IDs": ids[:2]}
    ).raise_for_status()
    poll(account)
    assert set(entries(account, "Labels/Travel")) == set(ids[:2])

    web.put(
        "mail/v4/messages/unlabel", json={"LabelID": created["ID"], "IDs": [ids[0]]}
    ).raise_for_status()
    poll(account)
    assert set(entries(account, "Labels/Travel")) == {ids[1]}
    assert ids[0] in entries(account, "INBOX")


def test_deleted_message_leaves_every_mailbox(linked):
    account, _, ids, web = linked
    web.put("mail/v4/messages/delete", json={"IDs": [ids[0]]}).raise_for_status()

    poll(account)

    assert not Message.objects.filter(provider_id=ids[0]).exists()
    assert ids[0] not in entries(account, "All Mail")


def test_renamed_folder_keeps_its_mailbox_and_uids(linked):
    account, _, ids, web = linked
    web.post("core/v4/labels", json={"Name": "Old", "Type": 3, "Color": "#f66"})
    label_id = folder_id(web, "Old")
    web.put(
        "mail/v4/messages/label", json={"LabelID": label_id, "IDs": [ids[0]]}
    ).raise_for_status()
    poll(account)
    box_id = Mailbox.objects.get(account=account, name="Folders/Old").id

    web.put(
        f"core/v4/labels/{label_id}", json={"Name": "New", "Color": "#f66"}
    ).raise_for_status()
    poll(account)

    renamed = Mailbox.objects.get(account=account, name="Folders/New")
    assert renamed.id == box_id
    assert entries(account, "Folders/New") == {ids[0]: 1}


def test_added_address_is_stored(linked, provider):
    account, user, _, _ = linked
    provider.internal("POST", f"users/{user.name}/addresses", Email="alias@proton.test")

    poll(account)

    assert Address.objects.filter(account=account, email="alias@proton.test").exists()


def test_refresh_rebuilds_the_index_with_new_uidvalidity(linked, provider):
    account, user, ids, _ = linked
    before = dict(
        Mailbox.objects.filter(account=account).values_list("name", "uidvalidity")
    )
    provider.internal("POST", f"users/{user.name}/refresh-event", Flags=1)

    summary = poll(account)
    assert "refresh" in summary
    wait_for_task("first_sync", account.id)

    account.refresh_from_db()
    assert account.state == LinkedAccount.State.READY
    after = dict(
        Mailbox.objects.filter(account=account).values_list("name", "uidvalidity")
    )
    assert all(after[name] > before[name] for name in before)
    assert set(entries(account, "INBOX")) == set(ids)


def test_one_poll_follows_more(linked, provider):
    account, user, _, web = linked
    provider.max_updates(1)
    delivered = [provider.deliver(user.name, new_mail(f"more-{n}")) for n in range(3)]

    poll(account)

    assert set(delivered) <= set(entries(account, "INBOX"))
    assert stored_event_id(account) == latest_event_id(web)


def test_a_message_that_cannot_be_fetched_is_recorded_and_fixed_later(linked, provider):
    account, user, _, web = linked
    broken = provider.deliver(user.name, new_mail("broken"))
    fine = provider.deliver(user.name, new_mail("fine"))
    provider.fault(f"/mail/v4/messages/{broken}", 422, method="GET", count=1)

    poll(account)

    assert fine in entries(account, "INBOX")
    assert broken not in entries(account, "INBOX")
    failure = EventFailure.objects.get(account=account)
    assert failure.message_ids == [broken]
    assert stored_event_id(account) == latest_event_id(web)

    poll(account)

    assert broken in entries(account, "INBOX")
    failure.refresh_from_db()
    assert failure.resolved_at is not None


def test_expired_access_token_is_refreshed_and_stored(linked, provider):
    account, user, _, _ = linked
    old_token = account.access_token
    provider.fault("/core/v4/events/", 401, count=1)
    message_id = provider.deliver(user.name, new_mail("after-401"))

    poll(account)

    account.refresh_from_db()
    assert account.access_token != old_token
    assert message_id in entries(account, "INBOX")


def test_revoked_session_needs_a_new_login(linked, provider):
    account, user, _, _ = linked
    provider.internal("POST", f"users/{user.name}/revoke")

    summary = poll(account)

    account.refresh_from_db()
    assert "needs a new login" in summary
    assert account.state == LinkedAccount.State.NEEDS_LOGIN
    assert "Log in again" in account.last_error
    assert account.session_uid == ""


@pytest.mark.parametrize("status", [429, 503], ids=["rate-limited", "unavailable"])
def test_overloaded_provider_leaves_the_event_id_and_says_so(
    linked, provider, settings, status
):
    account, user, _, _ = linked
    settings.BRIDGE_PROVIDER_ATTEMPTS = 2
    settings.BRIDGE_PROVIDER_BACKOFF = 0.01
    before = stored_event_id(account)
    provider.deliver(user.name, new_mail("later"))
    provider.fault("/core/v4/events/", status, retry_after=0)

    with pytest.raises(Exception) as failure:
        poll(account)

    assert failure.value.transient
    assert stored_event_id(account) == before
    account.refresh_from_db()
    assert "keeps trying" in account.last_error

    provider.clear_faults()
    poll(account)
    account.refresh_from_db()
    assert account.last_error == ""
    assert stored_event_id(account) != before


def test_celery_task_retries_a_transient_failure(linked, provider, settings):
    account, user, _, _ = linked
    settings.BRIDGE_PROVIDER_ATTEMPTS = 1
    message_id = provider.deliver(user.name, new_mail("retried"))
    provider.fault("/core/v4/events/", 503, count=1)

    result = tasks.poll_events.apply((account.id,))

    assert result.successful(), result.traceback
    assert message_id in entries(account, "INBOX")


def test_an_account_that_is_not_ready_is_not_polled(linked):
    account, _, _, _ = linked
    LinkedAccount.objects.filter(id=account.id).update(state="needs-login")

    assert poll(account) == "not polling: the account is needs-login"


def test_edited_draft_gets_a_new_uid(linked):
    account, _, _, _ = linked
    draft_id = async_to_sync(create_draft)(account.id, "first words")
    poll(account)
    first_uid = entries(account, "Drafts")[draft_id]

    async_to_sync(update_draft)(account.id, draft_id, "second words")
    poll(account)

    assert entries(account, "Drafts")[draft_id] > first_uid
    message = Message.objects.get(provider_id=draft_id)
    assert b"second words" in cache.read_message(message)


async def create_draft(account_id: int, text: str) -> str:
    async with open_session(account_id) as session:
        template = await draft_template(session, text)
        draft = await session.client.create_draft(template)
        return draft.id


async def update_draft(account_id: int, draft_id: str, text: str) -> None:
    async with open_session(account_id) as session:
        template = await draft_template(session, text)
        await session.client.update_draft(draft_id, template)


async def draft_template(session, text: str):
    from mailsync.provider.types import DraftTemplate, EmailAddress

    unlocked = await session.unlocked()
    address = unlocked.addresses[0]
    body = unlocked.keyring(address.id).encrypt(text.encode())
    return DraftTemplate(
        subject="A draft", sender=EmailAddress(address.email), body=body
    )


def test_keys_that_no_longer_open_need_a_new_login(linked, provider):
    account, user, _, _ = linked
    account.key_passphrase = base64.b64encode(b"not the passphrase").decode()
    account.save()
    provider.deliver(user.name, new_mail("locked"))

    poll(account)

    account.refresh_from_db()
    assert account.state == LinkedAccount.State.NEEDS_LOGIN
    assert "keys no longer open" in account.last_error
