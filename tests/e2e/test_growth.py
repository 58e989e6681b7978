"""Growth mode with real processes: PostgreSQL, Redis, Celery, two runbridges.

Everything runs as the README describes it: two ``celery worker``, one
``celery beat``, daphne for the dashboard and two ``manage.py runbridge``
on their own ports, all sharing pytest-django's PostgreSQL test database
and Redis (database 15, flushed first). The account is linked through
``accounts.linking``; its first sync runs on a worker. An IDLE client on the
first runbridge must see a flag set through the second one, and mail that
the beat-scheduled poll brings in on a worker.
"""

import email
import email.policy
import os
import re
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from accounts import linking
from accounts.models import LinkedAccount
from tests.fixtures.e2e import (
    ChildProcess,
    ProviderView,
    expected_mailboxes,
    imap_login,
    mbsync_mirror,
    new_message,
    normalized,
    wait_for_idle_response,
    wait_until,
)
from tests.fixtures.refprovider import RefProvider
from tests.support import bridge_process_env, free_port, require_program

pytestmark = [
    pytest.mark.growth,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

REDIS_DATABASE = 15
START_SECONDS = 120
SYNC_SECONDS = 300
DELIVERY_SECONDS = 90
STOP_SECONDS = 15
SEEDED_MESSAGES = 6
BIN = Path(sys.executable).parent


def growth_redis_url() -> str:
    """Redis for this test, or skip (fail in CI's PostgreSQL pass) without it."""
    configured = os.environ.get("BRIDGE_TEST_REDIS_URL", "")
    missing = []
    if not configured:
        missing.append("BRIDGE_TEST_REDIS_URL is not set")
    if connection.vendor != "postgresql":
        missing.append("DATABASE_URL does not point at PostgreSQL")
    if missing:
        reason = "growth mode needs PostgreSQL and Redis: " + "; ".join(missing)
        postgres_pass = bool(os.environ.get("DATABASE_URL"))
        if os.environ.get("CI") == "true" and postgres_pass:
            pytest.fail(reason)
        pytest.skip(reason + " (`make test-postgres` sets both)")

    parts = urlsplit(configured)
    return urlunsplit(parts._replace(path=f"/{REDIS_DATABASE}"))


@pytest.fixture
def redis_url() -> str:
    import redis

    url = growth_redis_url()
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@pytest.fixture
def growth_dispatch(settings, redis_url: str, refprovider: RefProvider):
    """This process as a growth-mode node: tasks go to Celery over Redis."""
    from bridgeadmin.celery import app

    settings.BRIDGE_PROVIDER_URL = refprovider.base_url
    settings.BRIDGE_PROVIDER_MODULUS_KEY = refprovider.modulus_pubkey
    settings.BRIDGE_APP_VERSION = refprovider.app_version
    settings.EMBEDDED = False
    settings.REDIS_URL = redis_url

    previous = app.conf.broker_url
    app.close()  # a producer pool made for another broker would be reused
    app.conf.broker_url = redis_url
    yield
    app.close()
    app.conf.broker_url = previous


def test_growth_mode_processes_share_one_index(
    redis_url: str,
    growth_dispatch,
    refprovider: RefProvider,
    processes: list[ChildProcess],
    tmp_path: Path,
) -> None:
    user = refprovider.adduser()
    refprovider.seed(
        user.name,
        [
            new_message(f"seeded {n}", f"Seeded message {n}.", "a@b.test", user.name)
            for n in range(SEEDED_MESSAGES)
        ],
    )
    env = bridge_process_env(
        REDIS_URL=redis_url,
        BRIDGE_PROVIDER_URL=refprovider.base_url,
        BRIDGE_PROVIDER_MODULUS_KEY=str(refprovider.data_dir / "modulus-pubkey.asc"),
        BRIDGE_APP_VERSION=refprovider.app_version,
        BRIDGE_EVENT_INTERVAL="2",
        BRIDGE_EVENT_JITTER="0",
    )
    logs = tmp_path / "logs"
    ports = {name: free_port() for name in ("imap1", "smtp1", "imap2", "smtp2", "web")}

    def start(name: str, argv: list[str]) -> ChildProcess:
        child = ChildProcess(name, argv, logs, env=env)
        processes.append(child)
        return child

    celery = str(BIN / "celery")
    workers = [
        start(
            f"worker{n}",
            [celery, "-A", "bridgeadmin", "worker", "--concurrency", "1"]
            + ["-n", f"worker{n}@%h", "--without-gossip", "--without-mingle"]
            + ["--loglevel", "INFO"],
        )
        for n in (1, 2)
    ]
    beat = start(
        "beat",
        [celery, "-A", "bridgeadmin", "beat", "--loglevel", "INFO"]
        + ["-s", str(tmp_path / "beat-schedule")],
    )
    dashboard = start(
        "daphne",
        [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(ports["web"])]
        + ["bridgeadmin.asgi:application"],
    )
    # One after the other: the first one makes the shared TLS certificate.
    bridges = []
    for n in (1, 2):
        bridge = start(
            f"runbridge{n}",
            [sys.executable, "manage.py", "runbridge"]
            + ["--imap-port", str(ports[f"imap{n}"])]
            + ["--smtp-port", str(ports[f"smtp{n}"])],
        )
        bridge.wait_for_output(r"^bridge ready$", START_SECONDS)
        bridges.append(bridge)

    for worker in workers:
        worker.wait_for_output(r"ready\.", START_SECONDS, stream="stderr")
    beat.wait_for_output(r"beat: Starting", START_SECONDS, stream="stderr")
    login_page = wait_until(
        lambda: dashboard_login_page(ports["web"]),
        START_SECONDS,
        "daphne to serve the dashboard",
        detail=dashboard.tail,
    )
    assert 'name="password"' in login_page

    owner = get_user_model().objects.create_user("grower", password="grow-pass-1")
    progress = linking.start_link(owner, user.name, user.password)
    assert progress.step == "done"
    account = progress.account
    wait_until(
        lambda: LinkedAccount.objects.get(id=account.id).state == "ready",
        SYNC_SECONDS,
        "a worker to finish the first sync",
        detail=lambda: "\n".join(worker.tail() for worker in workers),
    )
    wait_until(
        lambda: ran_on_a_worker(workers, "mailsync.first_sync"),
        DELIVERY_SECONDS,
        "a worker to log the first sync",
    )

    view = ProviderView(refprovider)
    certificate = Path(env["BRIDGE_DATA_DIR"]) / "tls" / "cert.pem"
    password = account.bridge_password
    mirrored = mbsync_mirror(
        tmp_path / "mbsync",
        port=ports["imap2"],
        user=user.addresses[0],
        password=password,
        certificate=certificate,
    )
    expected = expected_mailboxes(view, user.name, user.password)
    assert {name: box.copies for name, box in mirrored.items()} == expected
    assert sum(expected["INBOX"].values()) == SEEDED_MESSAGES

    with (
        imap_login(ports["imap1"], user.addresses[0], password, certificate) as idler,
        imap_login(ports["imap2"], user.addresses[0], password, certificate) as other,
    ):
        idler.select_folder("INBOX")
        other.select_folder("INBOX")
        target_uid = min(other.search("ALL"))
        idler.idle()

        other.add_flags([target_uid], [rb"\Flagged"])
        wait_for_idle_response(
            idler,
            reports_flag(rb"\Flagged"),
            DELIVERY_SECONDS,
            "runbridge 1 to report the flag set through runbridge 2",
        )
        assert wait_until(
            lambda: any(
                "10" in message.label_ids
                for message in view.messages(user.name, user.password, "0")
            ),
            DELIVERY_SECONDS,
            "the flag to reach the provider as a star",
        )

        arriving = new_message(
            f"growth {secrets.token_hex(6)}", "Polled by beat.", "x@y.test", user.name
        )
        message_id = view.deliver(user.name, arriving)
        wait_for_idle_response(
            idler,
            lambda response: (
                response[1:2] == (b"EXISTS",) and response[0] > SEEDED_MESSAGES
            ),
            DELIVERY_SECONDS,
            "runbridge 1 to report mail that a worker's poll brought in",
        )
        idler.idle_done()
        assert "Sending due task poll-events-of-every-account" in beat.errors()
        # The worker logs its task's end just after the commit IDLE reported.
        wait_until(
            lambda: ran_on_a_worker(workers, "mailsync.poll_events", "'applied [1-9]"),
            DELIVERY_SECONDS,
            "a worker to log the poll that applied the new mail",
        )

        newest = max(idler.search("ALL"))
        fetched = idler.fetch([newest], ["BODY.PEEK[]"])[newest][b"BODY[]"]
        assert normalized(fetched) == normalized(view.raw(user.name, message_id))

    send_with_swaks(view, refprovider, ports["smtp1"], user.addresses[0], password)

    for child in [*bridges, dashboard, beat, *workers]:
        child.send(signal.SIGTERM)
    for child in [*bridges, dashboard, beat, *workers]:
        assert child.wait(STOP_SECONDS) == 0, child.tail()
    for bridge in bridges:
        assert bridge.output().rstrip().endswith("bridge stopped")


def dashboard_login_page(port: int) -> str | None:
    try:
        response = httpx.get(
            f"http://127.0.0.1:{port}/login/", follow_redirects=True, timeout=10
        )
    except httpx.TransportError:
        return None
    return response.text if response.status_code == 200 else None


def reports_flag(flag: bytes):
    def wanted(response: tuple) -> bool:
        if response[1:2] != (b"FETCH",) or len(response) < 3:
            return False
        items = list(response[2])
        for name, value in zip(items[::2], items[1::2], strict=False):
            if name == b"FLAGS" and flag in value:
                return True
        return False

    return wanted


def ran_on_a_worker(workers: list[ChildProcess], task: str, summary: str = "") -> bool:
    """Whether a worker logged `task` as succeeded (with `summary`, a regex)."""
    pattern = re.compile(
        rf"Task {re.escape(task)}\[[^\]]+\] succeeded in [\d.]+s: {summary}"
    )
    return any(pattern.search(worker.errors()) for worker in workers)


def send_with_swaks(
    view: ProviderView, refprovider: RefProvider, port: int, sender: str, password: str
) -> None:
    swaks = require_program("swaks")
    friend = refprovider.adduser()
    token = secrets.token_hex(8)
    result = subprocess.run(
        [swaks, "--server", "127.0.0.1", "--port", str(port), "-tls"]
        + ["--auth", "LOGIN", "--auth-user", sender, "--auth-password", password]
        + ["--from", sender, "--to", friend.addresses[0]]
        + ["--header", f"Subject: growth {token}", "--body", f"Hello {token}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"swaks failed:\n{result.stdout[-3000:]}"

    inbox = wait_until(
        lambda: view.messages(friend.name, friend.password, "0"),
        DELIVERY_SECONDS,
        "the mail sent through runbridge 1 to reach the other user",
    )
    received = email.message_from_bytes(
        view.raw(friend.name, inbox[0].id), policy=email.policy.default
    )
    assert received["Subject"] == f"growth {token}"
    assert f"Hello {token}" in received.get_body(("plain",)).get_content()
