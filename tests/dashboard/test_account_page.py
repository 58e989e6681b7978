"""The account page: settings for mail programs, mailboxes, activity."""

import pytest
from django.urls import reverse

from accounts import settings_store
from tests.dashboard.conftest import assert_no_secret


def page(client, account):
    return client.get(reverse("account_detail", args=[account.pk]))


def test_owner_sees_the_mail_program_settings(owner_client, account):
    response = page(owner_client, account)

    body = response.content.decode()
    assert response.status_code == 200
    assert "<code>127.0.0.1</code>" in body
    assert "<code>1143</code>" in body
    assert "<code>1025</code>" in body
    assert "STARTTLS" in body
    assert "<code>olivia@example.test</code>" in body


def test_bridge_password_is_hidden_until_asked_for(owner_client, account):
    response = page(owner_client, account)

    assert "Show the bridge password" in response.content.decode()
    assert_no_secret(response, account)


@pytest.mark.parametrize("person", ["family_client", "outsider_client", "staff_client"])
def test_other_people_get_not_found(request, person, account):
    client = request.getfixturevalue(person)

    assert page(client, account).status_code == 404


def test_mailboxes_are_listed_with_counts(owner_client, account):
    response = page(owner_client, account)

    mailboxes = response.context["mailboxes"]
    assert [(box.name, box.message_count, box.unread_count) for box in mailboxes] == [
        ("INBOX", 2, 1),
        ("Folders/Work", 1, 0),
    ]


def test_recent_activity_is_shown(owner_client, account):
    assert "First sync finished" in page(owner_client, account).content.decode()


def test_addresses_are_listed(owner_client, account):
    assert "olivia.alias@example.test" in page(owner_client, account).content.decode()


def test_settings_saved_by_staff_are_shown(owner_client, account):
    settings_store.save({"imap_port": 2143, "smtp_port": 2025})

    body = page(owner_client, account).content.decode()

    assert "<code>2143</code>" in body
    assert "<code>2025</code>" in body


def test_implicit_tls_port_is_offered_when_on(owner_client, account):
    settings_store.save({"imaps_port": 1993})

    assert (
        "SSL/TLS on port <code>1993</code>"
        in page(owner_client, account).content.decode()
    )


def test_wildcard_listener_shows_the_name_the_page_was_reached_by(
    owner_client, account
):
    settings_store.save({"imap_host": "0.0.0.0"})  # noqa: S104

    response = owner_client.get(
        reverse("account_detail", args=[account.pk]), HTTP_HOST="localhost:8000"
    )

    assert "<code>localhost</code>" in response.content.decode()
    assert "<code>0.0.0.0</code>" not in response.content.decode()


def test_certificate_download_has_no_private_key(owner_client):
    response = owner_client.get(reverse("certificate_download"))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content.startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE KEY" not in response.content
