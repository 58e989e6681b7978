"""Mail program logins (protocols/auth.py), shared by IMAP and SMTP."""

import pytest
from django.core.cache import cache

from accounts.models import Activity, Address, LinkedAccount
from protocols import auth
from protocols.auth import AuthFailed, LoginThrottled, authenticate_sync
from tests.smtp.people import add_address, make_account

HOME = ("127.0.0.1", 50000)
OTHER_HOST = ("192.0.2.7", 50000)


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def account(db):
    return make_account("alice@proton.test", extra=["alias@proton.test"])


def test_any_enabled_address_logs_in_and_sees_all_in_combined_mode(account):
    password = account.bridge_password

    for username in ("alice@proton.test", "ALIAS@Proton.Test"):
        login = authenticate_sync(username, password, HOME)
        assert login.account == account
        assert login.address is None


def test_split_mode_login_is_limited_to_its_address(account):
    account.address_mode = LinkedAccount.AddressMode.SPLIT
    account.save()

    login = authenticate_sync("alias@proton.test", account.bridge_password, HOME)

    assert login.address.email == "alias@proton.test"
    assert [a.email for a in login.visible_addresses()] == ["alias@proton.test"]


def test_wrong_password_unknown_and_disabled_addresses_fail(account):
    add_address(account, "old@proton.test", status=Address.Status.DISABLED)

    with pytest.raises(AuthFailed):
        authenticate_sync("alice@proton.test", "not-the-password", HOME)
    with pytest.raises(AuthFailed):
        authenticate_sync("nobody@proton.test", account.bridge_password, HOME)
    with pytest.raises(AuthFailed):
        authenticate_sync("old@proton.test", account.bridge_password, HOME)


def test_a_deactivated_person_cannot_log_in_from_mail_programs(account):
    account.owner.is_active = False
    account.owner.save()

    with pytest.raises(AuthFailed):
        authenticate_sync("alice@proton.test", account.bridge_password, HOME)


def test_five_failures_lock_out_even_the_right_password(account):
    for _ in range(auth.MAX_FAILURES_PER_USER):
        with pytest.raises(AuthFailed):
            authenticate_sync("alice@proton.test", "wrong", HOME)

    with pytest.raises(LoginThrottled) as refused:
        authenticate_sync("alice@proton.test", account.bridge_password, HOME)

    assert refused.value.temporary
    assert "try again in 15 minutes" in str(refused.value)


def test_lockout_is_per_peer_and_user(account):
    for _ in range(auth.MAX_FAILURES_PER_USER):
        with pytest.raises(AuthFailed):
            authenticate_sync("alice@proton.test", "wrong", HOME)

    # Another peer, and another username from the same peer, still get in.
    assert authenticate_sync("alice@proton.test", account.bridge_password, OTHER_HOST)
    assert authenticate_sync("alias@proton.test", account.bridge_password, HOME)


def test_one_peer_trying_many_usernames_is_locked_out(account):
    for number in range(auth.MAX_FAILURES_PER_PEER):
        with pytest.raises(AuthFailed):
            authenticate_sync(f"guess{number}@proton.test", "wrong", OTHER_HOST)

    with pytest.raises(LoginThrottled):
        authenticate_sync("alice@proton.test", account.bridge_password, OTHER_HOST)


def test_a_success_clears_the_failures_of_that_login(account):
    for _ in range(auth.MAX_FAILURES_PER_USER - 1):
        with pytest.raises(AuthFailed):
            authenticate_sync("alice@proton.test", "wrong", HOME)
    authenticate_sync("alice@proton.test", account.bridge_password, HOME)

    for _ in range(auth.MAX_FAILURES_PER_USER - 1):
        with pytest.raises(AuthFailed):
            authenticate_sync("alice@proton.test", "wrong", HOME)
    assert authenticate_sync("alice@proton.test", account.bridge_password, HOME)


def test_login_is_shown_on_the_dashboard_once_per_program(account):
    for _ in range(3):
        authenticate_sync(
            "alice@proton.test", account.bridge_password, HOME, protocol="IMAP"
        )

    logins = Activity.objects.filter(account=account, kind=Activity.Kind.LOGIN)
    assert [a.text for a in logins] == [
        "Mail program IMAP login as alice@proton.test from 127.0.0.1"
    ]


def test_password_never_reaches_the_log(account, caplog):
    caplog.set_level("DEBUG")
    authenticate_sync("alice@proton.test", account.bridge_password, HOME)
    with pytest.raises(AuthFailed):
        authenticate_sync("alice@proton.test", "wrong-secret-value", HOME)

    assert account.bridge_password not in caplog.text
    assert "wrong-secret-value" not in caplog.text


@pytest.mark.parametrize(
    ("peer", "local"),
    [
        (("127.0.0.1", 1), True),
        (("::1", 1, 0, 0), True),
        ("127.0.0.5", True),
        (("192.0.2.1", 1), False),
        (("fe80::1%eth0", 1, 0, 2), False),
        (None, False),
    ],
)
def test_loopback_peers_are_recognised(peer, local):
    assert auth.is_loopback(peer) is local
