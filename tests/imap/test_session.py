"""Whole IMAP conversations against a real listener, on an indexed account.

These tests need no provider: the mail is put into the index the way the
sync does, and only commands that never call the provider are used (local
keywords and \\Deleted are kept by the bridge itself).
"""

import imaplib
import ssl

import pytest
from imapclient import IMAPClient

from mailsync import index, notify
from mailsync.models import ARCHIVE, INBOX, STARRED, Mailbox
from tests.fixtures.imap import HOST, Wire, index_raw, mailbox

pytestmark = pytest.mark.django_db(transaction=True)


def message(subject: str, body: str = "Hello there", **headers: str) -> bytes:
    lines = [
        "From: Bob Example <bob@example.com>",
        "To: Alice <alice@proton.test>",
        f"Subject: {subject}",
        "Date: Wed, 01 May 2024 12:00:00 +0200",
        f"Message-ID: <{subject.replace(' ', '.')}@example.com>",
    ]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.fixture
def client(imap_server, mail_account):
    connection = mail_account.login(imap_server)
    yield connection
    try:
        connection.logout()
    except (imaplib.IMAP4.error, OSError):
        pass


# -- greeting, capabilities, login ------------------------------------------------


def test_greeting_and_capabilities_before_login(imap_server):
    wire = Wire(imap_server.port)
    assert wire.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 ")

    lines = wire.command(b"a1", b"CAPABILITY")
    capabilities = lines[0].split()
    # On loopback a login without TLS is allowed, as with the official bridge.
    assert b"STARTTLS" in capabilities
    assert b"AUTH=PLAIN" in capabilities
    assert b"LOGINDISABLED" not in capabilities
    assert b"UIDPLUS" not in capabilities
    wire.close()


def test_capabilities_after_login(client):
    _, data = client.capability()
    capabilities = set(data[0].decode().split())
    assert {
        "IMAP4rev1",
        "IDLE",
        "UIDPLUS",
        "MOVE",
        "UNSELECT",
        "ID",
        "NAMESPACE",
        "ENABLE",
        "LITERAL+",
        "SPECIAL-USE",
        "CHILDREN",
    } <= capabilities
    assert "STARTTLS" not in capabilities


def test_wrong_password_is_refused(imap_server, mail_account):
    connection = imap_server.connect()
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        connection.login(mail_account.email, "not-the-password")


def test_login_with_any_case_of_the_address(imap_server, mail_account):
    connection = imap_server.connect()
    status, _ = connection.login(mail_account.email.upper(), mail_account.password)
    assert status == "OK"


def test_authenticate_plain(imap_server, mail_account):
    connection = imap_server.connect()
    credentials = f"\0{mail_account.email}\0{mail_account.password}".encode()
    status, _ = connection.authenticate("PLAIN", lambda _: credentials)
    assert status == "OK"


def test_authenticate_plain_with_initial_response(imap_server, mail_account):
    import base64

    credentials = f"\0{mail_account.email}\0{mail_account.password}".encode()
    wire = Wire(imap_server.port)
    lines = wire.command(b"a1", b"AUTHENTICATE PLAIN " + base64.b64encode(credentials))
    assert lines[-1].startswith(b"a1 OK")
    wire.close()


def test_starttls_then_login(imap_server, mail_account):
    connection = imap_server.connect()
    connection.starttls(imap_server.client_tls_context())
    status, _ = connection.login(mail_account.email, mail_account.password)
    assert status == "OK"


def test_commands_sent_with_starttls_are_dropped(imap_server):
    wire = Wire(imap_server.port)
    # A pipelined command after STARTTLS must not run after the handshake.
    wire.send(b"a1 STARTTLS\r\na2 NOOP\r\n")
    assert wire.line().startswith(b"a1 OK")
    context = imap_server.client_tls_context()
    secure = context.wrap_socket(wire.sock, server_hostname=HOST)
    secure.sendall(b"a3 NOOP\r\n")
    assert secure.recv(1000).startswith(b"a3 OK")
    secure.close()


