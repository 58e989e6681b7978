"""Helpers for tests that talk to the reference provider."""

import itertools
import time

import httpx

from mailsync.provider.client import ProviderClient

APP_VERSION = "linux-bridge@3.21.1"
PASSWORD = "correct horse battery"
_names = itertools.count(1)


class Sleeps(list):
    """Records the waits the client asks for, without waiting."""

    async def __call__(self, seconds):
        self.append(seconds)


def internal(refprovider, method, path, **body):
    """Call the reference provider's control API."""
    url = f"{refprovider.internal_url.rstrip('/')}/{path.lstrip('/')}"
    response = httpx.request(method, url, json=body or None, timeout=30)
    response.raise_for_status()
    return response.json() if response.content else {}


def new_user(refprovider, **options):
    """A fresh user (so tests do not share mailboxes); its name and emails."""
    name = f"user{next(_names)}x{time.monotonic_ns() % 100000}"
    emails = options.pop("addresses", None) or [f"{name}@proton.test"]
    refprovider.adduser(name, PASSWORD, addresses=emails, **options)
    return name, emails


def make_client(refprovider, sleeps=None, **options):
    return ProviderClient(
        refprovider.base_url,
        options.pop("app_version", APP_VERSION),
        refprovider.modulus_pubkey,
        sleep=sleeps if sleeps is not None else Sleeps(),
        **options,
    )


async def logged_in(refprovider, **options):
    name, emails = new_user(refprovider)
    client = make_client(refprovider, **options)
    await client.login(name, PASSWORD)
    account = await client.unlock(PASSWORD)
    return client, account, emails
