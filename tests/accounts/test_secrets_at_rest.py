"""Secrets are encrypted at rest with a key that is not in the database."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from accounts import secretbox
from accounts.models import LinkedAccount, new_bridge_password


def test_round_trip_is_bound_to_its_purpose():
    sealed = secretbox.encrypt(b"refresh-token-value", "account:1:refresh_token")

    assert (
        secretbox.decrypt(sealed, "account:1:refresh_token") == b"refresh-token-value"
    )
    with pytest.raises(secretbox.SecretBoxError):
        secretbox.decrypt(sealed, "account:2:refresh_token")


def test_tampered_ciphertext_is_refused():
    sealed = bytearray(secretbox.encrypt(b"value", "p"))
    sealed[-1] ^= 1

    with pytest.raises(secretbox.SecretBoxError):
        secretbox.decrypt(bytes(sealed), "p")


def test_compressed_round_trip():
    text = b"Subject: hello\r\n\r\n" + b"line\r\n" * 1000

    sealed = secretbox.seal_compressed(text, "cache:1")

    assert len(sealed) < len(text)
    assert secretbox.open_compressed(sealed, "cache:1") == text


def test_bridge_password_has_128_bits_in_base64url():
    password = new_bridge_password()

    assert len(password) == 22
    assert set(password) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    assert password != new_bridge_password()


@pytest.mark.django_db
def test_account_secrets_never_reach_the_database_in_clear():
    owner = get_user_model().objects.create_user("owner", password="pw-owner-123")
    account = LinkedAccount(
        owner=owner, provider_user_id="uid-1", primary_email="a@b.test"
    )
    account.refresh_token = "very-secret-refresh-token"
    account.key_passphrase = "salted-key-passphrase"
    password = account.regenerate_bridge_password()
    account.save()

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_linkedaccount")
        row_bytes = repr(cursor.fetchall()).encode()

    assert b"very-secret-refresh-token" not in row_bytes
    assert b"salted-key-passphrase" not in row_bytes
    assert password.encode() not in row_bytes

    reloaded = LinkedAccount.objects.get(pk=account.pk)
    assert reloaded.refresh_token == "very-secret-refresh-token"
    assert reloaded.check_bridge_password(password)
    assert not reloaded.check_bridge_password(password[:-1] + "x")
    assert not reloaded.check_bridge_password("")


def test_the_data_directory_is_made_private_even_if_it_existed(tmp_path, monkeypatch):
    from bridgeadmin.datadir import data_dir

    shared = tmp_path / "bridge-data"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    monkeypatch.setenv("BRIDGE_DATA_DIR", str(shared))

    assert data_dir() == shared.resolve()
    assert shared.stat().st_mode & 0o777 == 0o700