def test_implicit_tls_port(imap_server, mail_account):
    context = imap_server.client_tls_context()
    connection = imaplib.IMAP4_SSL(
        HOST, imap_server.implicit_tls_port, ssl_context=context
    )
    assert "STARTTLS" not in connection.capabilities
    status, _ = connection.login(mail_account.email, mail_account.password)
    assert status == "OK"


def test_plain_tcp_is_not_mistaken_for_tls(imap_server):
    context = imap_server.client_tls_context()
    with pytest.raises((ssl.SSLError, OSError)):
        imaplib.IMAP4_SSL(HOST, imap_server.port, ssl_context=context, timeout=5)


# -- robustness ---------------------------------------------------------------------


def test_malformed_commands_get_bad_and_the_connection_goes_on(imap_server):
    wire = Wire(imap_server.port)
    for garbage in (
        b"\r\n",
        b"a1\r\n",
        b"a2 FROB\r\n",
        b"a3 LOGIN\r\n",
        b'a4 LOGIN "unterminated\r\n',
        b"a5 FETCH 1:* (FLAGS\r\n",
        b"* NOOP\r\n",
        b"\xff\xfe\x00\r\n",
    ):
        wire.send(garbage)
    wire.send(b"a9 NOOP\r\n")
    lines = wire.until_tagged(b"a9")

    assert lines[-1].startswith(b"a9 OK")
    assert all(b" BAD " in line for line in lines[:-1])
    wire.close()


def test_commands_need_the_right_state(imap_server, mail_account):
    wire = Wire(imap_server.port)
    assert b"BAD" in wire.command(b"a1", b"SELECT INBOX")[-1]
    wire.command(
        b"a2",
        b"LOGIN " + mail_account.email.encode() + b" " + mail_account.password.encode(),
    )
    assert b"BAD" in wire.command(b"a3", b"FETCH 1 FLAGS")[-1]
    assert b"BAD" in wire.command(b"a4", b"LOGIN x y")[-1]
    wire.close()


def test_too_long_a_line_is_refused(imap_server):
    wire = Wire(imap_server.port)
    wire.send(b"a1 NOOP " + b"x" * 100_000 + b"\r\n")
    assert b"a1 BAD" in wire.until_tagged(b"a1")[-1]
    assert wire.command(b"a2", b"NOOP")[-1].startswith(b"a2 OK")
    wire.close()


def test_literal_plus_needs_no_continuation(client):
    client.send(b"a1 STATUS {5+}\r\nINBOX (MESSAGES)\r\n")
    assert client.readline().startswith(b'* STATUS "INBOX"')
    assert client.readline().startswith(b"a1 OK")


# -- mailboxes ------------------------------------------------------------------------


def test_list_in_the_official_order_with_special_use(client, mail_account):
    index.sync_mailboxes(
        mail_account.account,
        [
            index.LabelInfo("f1", "Work", index.LABEL_TYPE_FOLDER, path="Work"),
            index.LabelInfo("f2", "Sub", index.LABEL_TYPE_FOLDER, "f1", "Work/Sub"),
            index.LabelInfo("l1", "Red", index.LABEL_TYPE_LABEL),
        ],
    )
    status, lines = client.list()
    assert status == "OK"
    assert lines == [
        b'(\\HasNoChildren) "/" "INBOX"',
        b'(\\HasNoChildren \\Drafts) "/" "Drafts"',
        b'(\\HasNoChildren \\Sent) "/" "Sent"',
        b'(\\HasNoChildren \\Flagged) "/" "Starred"',
        b'(\\HasNoChildren \\Archive) "/" "Archive"',
        b'(\\HasNoChildren \\Junk) "/" "Spam"',
        b'(\\HasNoChildren \\Trash) "/" "Trash"',
        b'(\\HasNoChildren \\All) "/" "All Mail"',
        b'(\\Noselect \\HasChildren) "/" "Folders"',
        b'(\\HasChildren) "/" "Folders/Work"',
        b'(\\HasNoChildren) "/" "Folders/Work/Sub"',
        b'(\\Noselect \\HasChildren) "/" "Labels"',
        b'(\\HasNoChildren) "/" "Labels/Red"',
    ]


