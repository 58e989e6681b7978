"""Each IMAP change against the reference provider, as the official bridge maps it.

An account is linked and synced from the reference provider; a mail program
changes things over IMAP; the test then asks the provider itself what
happened (labels, read state, drafts, deletions) and what IMAP shows.
"""

import imaplib
import re
from dataclasses import dataclass
from typing import Any

import pytest

from mailsync import sendrecorder
from mailsync.events import poll_events
from mailsync.models import DRAFTS, INBOX, SENT, STARRED, TRASH, MailboxEntry
from mailsync.sync import first_sync
from tests.fixtures.refprovider import ProviderSession, RefProvider

pytestmark = pytest.mark.django_db(transaction=True)

FLAG_RECEIVED = 1
FLAG_SENT = 2


def message(subject: str, sender: str = "bob@example.com", **headers: str) -> bytes:
    lines = [
        f"From: {sender}",
        "To: someone@proton.test",
        f"Subject: {subject}",
        "Date: Wed, 01 May 2024 12:00:00 +0000",
        f"Message-ID: <{subject.replace(' ', '.')}@example.com>",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\nBody of " + subject + "\r\n").encode()


@dataclass
class Synced:
    """A linked, synced account: its provider user, the API, an IMAP client."""

    refprovider: RefProvider
    linked: Any
    api: ProviderSession
    imap: imaplib.IMAP4

    @property
    def username(self) -> str:
        return self.linked.user.name

    def seed(self, *subjects: str, **options: Any) -> list[str]:
        return self.refprovider.seed(
            self.username, [message(subject) for subject in subjects], **options
        )

    def provider_message(self, message_id: str) -> dict[str, Any] | None:
        response = self.api.get(f"mail/v4/messages/{message_id}")
        if response.status_code == 422:
            return None
        response.raise_for_status()
        return response.json()["Message"]

    def labels(self, message_id: str) -> set[str]:
        found = self.provider_message(message_id)
        assert found is not None, "the message is gone from the provider"
        return set(found["LabelIDs"])

    def provider_labels(self) -> dict[str, dict[str, Any]]:
        found = {}
        for label_type in (1, 3):
            response = self.api.get("core/v4/labels", params={"Type": label_type})
            for label in response.json()["Labels"]:
                found[label["Path"] if label_type == 3 else label["Name"]] = label
        return found

    def label_id(self, name: str) -> str:
        return self.provider_labels()[name]["ID"]

    def uid_of(self, mailbox: str, subject: str) -> int:
        self.imap.select(f'"{mailbox}"')
        _, data = self.imap.uid("SEARCH", "SUBJECT", f'"{subject}"')
        uids = data[0].split()
        assert len(uids) == 1, (mailbox, subject, uids)
        return int(uids[0])

    def subjects(self, mailbox: str) -> list[str]:
        status, data = self.imap.select(f'"{mailbox}"')
        assert status == "OK", data
        _, fetched = self.imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (Subject)])")
        return sorted(
            item[1].decode().split(":", 1)[1].strip()
            for item in fetched
            if isinstance(item, tuple)
        )


@pytest.fixture
def account(imap_server, link_account, refprovider) -> Synced:
    """INBOX: one, two and red (also in Labels/Red); Folders/Work: work;
    Trash: trash; Sent: sent. Linked, synced and logged in over IMAP."""
    linked = link_account()
    name = linked.user.name
    ids = {}
    ids["one"], ids["two"] = refprovider.seed(name, [message("one"), message("two")])
    (ids["work"],) = refprovider.seed(name, [message("work")], folder="Work")
    (ids["red"],) = refprovider.seed(name, [message("red")], labels=["Red"])
    (ids["trash"],) = refprovider.seed(name, [message("trash")], location="trash")
    (ids["sent"],) = refprovider.seed(name, [message("sent")], location="sent")
    first_sync(linked.account.pk)

    client = imap_server.connect()
    client.login(linked.email, linked.bridge_password)
    synced = Synced(
        refprovider, linked, refprovider.login(name, linked.user.password), client
    )
    synced.ids = ids  # type: ignore[attr-defined]
    yield synced
    try:
        client.logout()
    except (imaplib.IMAP4.error, OSError):
        pass


