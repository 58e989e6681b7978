import pytest

from tests.provider.keys import make_account


@pytest.fixture(scope="session")
def account():
    """One provider-shaped account with two addresses (keys take a moment)."""
    return make_account(emails=("alice@proton.test", "alias@proton.test"))