def test_list_patterns(client, mail_account):
    index.sync_mailboxes(
        mail_account.account,
        [
            index.LabelInfo("f1", "Work", index.LABEL_TYPE_FOLDER, path="Work"),
            index.LabelInfo("f2", "Sub", index.LABEL_TYPE_FOLDER, "f1", "Work/Sub"),
        ],
    )
    _, top = client.list('""', "%")
    assert b'(\\Noselect \\HasChildren) "/" "Folders"' in top
    assert not any(b"Work" in line for line in top)

    _, children = client.list("Folders/", "%")
    assert children == [b'(\\HasChildren) "/" "Folders/Work"']

    _, inbox = client.list('""', "inbox")
    assert inbox == [b'(\\HasNoChildren) "/" "INBOX"']

    _, root = client.list('""', '""')
    assert root == [b'(\\Noselect) "/" ""']


def test_modified_utf7_names(client, mail_account):
    index.sync_mailboxes(
        mail_account.account,
        [index.LabelInfo("f1", "Entwürfe & Co", index.LABEL_TYPE_FOLDER)],
    )
    _, lines = client.list("Folders/", "*")
    assert lines == [b'(\\HasNoChildren) "/" "Folders/Entw&APw-rfe &- Co"']

    status, _ = client.select('"Folders/Entw&APw-rfe &- Co"')
    assert status == "OK"


def test_list_extended_special_use_selection(imap_server, mail_account):
    with IMAPClient(HOST, imap_server.port, ssl=False) as client:
        client.login(mail_account.email, mail_account.password)
        assert client.find_special_folder(b"\\Sent") == "Sent"
        assert client.find_special_folder(b"\\Trash") == "Trash"

    wire = Wire(imap_server.port)
    wire.command(
        b"a1",
        b"LOGIN " + mail_account.email.encode() + b" " + mail_account.password.encode(),
    )
    lines = wire.command(b"a2", b'LIST (SPECIAL-USE) "" "*" RETURN (STATUS (MESSAGES))')
    names = [line for line in lines if line.startswith(b"* LIST")]
    assert len(names) == 7
    assert any(line.startswith(b'* STATUS "Sent" (MESSAGES 0)') for line in lines)
    wire.close()


def test_status(client, mail_account):
    index_raw(mail_account, [message("one"), message("two")])
    index_raw(mail_account, [message("three")], unread=False)

    status, lines = client.status(
        "INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY RECENT)"
    )
    inbox = mailbox(mail_account, "INBOX")
    assert status == "OK"
    # Indexed while the listener ran and before anyone selected: recent.
    assert lines == [
        b'"INBOX" (MESSAGES 3 UNSEEN 2 UIDNEXT 4 UIDVALIDITY %d RECENT 3)'
        % inbox.uidvalidity
    ]


def test_status_of_a_missing_mailbox(client):
    status, lines = client.status("Nowhere", "(MESSAGES)")
    assert status == "NO"
    assert b"NONEXISTENT" in lines[0]


def test_subscribe_and_lsub(client):
    client.unsubscribe("Spam")
    _, lines = client.lsub()
    assert b'() "/" "Spam"' not in lines
    assert b'() "/" "INBOX"' in lines

    client.subscribe("Spam")
    _, lines = client.lsub('""', "Sp*")
    assert lines == [b'() "/" "Spam"']


def test_namespace_id_and_enable(client):
    status, lines = client._simple_command("NAMESPACE")
    assert status == "OK"
    assert client.untagged_responses["NAMESPACE"] == [b'(("" "/")) NIL NIL']

    typ, data = client.xatom("ID", '("name" "test" "version" "1")')
    assert typ == "OK"
    assert b'"name" "Mail bridge"' in client.untagged_responses["ID"][0]

    typ, _ = client.xatom("ENABLE", "CONDSTORE")
    assert typ == "OK"