def ids(account: Synced) -> dict[str, str]:
    return account.ids  # type: ignore[attr-defined]


# -- STORE -----------------------------------------------------------------------


def test_seen_is_read_on_the_provider(account):
    uid = account.uid_of("INBOX", "one")
    account.imap.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")
    assert account.provider_message(ids(account)["one"])["Unread"] == 0

    account.imap.uid("STORE", str(uid), "-FLAGS", "(\\Seen)")
    assert account.provider_message(ids(account)["one"])["Unread"] == 1


def test_flagged_is_the_starred_label(account):
    uid = account.uid_of("INBOX", "one")
    account.imap.uid("STORE", str(uid), "+FLAGS", "(\\Flagged)")

    assert STARRED in account.labels(ids(account)["one"])
    assert account.subjects("Starred") == ["one"]

    account.imap.select("INBOX")
    account.imap.uid("STORE", str(uid), "-FLAGS", "(\\Flagged)")
    assert STARRED not in account.labels(ids(account)["one"])
    assert account.subjects("Starred") == []


def test_forwarded_keyword_is_forwarded_on_the_provider(account):
    uid = account.uid_of("INBOX", "one")
    _, data = account.imap.uid("STORE", str(uid), "+FLAGS", "($Forwarded)")
    assert b"$Forwarded" in data[0]
    assert account.provider_message(ids(account)["one"])["IsForwarded"] == 1


def test_deleted_answered_and_keywords_stay_local(account):
    before = account.provider_message(ids(account)["one"])
    uid = account.uid_of("INBOX", "one")
    _, data = account.imap.uid(
        "STORE", str(uid), "+FLAGS", "(\\Deleted \\Answered $Label1)"
    )

    assert set(re.findall(rb"[\\$]\w+", data[0])) >= {
        b"\\Deleted",
        b"\\Answered",
        b"$Label1",
    }
    after = account.provider_message(ids(account)["one"])
    assert after["LabelIDs"] == before["LabelIDs"]
    assert after["Unread"] == before["Unread"]


def test_fetching_the_body_marks_it_read(account):
    uid = account.uid_of("INBOX", "one")
    _, data = account.imap.uid("FETCH", str(uid), "(BODY[TEXT])")
    assert b"\\Seen" in data[0][0] or b"\\Seen" in data[1]
    assert account.provider_message(ids(account)["one"])["Unread"] == 0


def test_a_provider_refusal_is_a_no_and_changes_nothing(account):
    uid = account.uid_of("INBOX", "one")
    account.refprovider.fault("/mail/v4/messages/read", 422, code=2001)

    status, data = account.imap.uid("STORE", str(uid), "+FLAGS", "(\\Seen \\Deleted)")
    assert status == "NO"
    assert b"provider" in data[0]

    account.refprovider.clear_faults()
    _, data = account.imap.uid("FETCH", str(uid), "(FLAGS)")
    assert data == [b"1 (UID %d FLAGS ())" % uid] or b"\\Seen" not in data[0]
    assert b"\\Deleted" not in data[0]
    assert account.provider_message(ids(account)["one"])["Unread"] == 1


# -- COPY and MOVE ------------------------------------------------------------------


def test_copy_to_a_label_adds_the_label(account):
    uid = account.uid_of("INBOX", "one")
    status, data = account.imap._simple_command("UID", "COPY", str(uid), "Labels/Red")

    assert status == "OK"
    match = re.search(rb"COPYUID (\d+) (\d+) (\d+)", data[0])
    assert match is not None and int(match.group(2)) == uid
    assert {INBOX, account.label_id("Red")} <= account.labels(ids(account)["one"])
    assert account.subjects("Labels/Red") == ["one", "red"]
    assert "one" in account.subjects("INBOX")
    assert account.uid_of("Labels/Red", "one") == int(match.group(3))


