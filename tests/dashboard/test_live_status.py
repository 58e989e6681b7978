"""The live-status websocket: own accounts only, signed-in people only."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.models import LinkedAccount
from bridgeadmin.asgi import application
from mailsync.notify import publish_status

pytestmark = pytest.mark.django_db(transaction=True)

# Generous bound for a loaded machine; messages arrive in milliseconds.
RECEIVE_TIMEOUT = 10


def socket_for(client=None, origin=b"http://localhost"):
    headers = [(b"host", b"localhost"), (b"origin", origin)]
    if client is not None:
        cookie = f"sessionid={client.cookies['sessionid'].value}"
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/status/", headers=headers)


async def receive(communicator) -> dict:
    return await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)


@pytest.fixture
def family_account(family):
    return LinkedAccount.objects.create(
        owner=family,
        provider_user_id="user-felix",
        username="felix",
        primary_email="felix@example.test",
        state=LinkedAccount.State.READY,
    )


async def test_owner_gets_a_snapshot_on_connect(owner_client, account):
    communicator = socket_for(owner_client)

    connected, _ = await communicator.connect()
    snapshot = await receive(communicator)

    assert connected
    assert snapshot["account"] == account.pk
    assert snapshot["state"] == "ready"
    assert snapshot["messages"] == 3
    assert snapshot["percent"] == 100
    await communicator.disconnect()


async def test_published_status_reaches_the_owner(owner_client, account):
    communicator = socket_for(owner_client)
    await communicator.connect()
    await receive(communicator)

    await sync_to_async(publish_status)(
        account.pk, {"state": "syncing", "phase": "messages", "done": 30, "total": 120}
    )
    status = await receive(communicator)

    assert status["account"] == account.pk
    assert status["state"] == "syncing"
    assert status["state_label"] == "Syncing"
    assert status["percent"] == 25
    assert status["progress_text"] == "30 of 120 messages (25%)"
    # Keys the publisher left out come from the database.
    assert status["messages"] == 3
    await communicator.disconnect()


async def test_published_status_does_not_reach_another_person(
    family_client, account, family_account
):
    communicator = socket_for(family_client)
    await communicator.connect()
    assert (await receive(communicator))["account"] == family_account.pk

    await sync_to_async(publish_status)(account.pk, {"state": "error"})
    await sync_to_async(publish_status)(family_account.pk, {"state": "syncing"})

    # Messages arrive in order: the next one is the family member's own.
    status = await receive(communicator)
    assert status["account"] == family_account.pk
    assert status["state"] == "syncing"
    await communicator.disconnect()


async def test_no_secret_travels_over_the_socket(owner_client, account):
    communicator = socket_for(owner_client)
    await communicator.connect()

    snapshot = await receive(communicator)

    text = repr(snapshot)
    assert account.bridge_password not in text
    assert account.refresh_token not in text
    await communicator.disconnect()


async def test_anonymous_socket_is_refused(account):
    communicator = socket_for()

    connected, code = await communicator.connect()

    assert not connected
    await communicator.disconnect()


async def test_socket_from_a_foreign_page_is_refused(owner_client, account):
    communicator = socket_for(owner_client, origin=b"http://attacker.example")

    connected, _ = await communicator.connect()

    assert not connected
    await communicator.disconnect()


async def test_removed_account_is_announced(owner_client, account):
    communicator = socket_for(owner_client)
    await communicator.connect()
    await receive(communicator)
    account_id = account.pk

    await sync_to_async(account.delete)()
    await sync_to_async(publish_status)(account_id, {"removed": True})

    assert await receive(communicator) == {"account": account_id, "removed": True}
    await communicator.disconnect()