def test_select_reports_the_mailbox(client, mail_account):
    index_raw(mail_account, [message("one"), message("two")])
    inbox = mailbox(mail_account, "INBOX")

    client.select("INBOX")
    responses = client.untagged_responses
    assert responses["EXISTS"] == [b"2"]
    assert responses["UNSEEN"] == [b"1"]
    assert responses["UIDVALIDITY"] == [b"%d" % inbox.uidvalidity]
    assert responses["UIDNEXT"] == [b"3"]
    assert b"\\*" in responses["PERMANENTFLAGS"][0]
    assert b"\\Draft" in responses["FLAGS"][0]


def test_examine_is_read_only(client, mail_account):
    index_raw(mail_account, [message("one")])
    client.select("INBOX", readonly=True)
    status, _ = client.store("1", "+FLAGS", "(keyword)")
    assert status == "NO"


def test_placeholders_cannot_be_selected(client):
    status, lines = client.select("Folders")
    assert status == "NO"
    assert b"CANNOT" in lines[0]


def test_create_at_the_root_is_refused(client):
    status, lines = client.create("Projects")
    assert status == "NO"
    assert b"CANNOT" in lines[0]


# -- FETCH ----------------------------------------------------------------------------


def test_fetch_the_usual_items(client, mail_account):
    raw = message("fetch me", "Body text")
    index_raw(mail_account, [raw])
    client.select("INBOX")

    status, data = client.uid(
        "FETCH", "1", "(FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])"
    )
    assert status == "OK"
    head, body = data[0]
    assert b"UID 1" in head
    assert b"RFC822.SIZE %d" % len(raw) in head
    assert b'INTERNALDATE "01-May-2024 12:00:00 +0000"' in head
    assert body == raw


def test_partial_fetch_is_cut_to_the_real_size(client, mail_account):
    raw = message("partial")
    index_raw(mail_account, [raw])
    client.select("INBOX")

    _, data = client.uid("FETCH", "1", "(BODY.PEEK[]<0.393216>)")
    head, body = data[0]
    assert b"BODY[]<0> {%d}" % len(raw) in head
    assert body == raw


def test_fetch_header_fields_as_thunderbird_asks(client, mail_account):
    index_raw(mail_account, [message("tb", X_Priority="1")])
    client.select("INBOX")

    _, data = client.uid(
        "FETCH",
        "1:*",
        "(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject "
        "Date Message-ID Priority X-Priority References Newsgroups In-Reply-To "
        "Content-Type Reply-To)])",
    )
    head, fields = data[0]
    assert b"BODY[HEADER.FIELDS (FROM TO CC BCC SUBJECT" in head
    assert fields.endswith(b"X-Priority: 1\r\n\r\n")
    assert fields.startswith(b"From: Bob Example <bob@example.com>\r\n")


def test_sequence_numbers_past_the_end_are_bad(client, mail_account):
    index_raw(mail_account, [message("only")])
    client.select("INBOX")
    with pytest.raises(imaplib.IMAP4.error, match="Invalid message sequence number"):
        client.fetch("5", "(FLAGS)")


def test_uid_ranges_with_star(client, mail_account):
    index_raw(mail_account, [message("one"), message("two")])
    client.select("INBOX")
    # RFC 3501: 10:* is the same as *:10, so the last message answers.
    _, data = client.uid("FETCH", "10:*", "(UID)")
    assert data == [b"2 (UID 2)"]


def test_fetch_on_an_empty_mailbox(client):
    client.select("Trash")
    status, data = client.fetch("1:*", "(FLAGS)")
    assert status == "OK"
    assert data == [None]


# -- keywords, \Deleted and the untagged-response rules ---------------------------


def test_keywords_and_deleted_are_kept_locally(client, mail_account):
    index_raw(mail_account, [message("one")])
    client.select("INBOX")

    # Indexed after the listener started and first seen here: \\Recent too.
    _, data = client.store("1", "+FLAGS", "(\\Deleted $Label1 NonJunk)")
    assert data == [b"1 (UID 1 FLAGS (\\Deleted \\Recent $Label1 NonJunk))"]
    _, data = client.store("1", "-FLAGS", "($Label1)")
    assert data == [b"1 (UID 1 FLAGS (\\Deleted \\Recent NonJunk))"]


