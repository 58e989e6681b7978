"""Named people and a linked account for the dashboard tests.

* ``owner`` links the account the tests look at;
* ``family`` is another member of the same household, with no say over it;
* ``outsider`` is any other person on the bridge;
* ``staff`` administers the bridge (people, settings) but not others' mail.
"""

from concurrent.futures import wait

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Activity, Address, LinkedAccount
from mailsync import dispatch
from mailsync.models import Mailbox, MailboxEntry, Message, SyncState

PASSWORD = "correct horse battery staple"
# Bounds the wait for a first sync left running by a test; it times nothing.
TASK_DEADLINE_SECONDS = 120

# Secrets planted in the fixture account; no page may ever contain them.
REFRESH_TOKEN = "refresh-token-that-must-stay-hidden"
ACCESS_TOKEN = "access-token-that-must-stay-hidden"
KEY_PASSPHRASE = "key-passphrase-that-must-stay-hidden"


def make_person(username: str, **extra):
    return get_user_model().objects.create_user(username, password=PASSWORD, **extra)


@pytest.fixture(autouse=True)
def bridge_data_dir(settings, tmp_path):
    # Certificates written by the pages under test land in a throwaway place.
    settings.DATA_DIR = tmp_path
    settings.BRIDGE_TLS_CERT = ""
    settings.BRIDGE_TLS_KEY = ""
    return tmp_path


@pytest.fixture(autouse=True)
def no_real_provider(settings):
    # Nothing here may reach the real provider; tests that need one point
    # this at the reference provider.
    settings.BRIDGE_PROVIDER_URL = "http://127.0.0.1:9/api"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The real hasher spends a deliberate fraction of a second per password;
    # these tests hash dozens. What they check does not depend on the cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(db):
    return make_person("olivia")


@pytest.fixture
def family(db):
    return make_person("felix")


@pytest.fixture
def outsider(db):
    return make_person("oscar")


@pytest.fixture
def staff(db):
    return make_person("stella", is_staff=True)


def signed_in(person) -> Client:
    client = Client()
    client.force_login(person)
    return client


@pytest.fixture
def owner_client(owner):
    return signed_in(owner)


@pytest.fixture
def family_client(family):
    return signed_in(family)


@pytest.fixture
def outsider_client(outsider):
    return signed_in(outsider)


@pytest.fixture
def staff_client(staff):
    return signed_in(staff)


@pytest.fixture
def account(owner):
    """A synced account with two mailboxes, three messages and some history."""
    account = LinkedAccount(
        owner=owner,
        provider_user_id="user-olivia",
        username="olivia",
        primary_email="olivia@example.test",
        state=LinkedAccount.State.READY,
    )
    account.refresh_token = REFRESH_TOKEN
    account.access_token = ACCESS_TOKEN
    account.key_passphrase = KEY_PASSPHRASE
    account.regenerate_bridge_password()
    account.save()

    Address.objects.create(
        account=account, provider_id="a1", email=account.primary_email
    )
    Address.objects.create(
        account=account, provider_id="a2", email="olivia.alias@example.test", order=1
    )
    SyncState.objects.create(
        account=account, phase=SyncState.Phase.DONE, done=3, total=3
    )

    inbox = Mailbox.objects.create(
        account=account, label_id="0", name="INBOX", kind=Mailbox.Kind.SYSTEM
    )
    work = Mailbox.objects.create(
        account=account, label_id="L1", name="Folders/Work", kind=Mailbox.Kind.FOLDER
    )
    for uid, (mailbox, unread) in enumerate(
        [(inbox, True), (inbox, False), (work, False)], start=1
    ):
        message = Message.objects.create(
            account=account, provider_id=f"m{uid}", unread=unread
        )
        MailboxEntry.objects.create(mailbox=mailbox, message=message, uid=uid)

    Activity.objects.create(account=account, kind="sync", text="First sync finished")
    return account


def assert_no_secret(response, account: LinkedAccount) -> None:
    body = response.content.decode()
    for secret in (REFRESH_TOKEN, ACCESS_TOKEN, KEY_PASSPHRASE, PASSWORD):
        assert secret not in body
    assert account.bridge_password not in body


@pytest.fixture
def bridge_provider(settings, refprovider, transactional_db):
    """The bridge pointed at the reference provider.

    Linking starts the first sync in the embedded task pool, whose threads
    need committed rows: hence a transactional database, and a wait for those
    tasks before the settings (and so the provider's address) are put back.
    """
    settings.BRIDGE_PROVIDER_URL = refprovider.base_url
    settings.BRIDGE_PROVIDER_MODULUS_KEY = refprovider.modulus_pubkey
    settings.BRIDGE_APP_VERSION = refprovider.app_version
    yield refprovider

    futures = [
        dispatch.running_future(name, *args) for name, args in dispatch.in_flight()
    ]
    wait([future for future in futures if future], timeout=TASK_DEADLINE_SECONDS)
