"""What the reference provider holds for a user, seen through its own API."""

import email
import email.policy
from email.message import EmailMessage

import httpx

from tests.fixtures.refprovider import ProviderUser, RefProvider

INBOX = "0"
ALL_DRAFTS = "1"
SENT = "7"


def list_messages(
    provider: RefProvider, user: ProviderUser, label_id: str
) -> list[dict]:
    session = provider.login(user.name, user.password)
    try:
        response = session.post(
            "mail/v4/messages",
            json={"LabelID": label_id, "PageSize": 150, "Desc": 1},
            headers={"X-HTTP-Method-Override": "GET"},
        )
        response.raise_for_status()
        return response.json()["Messages"]
    finally:
        session.close()


def get_message(provider: RefProvider, user: ProviderUser, message_id: str) -> dict:
    session = provider.login(user.name, user.password)
    try:
        response = session.get(f"mail/v4/messages/{message_id}")
        response.raise_for_status()
        return response.json()["Message"]
    finally:
        session.close()


def raw_message(provider: RefProvider, user: ProviderUser, message_id: str) -> bytes:
    """The message decrypted with the recipient's own keys."""
    response = httpx.get(
        f"{provider.internal_url}/users/{user.name}/messages/{message_id}/raw",
        timeout=30,
    )
    response.raise_for_status()
    return response.content


def received(provider: RefProvider, user: ProviderUser) -> list[EmailMessage]:
    """Every message in the user's Inbox, decrypted and parsed, newest first."""
    return [
        email.message_from_bytes(
            raw_message(provider, user, item["ID"]), policy=email.policy.default
        )
        for item in list_messages(provider, user, INBOX)
    ]


def outbox(provider: RefProvider) -> list[dict]:
    return provider.internal("GET", "outbox")["Outbox"]
