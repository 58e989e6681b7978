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
from accounts.views import WIZARD_SESSION_KEY
from mailsync.models import PendingLink
from tests.fixtures.refprovider import totp_now

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


# Against the reference provider (the ``bridge_provider`` fixture).

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def sign_in_to_provider(client, user, password=None):
    return client.post(
        reverse("add_account"),
        {"username": user.name, "password": password or user.password},
    )


def test_plain_login_links_the_account(owner, owner_client, bridge_provider):
    user = bridge_provider.adduser(password=PROVIDER_PASSWORD)

    response = sign_in_to_provider(owner_client, user)

    account = LinkedAccount.objects.get(owner=owner)
    assert response.status_code == 302
    assert response.url == reverse("account_detail", args=[account.pk])
    assert account.primary_email == user.addresses[0]
    assert account.bridge_password
    page = owner_client.get(response.url).content.decode()
    assert "is linked" in page
    assert PROVIDER_PASSWORD not in page


def test_wrong_provider_password_is_refused_in_plain_words(
    owner_client, bridge_provider
):
    user = bridge_provider.adduser(password=PROVIDER_PASSWORD)

    response = sign_in_to_provider(owner_client, user, password="not the password")

    body = response.content.decode()
    assert response.status_code == 200
    assert "username or password is not right" in body
    assert "not the password" not in body
    assert not LinkedAccount.objects.exists()


def test_two_factor_code_is_asked_for(owner, owner_client, bridge_provider):
    user = bridge_provider.adduser(password=PROVIDER_PASSWORD, totp_secret=TOTP_SECRET)

    response = sign_in_to_provider(owner_client, user)

    assert response.url == reverse("add_account_two_factor")
    page = owner_client.get(response.url).content.decode()
    assert "Two-factor code" in page
    assert user.password not in page

    wrong = owner_client.post(response.url, {"code": "000000"})
    assert "That code is not right" in wrong.content.decode()

    done = owner_client.post(response.url, {"code": totp_now(TOTP_SECRET)})
    account = LinkedAccount.objects.get(owner=owner)
    assert done.url == reverse("account_detail", args=[account.pk])


def test_mailbox_password_is_asked_for(owner, owner_client, bridge_provider):
    user = bridge_provider.adduser(mailbox_password="the mailbox password")

    response = sign_in_to_provider(owner_client, user)

    assert response.url == reverse("add_account_mailbox_password")
    wrong = owner_client.post(response.url, {"mailbox_password": "a wrong one"})
    body = wrong.content.decode()
    assert "mailbox password is not right" in body
    assert "a wrong one" not in body

    done = owner_client.post(response.url, {"mailbox_password": "the mailbox password"})
    account = LinkedAccount.objects.get(owner=owner)
    assert done.url == reverse("account_detail", args=[account.pk])


def test_human_verification_shows_the_link_then_lets_the_person_retry(
    owner, owner_client, bridge_provider
):
    user = bridge_provider.adduser(password=PROVIDER_PASSWORD, human_verification=True)

    asked = sign_in_to_provider(owner_client, user)

    body = asked.content.decode()
    assert asked.status_code == 200
    assert "check that you are a person" in body
    assert 'href="https://verify.proton.me/?methods=captcha&amp;token=' in body
    assert "Try again" in body
    assert f'value="{user.name}"' in body
    assert user.password not in body

    bridge_provider.internal("POST", f"users/{user.name}/hv-approve")
    retried = sign_in_to_provider(owner_client, user)

    account = LinkedAccount.objects.get(owner=owner)
    assert retried.url == reverse("account_detail", args=[account.pk])


def test_free_plan_is_explained(owner_client, bridge_provider):
    user = bridge_provider.adduser(free_plan=True)

    response = sign_in_to_provider(owner_client, user)

    assert "works only with paid plans" in response.content.decode()


def test_cancel_abandons_the_login_in_progress(owner_client, bridge_provider):
    user = bridge_provider.adduser(password=PROVIDER_PASSWORD, totp_secret=TOTP_SECRET)
    sign_in_to_provider(owner_client, user)

    response = owner_client.post(reverse("add_account_cancel"))

    assert response.url == reverse("dashboard")
    assert not PendingLink.objects.exists()
    assert owner_client.get(reverse("add_account_two_factor")).status_code == 302


def test_another_person_cannot_finish_someone_elses_login(
    owner_client, family, family_client, bridge_provider
):
    user = bridge_provider.adduser(password=PROVIDER_PASSWORD, totp_secret=TOTP_SECRET)
    sign_in_to_provider(owner_client, user)
    pending = PendingLink.objects.get()
    session = family_client.session
    session[WIZARD_SESSION_KEY] = {
        "pending_id": pending.pk,
        "step": "two_factor",
        "username": user.name,
    }
    session.save()

    response = family_client.post(
        reverse("add_account_two_factor"), {"code": totp_now(TOTP_SECRET)}
    )

    assert response.status_code == 200
    assert "expired or was cancelled" in response.content.decode()
    assert not LinkedAccount.objects.filter(owner=family).exists()
