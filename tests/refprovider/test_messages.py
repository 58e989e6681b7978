"""The location model, listing, counts and flag changes."""

import pytest

from tests.refprovider.helpers import get_message, list_messages

INBOX, ALL_DRAFTS, ALL_SENT, TRASH, SPAM, ALL_MAIL = "0", "1", "2", "3", "4", "5"
ARCHIVE, SENT, DRAFTS, STARRED = "6", "7", "8", "10"


def mail(subject: str, date: str = "Mon, 1 Jan 2024 10:00:00 +0000") -> bytes:
    return (
        "From: Someone <someone@example.org>\r\n"
        "To: you@proton.test\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.org>\r\n"
        "\r\n"
        f"Body of {subject}\r\n"
    ).encode()


def labels_of(session, message_id):
    return set(get_message(session, message_id)["LabelIDs"])


def label(session, label_id, ids, action="label"):
    response = session.put(
        f"mail/v4/messages/{action}", json={"LabelID": label_id, "IDs": ids}
    )
    assert response.status_code == 200, response.text
    return response.json()


def new_folder(session, name, parent=None):
    body = {"Name": name, "Type": 3, "Color": "#f66"}
    if parent:
        body["ParentID"] = parent
    return session.post("core/v4/labels", json=body).json()["Label"]["ID"]


def new_label(session, name):
    body = {"Name": name, "Type": 1, "Color": "#f66"}
    return session.post("core/v4/labels", json=body).json()["Label"]["ID"]


@pytest.fixture
def inbox_message(refprovider, session):
    [message_id] = refprovider.seed(session.user.name, [mail("located")])
    return message_id


def test_seeded_mail_is_in_inbox_and_all_mail(session, inbox_message):
    assert labels_of(session, inbox_message) == {INBOX, ALL_MAIL}


def test_a_new_location_replaces_the_old_one(session, inbox_message):
    label(session, ARCHIVE, [inbox_message])
    assert labels_of(session, inbox_message) == {ARCHIVE, ALL_MAIL}

    folder = new_folder(session, "Receipts")
    label(session, folder, [inbox_message])
    assert labels_of(session, inbox_message) == {folder, ALL_MAIL}

    label(session, TRASH, [inbox_message])
    assert labels_of(session, inbox_message) == {TRASH, ALL_MAIL}


def test_labels_and_star_stay_through_moves(session, inbox_message):
    tag = new_label(session, "Important")
    label(session, tag, [inbox_message])
    label(session, STARRED, [inbox_message])
    label(session, SPAM, [inbox_message])

    assert labels_of(session, inbox_message) == {SPAM, ALL_MAIL, tag, STARRED}

    label(session, STARRED, [inbox_message], action="unlabel")
    label(session, tag, [inbox_message], action="unlabel")
    assert labels_of(session, inbox_message) == {SPAM, ALL_MAIL}


def test_inbox_sends_mail_home_by_its_flags(refprovider, session):
    [sent] = refprovider.seed(session.user.name, [mail("mine")], location="sent")
    assert labels_of(session, sent) == {SENT, ALL_SENT, ALL_MAIL}

    label(session, TRASH, [sent])
    label(session, INBOX, [sent])
    assert labels_of(session, sent) == {SENT, ALL_SENT, ALL_MAIL}


def test_leaving_the_location_leaves_all_mail_only(session, inbox_message):
    label(session, TRASH, [inbox_message])
    label(session, TRASH, [inbox_message], action="unlabel")
    assert labels_of(session, inbox_message) == {ALL_MAIL}

    # Unlabelling a place the message is not in changes nothing.
    label(session, ARCHIVE, [inbox_message], action="unlabel")
    assert labels_of(session, inbox_message) == {ALL_MAIL}


def test_derived_labels_cannot_be_set(session, inbox_message):
    for label_id in (ALL_MAIL, ALL_DRAFTS, ALL_SENT):
        response = session.put(
            "mail/v4/messages/label", json={"LabelID": label_id, "IDs": [inbox_message]}
        )
        assert (response.status_code, response.json()["Code"]) == (422, 2001)


def test_unknown_message_gets_its_own_error(session, inbox_message):
    body = label(session, ARCHIVE, [inbox_message, "no-such-id"])
    assert body["Code"] == 1001
    assert [r["Response"]["Code"] for r in body["Responses"]] == [1000, 2501]
    assert "UndoToken" in body


def test_deleting_a_folder_empties_its_place(session, inbox_message):
    parent = new_folder(session, "Work")
    child = new_folder(session, "Projects", parent)
    label(session, child, [inbox_message])

    assert session.delete(f"core/v4/labels/{parent}").json() == {"Code": 1000}
    assert labels_of(session, inbox_message) == {ALL_MAIL}
    folders = session.get("core/v4/labels", params={"Type": 3}).json()["Labels"]
    assert {folder["ID"] for folder in folders}.isdisjoint({parent, child})