def test_store_silent_sends_nothing(client, mail_account):
    index_raw(mail_account, [message("one")])
    client.select("INBOX")
    _, data = client.store("1", "+FLAGS.SILENT", "(quiet)")
    assert data == [None]


def test_no_expunge_during_fetch_but_after_noop(imap_server, client, mail_account):
    ids = index_raw(mail_account, [message("one"), message("two"), message("three")])
    client.select("INBOX")

    changed = index.delete_message(mail_account.account, ids[1])
    notify.publish_mailboxes_changed(mail_account.account.pk, list(changed))

    _, data = client.fetch("1:3", "(UID)")
    assert data == [b"1 (UID 1)", b"3 (UID 3)"]
    assert "EXPUNGE" not in client.untagged_responses

    client.noop()
    assert client.untagged_responses.pop("EXPUNGE") == [b"2"]
    _, data = client.fetch("1:*", "(UID)")
    assert data == [b"1 (UID 1)", b"2 (UID 3)"]


def test_exists_is_sent_before_new_messages_are_used(client, mail_account):
    index_raw(mail_account, [message("one")])
    client.select("INBOX")
    client.untagged_responses.pop("EXISTS")
    index_raw(mail_account, [message("two")])

    status, data = client.fetch("1:*", "(UID)")
    assert status == "OK"
    assert client.untagged_responses.pop("EXISTS") == [b"2"]
    assert data == [b"1 (UID 1)", b"2 (UID 2)"]


def test_recent_goes_to_exactly_one_session(imap_server, mail_account):
    first = mail_account.login(imap_server)
    second = mail_account.login(imap_server)
    for session in (first, second):
        session.select("INBOX")
        session.untagged_responses.pop("RECENT")

    index_raw(mail_account, [message("new")])
    first.noop()
    second.noop()

    recent = [
        first.untagged_responses.get("RECENT"),
        second.untagged_responses.get("RECENT"),
    ]
    assert sorted(recent, key=str) == sorted([[b"1"], None], key=str)


# -- SEARCH --------------------------------------------------------------------------


@pytest.fixture
def searchable(client, mail_account):
    index_raw(
        mail_account,
        [
            message("Quarterly report", "The numbers are in", Cc="carol@example.com"),
            message("Lunch", "Pizza on Friday?", X_Mailer="Hand written"),
            message("Grüße aus Köln", "Schöne Grüße"),
        ],
    )
    index_raw(mail_account, [message("Old news", "Nothing new")], unread=False)
    client.select("INBOX")
    return client


