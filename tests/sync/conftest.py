"""Fixtures for the sync tests: people and a linked account."""

import pytest
from django.contrib.auth import get_user_model

from accounts.models import LinkedAccount


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
