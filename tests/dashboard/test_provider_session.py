"""Logging out of the provider and removing an account end the session there."""

import pytest
from django.urls import reverse

from accounts import linking
from accounts.models import LinkedAccount


@pytest.fixture
def linked(owner, bridge_provider):
    user = bridge_provider.adduser(password="provider password 1")
    progress = linking.start_link(owner, user.name, user.password)
    return progress.account


def session_still_works(provider, account) -> bool:
    client = provider.api(
        **{
            "x-pm-uid": account.session_uid,
            "Authorization": f"Bearer {account.access_token}",
        }
    )
    return client.get("core/v4/users").status_code == 200


def test_provider_logout_ends_the_session_at_the_provider(
    owner_client, linked, bridge_provider
):
    assert session_still_works(bridge_provider, linked)

    owner_client.post(reverse("provider_logout", args=[linked.pk]))

    assert not session_still_works(bridge_provider, linked)
    reloaded = LinkedAccount.objects.get(pk=linked.pk)
    assert reloaded.state == LinkedAccount.State.NEEDS_LOGIN
    assert reloaded.session_uid == ""


def test_removing_the_account_ends_the_session_at_the_provider(
    owner_client, linked, bridge_provider
):
    owner_client.post(reverse("remove_account", args=[linked.pk]))

    assert not session_still_works(bridge_provider, linked)
    assert not LinkedAccount.objects.filter(pk=linked.pk).exists()


def test_logout_goes_ahead_when_the_provider_cannot_be_reached(
    owner_client, linked, bridge_provider
):
    bridge_provider.offline(True)

    owner_client.post(reverse("provider_logout", args=[linked.pk]))

    reloaded = LinkedAccount.objects.get(pk=linked.pk)
    assert reloaded.state == LinkedAccount.State.NEEDS_LOGIN
    assert reloaded.refresh_token == ""
