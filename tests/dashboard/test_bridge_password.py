"""The bridge password: shown once after re-entering the dashboard password."""

import pytest
from django.urls import reverse

from accounts.models import Activity, LinkedAccount
from accounts.views import REVEAL_MAX_FAILURES
from tests.dashboard.conftest import PASSWORD


@pytest.fixture(autouse=True)
def fresh_throttle():
    from django.core.cache import cache

    cache.clear()


def reveal(client, account, password=PASSWORD):
    return client.post(
        reverse("reveal_bridge_password", args=[account.pk]), {"password": password}
    )


def test_right_dashboard_password_shows_the_bridge_password(owner_client, account):
    response = reveal(owner_client, account)

    assert response.status_code == 200
    assert account.bridge_password in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert account.activities.filter(text="Bridge password shown").exists()


def test_wrong_dashboard_password_shows_nothing(owner_client, account):
    response = reveal(owner_client, account, password="a guess")

    body = response.content.decode()
    assert response.status_code == 400
    assert "not your dashboard password" in body
    assert account.bridge_password not in body
    assert "a guess" not in body


def test_revealing_is_paused_after_repeated_wrong_passwords(owner_client, account):
    for _ in range(REVEAL_MAX_FAILURES):
        reveal(owner_client, account, password="a guess")

    response = reveal(owner_client, account)

    assert response.status_code == 302
    assert response.url == reverse("account_detail", args=[account.pk])
    assert account.bridge_password not in response.content.decode()


def test_reveal_needs_a_post(owner_client, account):
    response = owner_client.get(reverse("reveal_bridge_password", args=[account.pk]))

    assert response.status_code == 405


@pytest.mark.parametrize("person", ["family_client", "outsider_client", "staff_client"])
def test_other_people_cannot_reveal_it_even_with_their_own_password(
    request, person, account
):
    client = request.getfixturevalue(person)

    response = reveal(client, account)

    assert response.status_code == 404
    assert account.bridge_password not in response.content.decode()


def test_regenerate_asks_for_confirmation_first(owner_client, account):
    old_password = account.bridge_password

    response = owner_client.get(
        reverse("regenerate_bridge_password", args=[account.pk])
    )

    assert response.status_code == 200
    assert "stops working" in response.content.decode()
    account.refresh_from_db()
    assert account.bridge_password == old_password


def test_regenerate_replaces_the_password(owner_client, account):
    old_password = account.bridge_password

    response = owner_client.post(
        reverse("regenerate_bridge_password", args=[account.pk])
    )

    account.refresh_from_db()
    assert response.status_code == 302
    assert account.bridge_password != old_password
    assert not account.check_bridge_password(old_password)
    assert Activity.objects.filter(
        account=account, text__contains="New bridge"
    ).exists()


def test_regenerated_password_is_not_put_in_the_next_page(owner_client, account):
    owner_client.post(reverse("regenerate_bridge_password", args=[account.pk]))
    account.refresh_from_db()

    response = owner_client.get(reverse("account_detail", args=[account.pk]))

    assert account.bridge_password not in response.content.decode()


def test_others_cannot_regenerate(family_client, account):
    old_password = account.bridge_password

    response = family_client.post(
        reverse("regenerate_bridge_password", args=[account.pk])
    )

    assert response.status_code == 404
    assert LinkedAccount.objects.get(pk=account.pk).bridge_password == old_password