def test_copy_to_all_mail_is_refused(account):
    account.imap.select("INBOX")
    status, data = account.imap.copy("1", '"All Mail"')
    assert status == "NO"
    assert b"CANNOT" in data[0]


@pytest.mark.parametrize("command", ["COPY", "MOVE"])
def test_copy_or_move_into_the_same_mailbox_is_refused(account, command):
    uid = account.uid_of("INBOX", "one")
    account.imap.select("INBOX")

    status, data = account.imap._simple_command("UID", command, str(uid), "INBOX")

    assert status == "NO"
    assert account.uid_of("INBOX", "one") == uid


def test_copy_between_inbox_and_sent_is_refused(account):
    uid = account.uid_of("INBOX", "one")
    account.imap.select("INBOX")

    status, _ = account.imap._simple_command("UID", "COPY", str(uid), "Sent")

    assert status == "NO"
    assert SENT not in account.labels(ids(account)["one"])


def test_copy_to_a_missing_mailbox_says_trycreate(account):
    account.imap.select("INBOX")
    status, data = account.imap.copy("1", "Folders/Nowhere")
    assert status == "NO"
    assert b"TRYCREATE" in data[0]


def test_move_to_a_folder_leaves_inbox(account):
    uid = account.uid_of("INBOX", "one")
    status, data = account.imap._simple_command("UID", "MOVE", str(uid), "Folders/Work")

    assert status == "OK"
    assert account.imap.untagged_responses.get("EXPUNGE")
    labels = account.labels(ids(account)["one"])
    assert account.label_id("Work") in labels
    assert INBOX not in labels
    assert account.subjects("Folders/Work") == ["one", "work"]
    assert account.subjects("INBOX") == ["red", "two"]


def test_move_from_a_label_to_inbox_removes_the_label(account):
    red = account.label_id("Red")
    uid = account.uid_of("Labels/Red", "red")
    account.imap._simple_command("UID", "MOVE", str(uid), "INBOX")

    labels = account.labels(ids(account)["red"])
    assert red not in labels
    assert INBOX in labels
    assert account.subjects("Labels/Red") == []


def test_move_into_a_label_keeps_the_message_where_it_was(account):
    uid = account.uid_of("INBOX", "one")
    status, _ = account.imap._simple_command("UID", "MOVE", str(uid), "Labels/Red")

    assert status == "OK"
    assert "EXPUNGE" not in account.imap.untagged_responses
    assert {INBOX, account.label_id("Red")} <= account.labels(ids(account)["one"])
    assert "one" in account.subjects("INBOX")


def test_move_between_inbox_and_sent_is_refused(account):
    uid = account.uid_of("INBOX", "one")
    status, data = account.imap._simple_command("UID", "MOVE", str(uid), "Sent")
    assert status == "NO"
    assert INBOX in account.labels(ids(account)["one"])


# -- EXPUNGE ------------------------------------------------------------------------


def expunge(account: Synced, mailbox: str, subject: str) -> tuple[str, list]:
    uid = account.uid_of(mailbox, subject)
    account.imap.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
    return account.imap.expunge()


def test_expunge_in_a_folder_takes_the_folder_off(account):
    status, data = expunge(account, "Folders/Work", "work")

    assert status == "OK" and data == [b"1"]
    assert account.label_id("Work") not in account.labels(ids(account)["work"])
    assert account.subjects("Folders/Work") == []


def test_expunge_in_a_label_takes_the_label_off(account):
    status, _ = expunge(account, "Labels/Red", "red")
    assert status == "OK"
    labels = account.labels(ids(account)["red"])
    assert account.label_id("Red") not in labels
    assert INBOX in labels


def test_expunge_in_trash_deletes_for_good(account):
    status, _ = expunge(account, "Trash", "trash")
    assert status == "OK"
    assert account.provider_message(ids(account)["trash"]) is None
    assert account.subjects("Trash") == []
    assert "trash" not in account.subjects("All Mail")


