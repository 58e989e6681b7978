"""Guessing dashboard passwords is slowed down, as mail program logins are.

The dashboard is where bridge passwords are revealed and accounts linked, so
its sign-in must not allow endless guesses. Failures are counted per
(username, address) and per address; the window is the mail programs' one.
"""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts import forms
from tests.dashboard.conftest import PASSWORD


@pytest.fixture(autouse=True)
def fresh_counts():
    cache.clear()
    yield
    cache.clear()


def sign_in(username: str, password: str, address: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=address).post(
        reverse("login"), {"username": username, "password": password}
    )


def test_wrong_passwords_lock_that_person_out_for_a_while(owner):
    for attempt in range(forms.SIGN_IN_MAX_FAILURES_PER_USER):
        assert sign_in("olivia", f"guess {attempt}").status_code == 200

    response = sign_in("olivia", PASSWORD)

    body = response.content.decode()
    assert response.status_code == 200
    assert "Too many failed sign-ins" in body
    assert "15 minutes" in body


def test_the_lockout_is_per_person_and_address(owner, family):
    for attempt in range(forms.SIGN_IN_MAX_FAILURES_PER_USER):
        sign_in("olivia", f"guess {attempt}")

    assert sign_in("felix", PASSWORD).status_code == 302
    assert sign_in("olivia", PASSWORD, address="192.0.2.7").status_code == 302


def test_one_address_guessing_many_names_is_locked_out(owner):
    for attempt in range(forms.SIGN_IN_MAX_FAILURES_PER_ADDRESS):
        sign_in(f"someone{attempt}", "guess")

    response = sign_in("olivia", PASSWORD)

    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()


def test_a_success_forgets_that_persons_failures(owner):
    for attempt in range(forms.SIGN_IN_MAX_FAILURES_PER_USER - 1):
        sign_in("olivia", f"guess {attempt}")
    assert sign_in("olivia", PASSWORD).status_code == 302

    for attempt in range(forms.SIGN_IN_MAX_FAILURES_PER_USER - 1):
        sign_in("olivia", f"guess {attempt}")
    assert sign_in("olivia", PASSWORD).status_code == 302