def test_folder_paths_and_name_clashes(session):
    parent = new_folder(session, "Clients")
    child = new_folder(session, "Acme", parent)
    folders = {
        f["ID"]: f for f in session.get("core/v4/labels?Type=3").json()["Labels"]
    }
    assert folders[child]["Path"] == "Clients/Acme"
    assert folders[child]["ParentID"] == parent

    clash = session.post(
        "core/v4/labels", json={"Name": "acme", "Type": 3, "ParentID": parent}
    )
    assert (clash.status_code, clash.json()["Code"]) == (422, 2500)

    renamed = session.put(f"core/v4/labels/{parent}", json={"Name": "Customers"})
    assert renamed.json()["Label"]["Path"] == "Customers"
    folders = {
        f["ID"]: f for f in session.get("core/v4/labels?Type=3").json()["Labels"]
    }
    assert folders[child]["Path"] == "Customers/Acme"

    loop = session.put(f"core/v4/labels/{parent}", json={"ParentID": child})
    assert loop.status_code == 422


def test_labels_cannot_nest(session):
    parent = new_label(session, "Outer")
    response = session.post(
        "core/v4/labels", json={"Name": "Inner", "Type": 1, "ParentID": parent}
    )
    assert (response.status_code, response.json()["Code"]) == (422, 2001)


def test_system_labels_have_fixed_ids(session):
    labels = session.get("core/v4/labels", params={"Type": 4}).json()["Labels"]
    ids = {entry["ID"] for entry in labels}
    assert {"0", "1", "2", "3", "4", "5", "6", "7", "8", "10", "12"} <= ids
    assert all(entry["Type"] == 4 for entry in labels)


def test_read_unread_and_counts(refprovider, session):
    ids = refprovider.seed(session.user.name, [mail("one"), mail("two")])
    session.put("mail/v4/messages/read", json={"IDs": [ids[0]]})

    counts = {
        entry["LabelID"]: (entry["Total"], entry["Unread"])
        for entry in session.get("mail/v4/messages/count").json()["Counts"]
    }
    assert counts[INBOX] == (2, 1)
    assert counts[ALL_MAIL] == (2, 1)
    assert counts[TRASH] == (0, 0)
    assert get_message(session, ids[0])["Unread"] == 0
    assert get_message(session, ids[1])["Unread"] == 1


def test_forward_flag(session, inbox_message):
    session.put("mail/v4/messages/forward", json={"IDs": [inbox_message]})
    message = get_message(session, inbox_message)
    assert message["IsForwarded"] == 1
    assert message["Flags"] & 128

    session.put("mail/v4/messages/unforward", json={"IDs": [inbox_message]})
    assert get_message(session, inbox_message)["IsForwarded"] == 0


def test_listing_pages_newest_first_from_an_end_id(refprovider, session):
    dates = [f"Mon, {day} Jan 2024 10:00:00 +0000" for day in range(1, 8)]
    ids = refprovider.seed(
        session.user.name, [mail(f"m{i}", date) for i, date in enumerate(dates)]
    )

    first = list_messages(session, LabelID=INBOX, Desc=1, PageSize=3, Sort="Time")
    assert first["Total"] == 7
    assert [m["ID"] for m in first["Messages"]] == ids[::-1][:3]

    # The boundary message comes back first: EndID is inclusive.
    end_id = first["Messages"][-1]["ID"]
    second = list_messages(session, LabelID=INBOX, Desc=1, PageSize=3, EndID=end_id)
    assert [m["ID"] for m in second["Messages"]] == ids[::-1][2:5]
    assert second["Stale"] == 0


def test_count_only_listing(refprovider, session):
    refprovider.seed(session.user.name, [mail("a"), mail("b")], location="archive")
    body = list_messages(session, LabelID=ARCHIVE, Limit="0")
    assert body["Messages"] == []
    assert body["Total"] == 2


def test_page_size_is_capped(session):
    response = session.post(
        "mail/v4/messages",
        json={"PageSize": 151},
        headers={"X-HTTP-Method-Override": "GET"},
    )
    assert (response.status_code, response.json()["Code"]) == (422, 2001)


def test_filters_by_id_and_external_id(refprovider, session):
    ids = refprovider.seed(session.user.name, [mail("x one"), mail("x two")])
    assert [m["ID"] for m in list_messages(session, ID=[ids[1]])["Messages"]] == [
        ids[1]
    ]

    by_external = list_messages(session, ExternalID="x.one@example.org")
    assert [m["ID"] for m in by_external["Messages"]] == [ids[0]]


def test_message_ids_page_after_an_id(refprovider, session):
    ids = refprovider.seed(session.user.name, [mail(f"i{n}") for n in range(5)])
    first = session.get("mail/v4/messages/ids", params={"Limit": 2}).json()["IDs"]
    rest = session.get(
        "mail/v4/messages/ids", params={"Limit": 10, "AfterID": first[-1]}
    ).json()["IDs"]
    assert first + rest == ids


def test_permanent_delete(session, inbox_message):
    response = session.put("mail/v4/messages/delete", json={"IDs": [inbox_message]})
    assert response.json()["Responses"][0]["Response"]["Code"] == 1000

    gone = session.get(f"mail/v4/messages/{inbox_message}")
    assert (gone.status_code, gone.json()["Code"]) == (422, 2501)


def test_messages_of_others_are_invisible(refprovider, session, inbox_message):
    other = refprovider.adduser()
    stranger = refprovider.login(other.name, other.password)
    assert stranger.get(f"mail/v4/messages/{inbox_message}").status_code == 422
    assert list_messages(stranger)["Total"] == 0
