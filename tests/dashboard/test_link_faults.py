"""Linking while the provider misbehaves: a clear answer soon, nothing left over.

A login that fails half-way, or that replaces an earlier one, must not leave
sessions behind at the provider: people see them in their provider's
security settings, and each one is a live set of tokens.
"""

import pytest
from django.urls import reverse

from accounts import linking
from accounts.models import LinkedAccount

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDER_PASSWORD = "provider password 1"

# Longer than a person waits for a page, shorter than the client's own cap
# (a bridge that waited it out would then link the account).
LONG_RETRY_AFTER_SECONDS = 45


def other_sessions(provider, user) -> list[str]:
    """The user's sessions at the provider, apart from the one looking."""
    looking = provider.login(user.name, user.password)
    try:
        response = looking.get("auth/v4/sessions")
        response.raise_for_status()
        uids = [entry["UID"] for entry in response.json()["Sessions"]]
        return [uid for uid in uids if uid != looking.uid]
    finally:
        looking.delete("auth/v4")
        looking.close()


def test_a_long_retry_after_is_explained_at_once(owner_client, bridge_provider):
    user = bridge_provider.adduser(password=PROVIDER_PASSWORD)
    # One refusal only: a bridge that waited it out would then link.
    bridge_provider.fault(
        "/auth/v4/info", 429, retry_after=LONG_RETRY_AFTER_SECONDS, count=1
    )

    response = owner_client.post(
        reverse("add_account"),
        {"username": user.name, "password": PROVIDER_PASSWORD},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "refusing logins for a while" in body
    assert "1 minute" in body
    assert not LinkedAccount.objects.exists()


def test_a_login_that_fails_after_the_password_leaves_no_session(
    owner, bridge_provider
):
    user = bridge_provider.adduser(password=PROVIDER_PASSWORD)
    # The password is right; reading the account to unlock its keys fails.
    bridge_provider.fault("^/core/v4/users$", 422, method="GET", code=2001)

    with pytest.raises(linking.LinkError):
        linking.start_link(owner, user.name, PROVIDER_PASSWORD)

    bridge_provider.clear_faults()
    assert other_sessions(bridge_provider, user) == []
    assert not LinkedAccount.objects.exists()


def test_linking_again_ends_the_session_it_replaces(owner, bridge_provider):
    user = bridge_provider.adduser(password=PROVIDER_PASSWORD)
    first = linking.start_link(owner, user.name, PROVIDER_PASSWORD).account
    assert first is not None

    again = linking.start_link(owner, user.name, PROVIDER_PASSWORD).account

    assert again is not None and again.pk == first.pk
    reloaded = LinkedAccount.objects.get(pk=first.pk)
    assert other_sessions(bridge_provider, user) == [reloaded.session_uid]


def test_another_persons_attempt_leaves_no_session(owner, outsider, bridge_provider):
    user = bridge_provider.adduser(password=PROVIDER_PASSWORD)
    account = linking.start_link(owner, user.name, PROVIDER_PASSWORD).account
    assert account is not None

    with pytest.raises(linking.LinkError, match="already linked by another person"):
        linking.start_link(outsider, user.name, PROVIDER_PASSWORD)

    assert other_sessions(bridge_provider, user) == [account.session_uid]