@pytest.mark.parametrize(
    "criteria, expected",
    [
        (("ALL",), b"1 2 3 4"),
        (("SUBJECT", "report"), b"1"),
        (("FROM", "bob@example.com"), b"1 2 3 4"),
        (("CC", "carol"), b"1"),
        (("BODY", "pizza"), b"2"),
        (("TEXT", '"hand written"'), b"2"),
        (("HEADER", "X-Mailer", "Hand"), b"2"),
        (("HEADER", "X-Mailer", '""'), b"2"),
        (("SEEN",), b"4"),
        (("UNSEEN",), b"1 2 3"),
        (("NOT", "SEEN", "SUBJECT", "lunch"), b"2"),
        (("OR", "SUBJECT", "lunch", "SUBJECT", "news"), b"2 4"),
        (("LARGER", "10"), b"1 2 3 4"),
        (("SMALLER", "10"), b""),
        (("SINCE", "1-May-2024"), b"1 2 3 4"),
        (("BEFORE", "1-May-2024"), b""),
        (("SENTON", "1-May-2024"), b"1 2 3 4"),
        (("UID", "2:3"), b"2 3"),
        (("2,4",), b"2 4"),
        (("DELETED",), b""),
        (("KEYWORD", "nothing"), b""),
        (("NEW",), b"1 2 3"),
        (("OLD",), b""),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else None,
)
def test_search_keys(searchable, criteria, expected):
    status, data = searchable.search(None, *criteria)
    assert status == "OK"
    assert data == [expected]


def test_search_with_utf8_charset(searchable):
    searchable.literal = "Grüße".encode()
    status, data = searchable.search("UTF-8", "SUBJECT")
    assert status == "OK"
    assert data == [b"3"]


def test_search_with_an_unknown_charset(searchable):
    status, data = searchable.search("KOI8-R", "SUBJECT", "x")
    assert status == "NO"
    assert b"BADCHARSET" in data[0]


def test_uid_search(searchable):
    status, data = searchable.uid("SEARCH", "SUBJECT", "lunch")
    assert data == [b"2"]


# -- IDLE ----------------------------------------------------------------------------


def test_idle_sees_new_mail_and_another_sessions_flags(imap_server, mail_account):
    index_raw(mail_account, [message("one")])
    with IMAPClient(HOST, imap_server.port, ssl=False) as idler:
        idler.login(mail_account.email, mail_account.password)
        idler.select_folder("INBOX")
        idler.idle()

        other = mail_account.login(imap_server)
        other.select("INBOX")
        other.store("1", "+FLAGS", "(important)")
        responses = idler.idle_check(timeout=1)
        assert (
            1,
            b"FETCH",
            (b"UID", 1, b"FLAGS", (b"\\Recent", b"important")),
        ) in responses

        index_raw(mail_account, [message("two")])
        responses = idler.idle_check(timeout=1)
        assert (2, b"EXISTS") in responses
        idler.idle_done()


def test_idle_sends_expunge(imap_server, mail_account):
    ids = index_raw(mail_account, [message("one"), message("two")])
    with IMAPClient(HOST, imap_server.port, ssl=False) as idler:
        idler.login(mail_account.email, mail_account.password)
        idler.select_folder("INBOX")
        idler.idle()

        changed = index.delete_message(mail_account.account, ids[0])
        notify.publish_mailboxes_changed(mail_account.account.pk, list(changed))
        assert (1, b"EXPUNGE") in idler.idle_check(timeout=1)
        idler.idle_done()


def test_server_stop_says_bye_to_idle_clients(imap_server, mail_account):
    with IMAPClient(HOST, imap_server.port, ssl=False) as idler:
        idler.login(mail_account.email, mail_account.password)
        idler.select_folder("INBOX")
        idler.idle()
        imap_server.loop.run(imap_server.service.stop())
        responses = idler.idle_check(timeout=5)
        assert any(response[0] == b"BYE" for response in responses)


# -- split address mode --------------------------------------------------------------


def test_split_mode_shows_only_that_address(imap_server, mail_account):
    from accounts.models import Address, LinkedAccount

    account = mail_account.account
    account.address_mode = LinkedAccount.AddressMode.SPLIT
    account.save()
    other = Address.objects.create(
        account=account, provider_id="address-other", email="other@proton.test"
    )
    index_raw(mail_account, [message("for alice")])
    mail_account.address.provider_id, real = (
        other.provider_id,
        mail_account.address.provider_id,
    )
    index_raw(mail_account, [message("for other")])
    mail_account.address.provider_id = real

    alice = mail_account.login(imap_server)
    alice.select("INBOX")
    _, data = alice.search(None, "ALL")
    assert data == [b"1"]

    second = imap_server.connect()
    second.login("other@proton.test", mail_account.password)
    _, exists = second.select("INBOX")
    assert exists == [b"1"]
    _, data = second.fetch("1", "(BODY.PEEK[HEADER.FIELDS (Subject)])")
    assert data[0][1] == b"Subject: for other\r\n\r\n"


def test_starred_and_archive_hold_their_labels(client, mail_account):
    index_raw(mail_account, [message("starred")], label_ids=[ARCHIVE, STARRED])
    index_raw(mail_account, [message("inbox")], label_ids=[INBOX])

    _, starred = client.select("Starred")
    assert starred == [b"1"]
    _, data = client.fetch("1", "(FLAGS)")
    assert b"\\Flagged" in data[0]
    _, everything = client.select('"All Mail"')
    assert everything == [b"2"]
    assert Mailbox.objects.filter(account=mail_account.account).count() == 10
