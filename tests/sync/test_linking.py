"""Linking a provider account: every step, error and re-link."""

import base64
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts import linking
from accounts.models import Address, LinkedAccount
from mailsync.models import MailboxEntry, PendingLink, SyncState
from tests.fixtures.refprovider import totp_now
from tests.support import corpus_files
from tests.sync.conftest import wait_for_task

TOTP_SECRET = base64.b32encode(b"bridge-test-secret!!").decode()


def finish(progress, owner) -> LinkedAccount:
    assert progress.step == "done"
    wait_for_task("first_sync", progress.account.id)
    return LinkedAccount.objects.get(id=progress.account.id)


def test_plain_login_links_and_forgets_the_password(owner, provider):
    user = provider.adduser(addresses=None)

    account = finish(linking.start_link(owner, user.name, user.password), owner)

    assert account.owner == owner
    assert account.primary_email == user.addresses[0]
    assert account.state == LinkedAccount.State.READY
    assert len(account.bridge_password) == 22
    assert account.key_passphrase and account.key_passphrase != user.password
    assert account.refresh_token
    assert (
        list(Address.objects.filter(account=account).values_list("email", flat=True))
        == user.addresses
    )
    assert not PendingLink.objects.exists()


def test_two_factor_code_is_asked_for_and_checked(owner, provider):
    user = provider.adduser(totp_secret=TOTP_SECRET)
    progress = linking.start_link(owner, user.name, user.password)
    assert progress.step == "two_factor"

    with pytest.raises(linking.LinkError, match="code is not right"):
        linking.submit_two_factor(owner, progress.pending_id, "000000")
    progress = linking.submit_two_factor(
        owner, progress.pending_id, totp_now(TOTP_SECRET)
    )

    assert finish(progress, owner).state == LinkedAccount.State.READY


def test_too_many_wrong_codes_drop_the_login(owner, provider):
    user = provider.adduser(totp_secret=TOTP_SECRET)
    progress = linking.start_link(owner, user.name, user.password)

    for _ in range(linking.MAX_ATTEMPTS - 1):
        with pytest.raises(linking.LinkError, match="not right"):
            linking.submit_two_factor(owner, progress.pending_id, "000000")
    with pytest.raises(linking.LinkError, match="Too many"):
        linking.submit_two_factor(owner, progress.pending_id, "000000")

    assert not PendingLink.objects.exists()


def test_mailbox_password_unlocks_a_two_password_account(owner, provider):
    user = provider.adduser(mailbox_password="second secret")
    progress = linking.start_link(owner, user.name, user.password)
    assert progress.step == "mailbox_password"

    with pytest.raises(linking.LinkError, match="mailbox password is not right"):
        linking.submit_mailbox_password(owner, progress.pending_id, "wrong")
    progress = linking.submit_mailbox_password(
        owner, progress.pending_id, "second secret"
    )

    assert finish(progress, owner).state == LinkedAccount.State.READY


def test_two_factor_then_mailbox_password(owner, provider):
    user = provider.adduser(totp_secret=TOTP_SECRET, mailbox_password="second")
    progress = linking.start_link(owner, user.name, user.password)
    progress = linking.submit_two_factor(
        owner, progress.pending_id, totp_now(TOTP_SECRET)
    )
    assert progress.step == "mailbox_password"

    progress = linking.submit_mailbox_password(owner, progress.pending_id, "second")

    assert finish(progress, owner).state == LinkedAccount.State.READY


def test_human_verification_gives_the_page_then_the_token_works(owner, provider):
    user = provider.adduser(human_verification=True)

    with pytest.raises(linking.HumanVerificationNeeded) as needed:
        linking.start_link(owner, user.name, user.password)
    assert needed.value.token in needed.value.url
    assert needed.value.url.startswith("https://verify.proton.me/?")

    provider.internal("POST", f"users/{user.name}/hv-approve", Token=needed.value.token)
    progress = linking.start_link(
        owner,
        user.name,
        user.password,
        hv_token=needed.value.token,
        hv_type=needed.value.methods[0],
    )

    assert finish(progress, owner).state == LinkedAccount.State.READY


