"""``manage.py createadmin``: the first administrator."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command


def create(username: str, password: str, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    out = io.StringIO()
    call_command("createadmin", username, "--password-stdin", stdout=out)
    return out.getvalue()


def test_creates_a_staff_superuser(db, monkeypatch):
    output = create("admin", "a long admin passphrase", monkeypatch)

    person = get_user_model().objects.get(username="admin")
    assert person.is_staff and person.is_superuser
    assert person.check_password("a long admin passphrase")
    assert "can now sign in" in output
    assert "a long admin passphrase" not in output


def test_refuses_a_weak_password(db, monkeypatch):
    with pytest.raises(CommandError, match="too short"):
        create("admin", "abc", monkeypatch)

    assert not get_user_model().objects.exists()


def test_refuses_an_existing_name(owner, monkeypatch):
    with pytest.raises(CommandError, match="already exists"):
        create("olivia", "a long admin passphrase", monkeypatch)

    owner.refresh_from_db()
    assert not owner.is_staff


def test_interactive_passwords_must_match(db, monkeypatch):
    answers = iter(["a long admin passphrase", "a different passphrase"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))

    with pytest.raises(CommandError, match="differ"):
        call_command("createadmin", "admin")

    assert not get_user_model().objects.exists()