def test_expunge_in_trash_keeps_a_message_with_other_labels(account):
    account.imap.select('"Labels/Red"')
    account.imap._simple_command(
        "UID", "MOVE", str(account.uid_of("Labels/Red", "red")), "Trash"
    )
    uid = account.uid_of("Trash", "red")
    account.imap.uid("COPY", str(uid), "Labels/Red")

    status, _ = expunge(account, "Trash", "red")
    assert status == "OK"
    labels = account.labels(ids(account)["red"])
    assert TRASH not in labels
    assert account.label_id("Red") in labels


def test_expunge_in_all_mail_is_refused(account):
    status, data = expunge(account, "All Mail", "one")
    assert status == "NO"
    assert INBOX in account.labels(ids(account)["one"])


# -- APPEND -------------------------------------------------------------------------


def test_append_to_inbox_imports_a_received_message(account):
    raw = message("appended", Received="from mx.example.com by us")
    status, data = account.imap.append("INBOX", "(\\Seen $Label2)", None, raw)

    assert status == "OK"
    match = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
    assert match is not None
    uid = int(match.group(2))
    account.imap.select("INBOX")
    _, fetched = account.imap.uid("FETCH", str(uid), "(FLAGS BODY.PEEK[TEXT])")
    assert b"\\Seen" in fetched[0][0] and b"$Label2" in fetched[0][0]
    assert fetched[0][1] == b"Body of appended\r\n"

    provider_id = MailboxEntry.objects.get(
        mailbox__account=account.linked.account, mailbox__name="INBOX", uid=uid
    ).message.provider_id
    stored = account.provider_message(provider_id)
    assert INBOX in stored["LabelIDs"]
    assert stored["Flags"] & FLAG_RECEIVED
    assert stored["Unread"] == 0


def test_append_elsewhere_without_received_is_sent_mail(account):
    status, data = account.imap.append(
        "Folders/Work", "(\\Flagged)", None, message("filed")
    )
    assert status == "OK"

    uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
    provider_id = MailboxEntry.objects.get(
        mailbox__account=account.linked.account, mailbox__name="Folders/Work", uid=uid
    ).message.provider_id
    stored = account.provider_message(provider_id)
    assert stored["Flags"] & FLAG_SENT
    assert STARRED in stored["LabelIDs"]
    assert stored["Unread"] == 1


def test_append_to_drafts_creates_a_draft(account):
    raw = message("my draft", sender=account.linked.email)
    status, data = account.imap.append("Drafts", "(\\Seen)", None, raw)
    assert status == "OK"

    assert account.subjects("Drafts") == ["my draft"]
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
    provider_id = MailboxEntry.objects.get(
        mailbox__account=account.linked.account, mailbox__name="Drafts", uid=uid
    ).message.provider_id
    stored = account.provider_message(provider_id)
    assert DRAFTS in stored["LabelIDs"]
    assert not stored["Flags"] & (FLAG_RECEIVED | FLAG_SENT)
    _, fetched = account.imap.uid("FETCH", str(uid), "(FLAGS)")
    assert b"\\Draft" in fetched[0]


def test_append_to_all_mail_is_refused(account):
    status, data = account.imap.append('"All Mail"', None, None, message("x"))
    assert status == "NO"


def test_append_of_an_empty_message_is_refused(account):
    status, data = account.imap.append("INBOX", None, None, b"")
    assert status == "NO"
    assert b"CANNOT" in data[0]


def test_append_to_sent_right_after_sending_returns_the_sent_copy(account):
    raw = message("sent")
    sendrecorder.record_sent(
        account.linked.account, sendrecorder.message_hash(raw), ids(account)["sent"]
    )
    status, data = account.imap.append("Sent", "(\\Seen)", None, raw)

    assert status == "OK"
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
    assert account.uid_of("Sent", "sent") == uid
    assert account.subjects("Sent") == ["sent"]


