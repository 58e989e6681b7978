"""`make run` as a newcomer runs it, then the same data directory again.

The first run seeds the demo mailbox on the reference provider, links it and
syncs it. Then real mail programs use the bridge: mbsync mirrors every
mailbox (each message must equal what the provider holds), swaks sends to
another provider user (who must be able to decrypt it), an IDLE client sees
mail arriving, the dashboard answers. SIGTERM must stop everything, the
provider included. The second run must reuse everything: no new demo
mailbox, the same bridge password, the same UIDVALIDITY everywhere.
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

import httpx
import pytest

from tests.fixtures.e2e import (
    DEMO_USER,
    ChildProcess,
    DemoRun,
    ProviderView,
    child_pids,
    expected_mailboxes,
    imap_login,
    mbsync_mirror,
    new_message,
    normalized,
    processes_mentioning,
    wait_for_idle_response,
    wait_until,
)
from tests.support import REPO_ROOT, free_port, require_program

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("DATABASE_URL")),
        reason="the newcomer run uses the embedded default; the SQLite pass runs it",
    ),
]

# Generous: the first `make run` may install the requirements, and it makes
# a few hundred encrypted messages before it starts the bridge.
FIRST_START_SECONDS = 600
START_SECONDS = 180
DELIVERY_SECONDS = 90
# Ctrl-C or SIGTERM must stop everything, the provider included, promptly.
STOP_SECONDS = 10
SEEDING_LINE = "making the demo mailbox"


def test_make_run_serves_mail_programs_and_restarts_on_its_data(
    tmp_path: Path, processes: list[ChildProcess]
) -> None:
    require_program("make")
    mbsync_dir = tmp_path / "mbsync"
    data_dir = tmp_path / "data"
    ports = {"imap": free_port(), "smtp": free_port(), "dashboard": free_port()}

    first = DemoRun("make-run-1", data_dir, tmp_path / "logs", ports)
    processes.append(first.process)
    first.wait_ready(FIRST_START_SECONDS)
    assert SEEDING_LINE in first.process.output()
    first.wait_synced()
    view = first.provider()
    password = first.bridge_password

    mirrored = mirror_and_compare(first, view, mbsync_dir)
    send_with_swaks(first, view)
    idle_sees_delivery(first, view)
    dashboard_login_page_loads(ports["dashboard"])
    stop_with_sigterm(first)

    second = DemoRun("make-run-2", data_dir, tmp_path / "logs", ports)
    processes.append(second.process)
    second.wait_ready(START_SECONDS)
    assert SEEDING_LINE not in second.process.output(), (
        "the demo mailbox was made again"
    )
    assert second.bridge_password == password
    second.wait_synced()

    # mbsync itself refuses a mailbox whose UIDVALIDITY changed; compare too.
    again = mirror_and_compare(second, second.provider(), mbsync_dir)
    assert {name: box.uidvalidity for name, box in again.items()} == {
        name: box.uidvalidity for name, box in mirrored.items()
    }
    stop_with_ctrl_c(second)


def mirror_and_compare(run: DemoRun, view: ProviderView, workdir: Path) -> dict:
    """mbsync every mailbox; each must hold exactly the provider's messages."""
    mirrored = mbsync_mirror(
        workdir,
        port=run.ports["imap"],
        user=run.username,
        password=run.bridge_password,
        certificate=run.certificate,
    )
    expected = expected_mailboxes(view, DEMO_USER, run.provider_password)

    assert sorted(mirrored) == sorted(expected), "the mailboxes differ"
    assert sum(expected["All Mail"].values()) > 0
    for name, want in expected.items():
        got = mirrored[name].copies
        assert got == want, (
            f"{name}: {sum(got.values())} mirrored, {sum(want.values())} on the "
            f"provider; {sum((got - want).values())} unexpected, "
            f"{sum((want - got).values())} missing or different"
        )
    return mirrored


def send_with_swaks(run: DemoRun, view: ProviderView) -> None:
    """swaks submits to another provider user, who can decrypt the mail."""
    swaks = require_program("swaks")
    friend = f"friend{secrets.token_hex(3)}"
    subprocess.run(
        [sys.executable, "-m", "refprovider", "adduser"]
        + ["--data", str(run.provider_dir), "--username", friend]
        + ["--password", "friend-password"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    token = secrets.token_hex(8)
    result = subprocess.run(
        [swaks, "--server", "127.0.0.1", "--port", str(run.ports["smtp"]), "-tls"]
        + ["--auth", "LOGIN", "--auth-user", run.username]
        + ["--auth-password", run.bridge_password]
        + ["--from", run.username, "--to", f"{friend}@proton.test"]
        + ["--header", f"Subject: newcomer {token}", "--body", f"Hello {token}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"swaks failed:\n{result.stdout[-3000:]}"

    inbox = wait_until(
        lambda: view.messages(friend, "friend-password", "0"),
        DELIVERY_SECONDS,
        "the mail sent with swaks to reach the other user",
    )
    received = email.message_from_bytes(
        view.raw(friend, inbox[0].id), policy=email.policy.default
    )
    assert received["Subject"] == f"newcomer {token}"
    assert f"Hello {token}" in received.get_body(("plain",)).get_content()


def idle_sees_delivery(run: DemoRun, view: ProviderView) -> None:
    """Mail arriving at the provider reaches a client idling in INBOX."""
    with imap_login(
        run.ports["imap"], run.username, run.bridge_password, run.certificate
    ) as client:
        before = client.select_folder("INBOX")[b"EXISTS"]
        client.idle()
        literal = new_message(
            f"arriving {secrets.token_hex(6)}",
            "Delivered while a client idles.",
            "someone@elsewhere.test",
            run.username,
        )
        message_id = view.deliver(DEMO_USER, literal)
        wait_for_idle_response(
            client,
            lambda response: response[1:2] == (b"EXISTS",) and response[0] > before,
            DELIVERY_SECONDS,
            "IDLE to report the delivered message",
        )
        client.idle_done()

        newest = max(client.search("ALL"))
        fetched = client.fetch([newest], ["BODY.PEEK[]"])[newest][b"BODY[]"]
        assert normalized(fetched) == normalized(view.raw(DEMO_USER, message_id))


def dashboard_login_page_loads(port: int) -> None:
    response = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=True, timeout=30)
    assert response.status_code == 200
    assert re.search(r'name="password"', response.text), "no login form"


def stop_with_sigterm(run: DemoRun) -> None:
    """SIGTERM to what make runs: all stops, exit status 0, no provider left."""
    children = child_pids(run.process.pid)
    assert len(children) == 1, f"make should run one command, has {children}"
    os.kill(children[0], signal.SIGTERM)
    status = run.process.wait(STOP_SECONDS)

    assert status == 0, run.process.tail()
    assert run.process.output().rstrip().endswith("bridge stopped")
    assert processes_mentioning(str(run.provider_dir)) == []


def stop_with_ctrl_c(run: DemoRun) -> None:
    """Ctrl-C in a terminal reaches make, the bridge and the provider at once.

    make then reports the interrupt itself (it dies by SIGINT); the bridge
    must still finish its shutdown and leave no provider behind.
    """
    run.process.send_group(signal.SIGINT)
    status = run.process.wait(STOP_SECONDS)

    assert status in (0, -signal.SIGINT), run.process.tail()
    assert "bridge stopped" in run.process.output(), run.process.tail()
    assert "Traceback" not in run.process.errors(), run.process.tail()
    assert processes_mentioning(str(run.provider_dir)) == []
