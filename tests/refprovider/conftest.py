"""Fixtures for the reference provider's own tests: a fresh user, a session."""

from pathlib import Path

import pytest

from tests.refprovider.helpers import unlock_account

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    # PGPy warns about checks it does not implement on every key it reads.
    quiet = pytest.mark.filterwarnings("ignore::UserWarning:pgpy.*")
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(quiet)


@pytest.fixture
def user(refprovider):
    return refprovider.adduser(password="correct horse")


@pytest.fixture
def session(refprovider, user):
    session = refprovider.login(user.name, user.password)
    session.user = user
    return session


@pytest.fixture
def account(session):
    """The session's keys, unlocked the way a client does it."""
    return unlock_account(session, session.user.password)