# -- CREATE, RENAME, DELETE ------------------------------------------------------------


def test_create_folders_and_labels(account):
    assert account.imap.create("Folders/Projects")[0] == "OK"
    assert account.imap.create("Folders/Projects/2024")[0] == "OK"
    assert account.imap.create("Labels/Blue")[0] == "OK"

    labels = account.provider_labels()
    assert labels["Projects/2024"]["ParentID"] == labels["Projects"]["ID"]
    assert labels["Blue"]["Type"] == 1
    _, listed = account.imap.list('""', "*")
    assert b'(\\HasChildren) "/" "Folders/Projects"' in listed
    assert b'(\\HasNoChildren) "/" "Folders/Projects/2024"' in listed


@pytest.mark.parametrize(
    "name, code",
    [
        ("Elsewhere", b"CANNOT"),
        ("Labels/A/B", b"CANNOT"),
        ("Folders/Missing/Child", b"NONEXISTENT"),
        ("Folders/Work", b"ALREADYEXISTS"),
        ("INBOX", b"ALREADYEXISTS"),
        ('"Folders/ lead"', b"CANNOT"),
        ('"Labels/trail "', b"CANNOT"),
    ],
)
def test_create_refusals(account, name, code):
    status, data = account.imap.create(name)
    assert status == "NO"
    assert code in data[0]


def test_rename_a_folder_and_a_label(account):
    assert account.imap.rename("Folders/Work", "Folders/Job")[0] == "OK"
    assert account.imap.rename("Labels/Red", "Labels/Crimson")[0] == "OK"

    labels = account.provider_labels()
    assert "Job" in labels and "Work" not in labels
    assert "Crimson" in labels
    assert account.subjects("Folders/Job") == ["work"]


def test_rename_across_kinds_or_of_system_mailboxes_is_refused(account):
    assert account.imap.rename("Folders/Work", "Labels/Work")[0] == "NO"
    assert account.imap.rename("Sent", "Folders/Sent")[0] == "NO"
    assert account.imap.rename("INBOX", "Folders/Old")[0] == "NO"


def test_delete_a_folder(account):
    assert account.imap.delete("Folders/Work")[0] == "OK"
    assert "Work" not in account.provider_labels()
    _, listed = account.imap.list('""', "Folders/*")
    assert listed == [None]
    assert "work" in account.subjects("All Mail")


def test_delete_of_a_system_mailbox_is_refused(account):
    status, data = account.imap.delete("Trash")
    assert status == "NO"


# -- the event feed afterwards --------------------------------------------------------


def test_the_events_of_our_own_changes_keep_every_uid(account):
    uid = account.uid_of("INBOX", "one")
    account.imap.uid("STORE", str(uid), "+FLAGS", "(\\Seen \\Flagged)")
    account.imap.uid("COPY", str(uid), "Labels/Red")
    before = set(
        MailboxEntry.objects.filter(
            mailbox__account=account.linked.account
        ).values_list("mailbox__name", "uid", "message__provider_id")
    )

    poll_events(account.linked.account.pk)

    after = set(
        MailboxEntry.objects.filter(
            mailbox__account=account.linked.account
        ).values_list("mailbox__name", "uid", "message__provider_id")
    )
    assert after == before


def test_a_message_arriving_reaches_an_idling_client(account, imap_server):
    from imapclient import IMAPClient

    with IMAPClient("127.0.0.1", imap_server.port, ssl=False) as idler:
        idler.login(account.linked.email, account.linked.bridge_password)
        idler.select_folder("INBOX")
        idler.idle()

        account.refprovider.deliver(account.username, message("fresh"))
        poll_events(account.linked.account.pk)

        responses = idler.idle_check(timeout=5)
        idler.idle_done()
    # INBOX held one, two and red (a labelled message stays in INBOX).
    assert (4, b"EXISTS") in responses


def test_sent_mail_stays_in_sent(account):
    assert account.subjects("Sent") == ["sent"]
    assert SENT in account.labels(ids(account)["sent"])
