"""The add-account wizard, against the reference provider where it must talk.

Steps: username and password, then a two-factor code and a mailbox password
when the provider asks; human verification shows its link and lets the
person try again. Errors are shown in plain words and a password is never
rendered back into a page.
"""

import socket

import pytest
from django.urls import reverse

from accounts.models import LinkedAccount

PROVIDER_PASSWORD = "provider password 1"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_start_page_asks_for_username_and_password(owner_client):
    body = owner_client.get(reverse("add_account")).content.decode()

    assert 'name="username"' in body
    assert 'type="password" name="password"' in body


def test_relogin_link_fills_in_the_username(owner_client):
    response = owner_client.get(reverse("add_account") + "?username=olivia")

    assert 'value="olivia"' in response.content.decode()


def test_missing_password_is_asked_for_again(owner_client):
    response = owner_client.post(reverse("add_account"), {"username": "olivia"})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


def test_unreachable_provider_is_explained_without_echoing_the_password(
    owner_client, settings
):
    settings.BRIDGE_PROVIDER_URL = f"http://127.0.0.1:{closed_port()}/api"

    response = owner_client.post(
        reverse("add_account"),
        {"username": "olivia", "password": PROVIDER_PASSWORD},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "cannot be reached" in body
    assert PROVIDER_PASSWORD not in body
    assert not LinkedAccount.objects.exists()


@pytest.mark.parametrize(
    "step", ["add_account_two_factor", "add_account_mailbox_password"]
)
def test_later_steps_without_a_login_in_progress_go_back_to_the_start(
    owner_client, step
):
    response = owner_client.get(reverse(step))

    assert response.status_code == 302
    assert response.url == reverse("add_account")


def test_cancel_without_a_login_in_progress_goes_home(owner_client):
    response = owner_client.post(reverse("add_account_cancel"))

    assert response.status_code == 302
    assert response.url == reverse("dashboard")
