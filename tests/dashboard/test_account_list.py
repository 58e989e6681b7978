"""The account list: each person sees their own accounts and their state."""

from django.urls import reverse

from accounts.models import LinkedAccount
from mailsync.models import SyncState
from tests.dashboard.conftest import assert_no_secret


def test_owner_sees_the_account_with_its_state_and_count(owner_client, account):
    response = owner_client.get(reverse("dashboard"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "olivia@example.test" in body
    assert f'data-account="{account.pk}" data-state="ready"' in body
    assert '<td class="num" data-field="messages">3</td>' in body
    assert_no_secret(response, account)


def test_family_member_does_not_see_the_owners_account(family_client, account):
    response = family_client.get(reverse("dashboard"))

    assert "olivia@example.test" not in response.content.decode()
    assert "No linked account yet" in response.content.decode()


def test_staff_does_not_see_other_peoples_accounts(staff_client, account):
    response = staff_client.get(reverse("dashboard"))

    assert "olivia@example.test" not in response.content.decode()


def test_syncing_account_shows_its_progress(owner_client, account):
    account.state = LinkedAccount.State.SYNCING
    account.save()
    SyncState.objects.filter(account=account).update(
        phase=SyncState.Phase.MESSAGES, done=120, total=480
    )

    body = owner_client.get(reverse("dashboard")).content.decode()

    assert 'data-state="syncing"' in body
    assert '<progress max="100" value="25"' in body
    assert "120 of 480 messages (25%)" in body


def test_error_shows_last_error_in_plain_words(owner_client, account):
    account.state = LinkedAccount.State.ERROR
    account.last_error = (
        "The provider refused the login: the account needs a paid plan."
    )
    account.save()

    body = owner_client.get(reverse("dashboard")).content.decode()

    assert 'data-state="error"' in body
    assert "the account needs a paid plan." in body


def test_needs_login_offers_to_log_in_again(owner_client, account):
    account.state = LinkedAccount.State.NEEDS_LOGIN
    account.save()

    body = owner_client.get(reverse("dashboard")).content.decode()

    assert 'data-state="needs-login"' in body
    assert f"{reverse('add_account')}?username=olivia" in body


def test_page_listens_for_live_status(owner_client, account):
    body = owner_client.get(reverse("dashboard")).content.decode()

    assert '"/ws/status/"' in body
