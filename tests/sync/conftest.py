"""Fixtures for the sync tests: people, accounts, and the provider wired in."""

from concurrent.futures import Future

import pytest
from django.contrib.auth import get_user_model

from accounts import linking
from accounts.models import LinkedAccount
from mailsync import dispatch
from mailsync.models import Mailbox, MailboxEntry


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("owner", password="owner-pass-1")


@pytest.fixture
def outsider(db):
    return get_user_model().objects.create_user("outsider", password="outsider-pass-1")


@pytest.fixture
def account(owner):
    return LinkedAccount.objects.create(
        owner=owner,
        provider_user_id="user-1",
        username="alice",
        primary_email="alice@proton.test",
        state=LinkedAccount.State.READY,
    )


@pytest.fixture
def provider(settings, refprovider, transactional_db):
    """The reference provider, configured as the bridge's provider.

    Transactional: the tasks run in worker threads with their own database
    connections, so the rows must really be committed.
    """
    settings.BRIDGE_PROVIDER_URL = refprovider.base_url
    settings.BRIDGE_PROVIDER_MODULUS_KEY = refprovider.modulus_pubkey
    settings.BRIDGE_APP_VERSION = refprovider.app_version
    yield refprovider
    for name, args in dispatch.in_flight():
        future = dispatch.running_future(name, *args)
        if future is not None:
            future.result(timeout=120)


def wait_for_task(name: str, account_id: int) -> str | None:
    """Wait for the embedded task queued for an account; its summary."""
    future: Future | None = dispatch.running_future(name, account_id)
    return future.result(timeout=300) if future is not None else None


def link(owner, provider_user) -> LinkedAccount:
    """Link a provider user (one password, no 2FA) and wait for the sync."""
    progress = linking.start_link(owner, provider_user.name, provider_user.password)
    assert progress.step == "done"
    wait_for_task("first_sync", progress.account.id)
    return LinkedAccount.objects.get(id=progress.account.id)


def uids_by_date(account) -> dict[str, list[tuple]]:
    """Per mailbox name: (INTERNALDATE, provider id) of its messages by UID."""
    boxes = Mailbox.objects.filter(account=account).exclude(
        kind=Mailbox.Kind.PLACEHOLDER
    )
    ordered = {}
    for box in boxes:
        rows = MailboxEntry.objects.filter(mailbox=box).order_by("uid")
        ordered[box.name] = list(
            rows.values_list("message__internal_date", "message__provider_id")
        )
    return ordered


def assert_uids_ascend_with_date(account) -> None:
    """In every mailbox, a higher UID is a later message (ties: provider id)."""
    for name, keys in uids_by_date(account).items():
        assert keys == sorted(keys), f"{name}: UIDs do not follow the date"