def test_free_plan_is_refused_in_plain_words(owner, provider):
    user = provider.adduser(free_plan=True)
    with pytest.raises(linking.LinkError, match="paid plans"):
        linking.start_link(owner, user.name, user.password)


def test_wrong_password_is_refused(owner, provider):
    user = provider.adduser()
    with pytest.raises(linking.LinkError, match="username or password is not right"):
        linking.start_link(owner, user.name, "not the password")


def test_relinking_keeps_the_index_and_the_bridge_password(owner, provider):
    user = provider.adduser()
    provider.seed(user.name, eml=corpus_files()[:4])
    account = finish(linking.start_link(owner, user.name, user.password), owner)
    uids = set(MailboxEntry.objects.values_list("mailbox__name", "message_id", "uid"))
    password = account.bridge_password
    provider.internal("POST", f"users/{user.name}/revoke")
    LinkedAccount.objects.filter(id=account.id).update(state="needs-login")

    again = linking.start_link(owner, user.name, user.password)

    assert again.account.id == account.id
    assert again.account.state == LinkedAccount.State.READY
    assert again.account.bridge_password == password
    assert (
        set(MailboxEntry.objects.values_list("mailbox__name", "message_id", "uid"))
        == uids
    )
    assert SyncState.objects.get(account=account).phase == "done"


def test_another_person_cannot_link_the_same_provider_account(
    owner, outsider, provider
):
    user = provider.adduser()
    finish(linking.start_link(owner, user.name, user.password), owner)

    with pytest.raises(linking.LinkError, match="already linked by another person"):
        linking.start_link(outsider, user.name, user.password)


def test_another_person_cannot_continue_a_login(owner, outsider, provider):
    user = provider.adduser(totp_secret=TOTP_SECRET)
    progress = linking.start_link(owner, user.name, user.password)

    with pytest.raises(linking.LinkError, match="expired or was cancelled"):
        linking.submit_two_factor(outsider, progress.pending_id, totp_now(TOTP_SECRET))


def test_expired_login_must_start_again(owner, provider):
    user = provider.adduser(totp_secret=TOTP_SECRET)
    progress = linking.start_link(owner, user.name, user.password)
    PendingLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(linking.LinkError, match="expired"):
        linking.submit_two_factor(owner, progress.pending_id, totp_now(TOTP_SECRET))
    assert not PendingLink.objects.exists()


def test_cancel_drops_the_pending_login(owner, provider):
    user = provider.adduser(mailbox_password="second")
    progress = linking.start_link(owner, user.name, user.password)

    linking.cancel_link(owner, progress.pending_id)

    assert not PendingLink.objects.exists()
    with pytest.raises(linking.LinkError, match="expired or was cancelled"):
        linking.submit_mailbox_password(owner, progress.pending_id, "second")


def test_pending_secrets_are_sealed(owner, provider):
    user = provider.adduser(mailbox_password="second")
    linking.start_link(owner, user.name, user.password)

    pending = PendingLink.objects.get()
    assert user.password.encode() not in bytes(pending.password_sealed)
    assert pending.get_secret("password") == user.password


def test_linkaccount_command_reads_answers_from_stdin(owner, provider, monkeypatch):
    user = provider.adduser(totp_secret=TOTP_SECRET)
    answers = io.StringIO(f"{user.password}\n{totp_now(TOTP_SECRET)}\n")
    monkeypatch.setattr("sys.stdin", answers)
    output = io.StringIO()

    call_command("linkaccount", owner.username, user.name, "--stdin", stdout=output)

    account = LinkedAccount.objects.get(owner=owner)
    assert f"Linked {account.primary_email}" in output.getvalue()
    assert account.bridge_password in output.getvalue()
    assert account.state == LinkedAccount.State.READY
