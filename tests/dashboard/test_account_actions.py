"""Address mode, logging out of the provider, removing an account."""

import pytest
from django.urls import reverse

from accounts.models import Activity, LinkedAccount
from mailsync.models import CachedMessage, Mailbox, Message


def test_owner_switches_to_split_mode(owner_client, account):
    response = owner_client.post(
        reverse("change_address_mode", args=[account.pk]), {"address_mode": "split"}
    )

    account.refresh_from_db()
    assert response.status_code == 302
    assert account.address_mode == "split"
    assert Activity.objects.filter(account=account, text__contains="split").exists()


def test_unknown_address_mode_is_refused(owner_client, account):
    owner_client.post(
        reverse("change_address_mode", args=[account.pk]), {"address_mode": "both"}
    )

    account.refresh_from_db()
    assert account.address_mode == "combined"


def test_family_member_cannot_switch_the_mode(family_client, account):
    response = family_client.post(
        reverse("change_address_mode", args=[account.pk]), {"address_mode": "split"}
    )

    account.refresh_from_db()
    assert response.status_code == 404
    assert account.address_mode == "combined"


def test_provider_logout_forgets_the_session(owner_client, account):
    response = owner_client.post(reverse("provider_logout", args=[account.pk]))

    account.refresh_from_db()
    assert response.status_code == 302
    assert account.state == LinkedAccount.State.NEEDS_LOGIN
    assert account.refresh_token == ""
    assert account.access_token == ""
    assert account.session_uid == ""
    assert Message.objects.filter(account=account).count() == 3


def test_provider_logout_needs_a_post(owner_client, account):
    response = owner_client.get(reverse("provider_logout", args=[account.pk]))

    account.refresh_from_db()
    assert response.status_code == 405
    assert account.state == LinkedAccount.State.READY


def test_outsider_cannot_log_the_account_out(outsider_client, account):
    response = outsider_client.post(reverse("provider_logout", args=[account.pk]))

    account.refresh_from_db()
    assert response.status_code == 404
    assert account.refresh_token


def test_remove_shows_a_confirmation_page_first(owner_client, account):
    response = owner_client.get(reverse("remove_account", args=[account.pk]))

    assert response.status_code == 200
    assert "mail index and message cache" in response.content.decode()
    assert LinkedAccount.objects.filter(pk=account.pk).exists()


def test_remove_deletes_the_account_its_index_and_cache(owner_client, account):
    message = Message.objects.filter(account=account).first()
    CachedMessage.objects.create(message=message, sealed=b"sealed-bytes")

    response = owner_client.post(reverse("remove_account", args=[account.pk]))

    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert not LinkedAccount.objects.filter(pk=account.pk).exists()
    assert not Message.objects.filter(account_id=account.pk).exists()
    assert not Mailbox.objects.filter(account_id=account.pk).exists()
    assert not CachedMessage.objects.exists()


@pytest.mark.parametrize("person", ["family_client", "outsider_client", "staff_client"])
def test_other_people_cannot_remove_it(request, person, account):
    client = request.getfixturevalue(person)

    assert client.get(reverse("remove_account", args=[account.pk])).status_code == 404
    assert client.post(reverse("remove_account", args=[account.pk])).status_code == 404
    assert LinkedAccount.objects.filter(pk=account.pk).exists()
