"""Signing in and out, and changing one's dashboard password."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.dashboard.conftest import PASSWORD

PAGES_FOR_SIGNED_IN_PEOPLE = [
    "dashboard",
    "add_account",
    "password_change",
    "people",
    "bridge_settings",
    "certificate_download",
]


@pytest.mark.parametrize("name", PAGES_FOR_SIGNED_IN_PEOPLE)
def test_anonymous_visitor_is_sent_to_sign_in(db, name):
    response = Client().get(reverse(name))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_anonymous_visitor_cannot_open_an_account(account):
    response = Client().get(reverse("account_detail", args=[account.pk]))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_sign_in_with_the_right_password(owner):
    client = Client()

    response = client.post(
        reverse("login"), {"username": "olivia", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_wrong_password_is_refused_in_plain_words(owner):
    response = Client().post(
        reverse("login"), {"username": "olivia", "password": "not it"}
    )

    assert response.status_code == 200
    assert "do not match" in response.content.decode()
    assert "not it" not in response.content.decode()


def test_deactivated_person_cannot_sign_in(owner):
    owner.is_active = False
    owner.save()

    client = Client()

    response = client.post(
        reverse("login"), {"username": "olivia", "password": PASSWORD}
    )

    assert response.status_code == 200
    assert client.get(reverse("dashboard")).status_code == 302


def test_sign_out_needs_a_post(owner_client):
    assert owner_client.get(reverse("logout")).status_code == 405

    response = owner_client.post(reverse("logout"))

    assert response.status_code == 302
    assert owner_client.get(reverse("dashboard")).status_code == 302


def test_sign_out_is_protected_by_csrf(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    response = client.post(reverse("logout"))

    assert response.status_code == 403
    assert client.get(reverse("dashboard")).status_code == 200


def test_password_change(owner, owner_client):
    response = owner_client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a much newer passphrase",
            "new_password2": "a much newer passphrase",
        },
    )

    assert response.status_code == 302
    assert response.url == reverse("password_change_done")
    owner.refresh_from_db()
    assert owner.check_password("a much newer passphrase")


def test_password_change_needs_the_old_password(owner, owner_client):
    response = owner_client.post(
        reverse("password_change"),
        {
            "old_password": "a guess",
            "new_password1": "a much newer passphrase",
            "new_password2": "a much newer passphrase",
        },
    )

    assert response.status_code == 200
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
