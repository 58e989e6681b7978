"""DELETE never takes child mailboxes with it (RFC 3501 section 6.3.4).

The provider deletes a folder together with its subfolders, and a folder
cannot stay behind as a \\Noselect name, so a folder with children is
refused with HASCHILDREN (RFC 5530), as Dovecot does; the client deletes the
children first.
"""

import pytest

from tests.imap.test_mapping import account  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def folder_names(imap) -> list[str]:
    _, listed = imap.list('""', "Folders/*")
    return [line.decode().rsplit(" ", 1)[1].strip('"') for line in listed if line]


def test_a_folder_with_children_is_not_deleted(account):  # noqa: F811
    imap = account.imap
    assert imap.create("Folders/Parent")[0] == "OK"
    assert imap.create("Folders/Parent/Child")[0] == "OK"

    status, data = imap.delete("Folders/Parent")

    assert status == "NO"
    assert data[0].startswith(b"[HASCHILDREN]")
    assert {"Folders/Parent", "Folders/Parent/Child"} <= set(folder_names(imap))
    assert {"Parent", "Parent/Child"} <= set(account.provider_labels())


def test_children_first_then_the_parent(account):  # noqa: F811
    imap = account.imap
    imap.create("Folders/Parent")
    imap.create("Folders/Parent/Child")

    assert imap.delete("Folders/Parent/Child")[0] == "OK"
    assert imap.delete("Folders/Parent")[0] == "OK"
    assert "Folders/Parent" not in folder_names(imap)
