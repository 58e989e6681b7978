"""The index writer: mailbox mapping, UIDs, upserts and resets."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from mailsync import cache, index
from mailsync.index import Content, LabelInfo, MessageInfo
from mailsync.models import Mailbox, MailboxEntry, Message

FOLDER = index.LABEL_TYPE_FOLDER
LABEL = index.LABEL_TYPE_LABEL

LABELS = [
    LabelInfo("f-work", "Work", FOLDER, path="Work"),
    LabelInfo("f-proj", "Projects", FOLDER, parent_id="f-work", path="Work/Projects"),
    LabelInfo("l-imp", "Important", LABEL, color="#f66"),
    LabelInfo("contacts", "Family", index.LABEL_TYPE_CONTACT_GROUP),
]


def names(account):
    return set(Mailbox.objects.filter(account=account).values_list("name", flat=True))


def box(account, name):
    return Mailbox.objects.get(account=account, name=name)


def info(provider_id, *label_ids, **fields):
    fields.setdefault("time", datetime(2024, 1, 1, tzinfo=UTC))
    return MessageInfo(provider_id=provider_id, label_ids=list(label_ids), **fields)


def content(text="hello"):
    raw = f"Subject: {text}\r\n\r\n{text}\r\n".encode()
    return Content(raw=raw, envelope=b"(NIL)", search={"subject": text})


def uids(account, name):
    entries = MailboxEntry.objects.filter(mailbox=box(account, name)).order_by("uid")
    return [(entry.message.provider_id, entry.uid) for entry in entries]


@pytest.fixture
def mailboxes(account):
    index.sync_mailboxes(account, LABELS)
    return account


def test_mailboxes_follow_the_official_mapping(mailboxes):
    assert names(mailboxes) == {
        "INBOX",
        "Drafts",
        "Sent",
        "Starred",
        "Archive",
        "Spam",
        "Trash",
        "All Mail",
        "Folders",
        "Folders/Work",
        "Folders/Work/Projects",
        "Labels",
        "Labels/Important",
    }
    assert box(mailboxes, "Spam").special_use == "\\Junk"
    assert box(mailboxes, "Starred").label_id == "10"
    assert box(mailboxes, "Folders").kind == Mailbox.Kind.PLACEHOLDER
    assert box(mailboxes, "Labels/Important").color == "#f66"


def test_folder_path_comes_from_parents_when_missing(account):
    labels = [
        LabelInfo("a", "Top", FOLDER),
        LabelInfo("b", "Middle", FOLDER, parent_id="a"),
        LabelInfo("c", "Leaf", FOLDER, parent_id="b"),
    ]
    index.sync_mailboxes(account, labels)
    assert "Folders/Top/Middle/Leaf" in names(account)


def test_sync_mailboxes_renames_and_removes(mailboxes):
    work_id = box(mailboxes, "Folders/Work").id
    renamed = [
        LabelInfo("f-work", "Job", FOLDER, path="Job"),
        LabelInfo(
            "f-proj", "Projects", FOLDER, parent_id="f-work", path="Job/Projects"
        ),
    ]
    index.sync_mailboxes(mailboxes, renamed)

    assert box(mailboxes, "Folders/Job").id == work_id
    assert "Folders/Job/Projects" in names(mailboxes)
    assert "Labels/Important" not in names(mailboxes)


def test_two_folders_can_swap_names(mailboxes):
    both = [
        LabelInfo("x", "One", FOLDER, path="One"),
        LabelInfo("y", "Two", FOLDER, path="Two"),
    ]
    index.sync_mailboxes(mailboxes, both)
    one_id = box(mailboxes, "Folders/One").id
    swapped = [
        LabelInfo("x", "Two", FOLDER, path="Two"),
        LabelInfo("y", "One", FOLDER, path="One"),
    ]
    index.sync_mailboxes(mailboxes, swapped)
    assert box(mailboxes, "Folders/Two").id == one_id


def test_renaming_a_folder_event_moves_its_subfolders(mailboxes):
    index.apply_label(mailboxes, LabelInfo("f-work", "Job", FOLDER, path="Job"))
    assert {"Folders/Job", "Folders/Job/Projects"} <= names(mailboxes)
    assert "Folders/Work" not in names(mailboxes)


def test_label_event_creates_and_delete_removes(mailboxes):
    changed = index.apply_label(mailboxes, LabelInfo("l-new", "Later", LABEL))
    created = box(mailboxes, "Labels/Later")
    assert created.id in changed

    assert index.delete_label(mailboxes, "l-new") == {created.id}
    assert "Labels/Later" not in names(mailboxes)


def test_label_event_refuses_a_name_clash(mailboxes):
    with pytest.raises(index.IndexConflict):
        index.apply_label(mailboxes, LabelInfo("l-other", "Important", LABEL))


def test_message_lands_in_its_mailboxes_and_all_mail(mailboxes):
    changed = index.upsert_message(
        mailboxes, info("m1", "0", "10", "l-imp", "5"), content()
    )
    expected = {
        box(mailboxes, name).id
        for name in ("INBOX", "Starred", "Labels/Important", "All Mail")
    }
    assert changed == expected
    assert (
        set(
            MailboxEntry.objects.filter(message__provider_id="m1").values_list(
                "mailbox_id", flat=True
            )
        )
        == expected
    )


def test_all_mail_gets_every_message_even_without_label_5(mailboxes):
    index.upsert_message(mailboxes, info("m1", "f-proj"), content())
    assert uids(mailboxes, "All Mail") == [("m1", 1)]
    assert uids(mailboxes, "Folders/Work/Projects") == [("m1", 1)]


def test_uids_ascend_in_application_order(mailboxes):
    for provider_id in ("m3", "m2", "m1"):
        index.upsert_message(mailboxes, info(provider_id, "0"), content(provider_id))
    assert uids(mailboxes, "INBOX") == [("m3", 1), ("m2", 2), ("m1", 3)]
    assert box(mailboxes, "INBOX").uidnext == 4


def test_upserting_the_same_message_again_changes_nothing(mailboxes):
    index.upsert_message(mailboxes, info("m1", "0"), content())
    before = uids(mailboxes, "INBOX")

    changed = index.upsert_message(mailboxes, info("m1", "0"), content())

    assert changed == set()
    assert uids(mailboxes, "INBOX") == before
    assert Message.objects.filter(account=mailboxes).count() == 1


def test_moving_keeps_uids_of_unchanged_entries(mailboxes):
    index.upsert_message(mailboxes, info("m0", "f-work"), content("zero"))
    index.upsert_message(mailboxes, info("m1", "0", "l-imp"), content())
    label_uid = uids(mailboxes, "Labels/Important")

    changed = index.update_message(mailboxes, info("m1", "f-work", "l-imp"))

    assert changed == {box(mailboxes, "INBOX").id, box(mailboxes, "Folders/Work").id}
    assert uids(mailboxes, "INBOX") == []
    assert uids(mailboxes, "Folders/Work") == [("m0", 1), ("m1", 2)]
    assert uids(mailboxes, "Labels/Important") == label_uid


def test_flag_change_reports_every_mailbox_of_the_message(mailboxes):
    index.upsert_message(mailboxes, info("m1", "0", unread=True), content())
    changed = index.update_message(mailboxes, info("m1", "0", unread=False))
    assert changed == {box(mailboxes, "INBOX").id, box(mailboxes, "All Mail").id}
    assert Message.objects.get(provider_id="m1").unread is False


def test_update_of_an_unknown_message_says_so(mailboxes):
    assert index.update_message(mailboxes, info("nobody", "0")) is None


def test_changed_content_gets_new_uids(mailboxes):
    draft = info("d1", "8", "1")
    index.upsert_message(mailboxes, draft, content("first draft"))
    index.upsert_message(mailboxes, draft, content("second draft"))

    assert uids(mailboxes, "Drafts") == [("d1", 2)]
    message = Message.objects.get(provider_id="d1")
    assert (
        cache.read_message(message) == b"Subject: second draft\r\n\r\nsecond draft\r\n"
    )
    assert cache.read_search_fields(message) == {"subject": "second draft"}


def test_cached_body_does_not_open_for_another_message(mailboxes):
    index.upsert_message(mailboxes, info("m1", "0"), content())
    sealed = bytes(Message.objects.get(provider_id="m1").cached.sealed)
    with pytest.raises(Exception, match="cannot decrypt"):
        cache.open_body(mailboxes.id, "m2", sealed)


def test_delete_removes_everywhere(mailboxes):
    index.upsert_message(mailboxes, info("m1", "0", "l-imp"), content())
    changed = index.delete_message(mailboxes, "m1")
    assert box(mailboxes, "Labels/Important").id in changed
    assert not MailboxEntry.objects.exists()
    assert index.delete_message(mailboxes, "m1") == set()


def test_deleted_label_takes_its_entries(mailboxes):
    index.upsert_message(mailboxes, info("m1", "0", "l-imp"), content())
    index.delete_label(mailboxes, "l-imp")
    assert uids(mailboxes, "INBOX") == [("m1", 1)]
    assert MailboxEntry.objects.count() == 2


def test_reset_gives_new_uidvalidity_and_restarts_uids(mailboxes):
    index.upsert_message(mailboxes, info("m1", "0"), content())
    before = {b.id: b.uidvalidity for b in Mailbox.objects.filter(account=mailboxes)}

    index.reset_index(mailboxes)

    for mailbox in Mailbox.objects.filter(account=mailboxes):
        assert mailbox.uidvalidity > before[mailbox.id]
        assert mailbox.uidnext == 1
    assert not Message.objects.filter(account=mailboxes).exists()


def test_recreated_mailbox_never_reuses_uidvalidity(mailboxes):
    old = box(mailboxes, "Labels/Important").uidvalidity
    index.delete_label(mailboxes, "l-imp")
    index.apply_label(mailboxes, LabelInfo("l-imp2", "Important", LABEL))
    assert box(mailboxes, "Labels/Important").uidvalidity > old


def test_known_message_ids(mailboxes):
    index.upsert_message(mailboxes, info("m1", "0"), content())
    assert index.known_message_ids(mailboxes, ["m1", "m2"]) == {"m1"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_distinct_ascending_uids(mailboxes):
    errors = []

    def write(prefix):
        try:
            for number in range(10):
                provider_id = f"{prefix}-{number}"
                index.upsert_message(mailboxes, info(provider_id, "0"), content())
        except Exception as exc:  # reported below, with the thread's error
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(p,)) for p in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    entries = uids(mailboxes, "INBOX")
    assert [uid for _, uid in entries] == list(range(1, 31))
    for prefix in "abc":
        own = [uid for provider_id, uid in entries if provider_id.startswith(prefix)]
        assert own == sorted(own)


def test_batch_insert_gives_uids_in_batch_order(mailboxes):
    index.upsert_message(mailboxes, info("m0", "0"), content("zero"))
    batch = [
        (info("m1", "0", "10"), content("one")),
        (info("m2", "f-work"), content("two")),
        (info("m3", "0"), content("three")),
    ]

    changed = index.upsert_messages(mailboxes, batch)

    assert uids(mailboxes, "INBOX") == [("m0", 1), ("m1", 2), ("m3", 3)]
    assert uids(mailboxes, "Starred") == [("m1", 1)]
    assert uids(mailboxes, "All Mail") == [("m0", 1), ("m1", 2), ("m2", 3), ("m3", 4)]
    assert box(mailboxes, "Folders/Work").id in changed
    assert box(mailboxes, "INBOX").uidnext == 4
    message = Message.objects.get(provider_id="m2")
    assert cache.read_message(message) == content("two").raw


def test_batch_with_a_known_message_updates_it_in_place(mailboxes):
    index.upsert_message(mailboxes, info("m1", "0"), content("one"))

    index.upsert_messages(
        mailboxes,
        [(info("m1", "0", "l-imp"), content("one")), (info("m2", "0"), content())],
    )

    assert uids(mailboxes, "INBOX") == [("m1", 1), ("m2", 2)]
    assert uids(mailboxes, "Labels/Important") == [("m1", 1)]
