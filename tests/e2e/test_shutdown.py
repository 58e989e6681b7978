"""SIGTERM while work is in flight: finish it or abandon it safely.

The bridge runs as ``manage.py demo`` (what ``make run`` runs) on the
embedded default; the reference provider is slowed down through its control
API so that the signal lands in the middle of the work:

- a first sync: it stops between two writes, every message indexed so far has
  its cached body, and the next start resumes to an index that equals the
  provider, message for message;
- an event poll bringing in new mail: every message indexed has its cached
  body, and the next start completes the index;
- a message being sent that the provider answers within the shutdown wait:
  the mail program gets its 250 and the recipient gets the mail;
- a message whose sending outlasts the shutdown wait: the mail program never
  gets a 250, and no draft of it is left behind.
"""

import os
import secrets
import signal
import smtplib
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.fixtures.e2e import (
    DEMO_USER,
    HOST,
    ChildProcess,
    DemoRun,
    expected_mailboxes,
    mbsync_mirror,
    new_message,
    processes_mentioning,
    wait_until,
)
from tests.support import REPO_ROOT, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("DATABASE_URL")),
        reason="the demo runs on the embedded default; the SQLite pass runs it",
    ),
]

START_SECONDS = 300
STOP_SECONDS = 10
SMTP_SECONDS = 60
# The provider answers message downloads this much later during the sync.
SLOW_DOWNLOAD_SECONDS = 1.0
SYNC_MESSAGES = 120
SMALL_MAILBOX = 10
ARRIVING_MESSAGES = 12
# Enough slowed-down downloads to see the first of them being used.
COUNTED_DOWNLOADS = 1000
# Shorter and longer than the SMTP listener's wait for sends at shutdown.
SEND_WITHIN_WAIT_SECONDS = 2.0
SEND_BEYOND_WAIT_SECONDS = 30.0
ALL_DRAFTS = "1"
INBOX = "0"


def demo_run(name: str, tmp_path: Path, ports: dict, messages: int) -> DemoRun:
    return DemoRun(
        name,
        tmp_path / "data",
        tmp_path / "logs",
        ports,
        command=[sys.executable, "manage.py", "demo", "--messages", str(messages)],
    )


def new_ports() -> dict[str, int]:
    return {"imap": free_port(), "smtp": free_port(), "dashboard": free_port()}


def stop_and_check(run: DemoRun) -> None:
    """SIGTERM: exit status 0 in time, "bridge stopped", no provider left."""
    run.process.send(signal.SIGTERM)
    assert run.process.wait(STOP_SECONDS) == 0, run.process.tail()
    assert run.process.output().rstrip().endswith("bridge stopped")
    assert "Traceback" not in run.process.errors(), run.process.tail()
    assert processes_mentioning(str(run.provider_dir)) == []


def test_sigterm_during_the_first_sync_resumes_to_a_complete_index(
    tmp_path: Path, processes: list[ChildProcess]
) -> None:
    ports = new_ports()
    first = demo_run("demo-1", tmp_path, ports, SYNC_MESSAGES)
    processes.append(first.process)
    # The provider starts before the demo mailbox is made and linked.
    first.provider(START_SECONDS).fault(
        Path="/mail/v4/messages/", Method="GET", Delay=SLOW_DOWNLOAD_SECONDS
    )

    def sync_progress() -> tuple | None:
        rows = first.query("SELECT phase, done, total FROM mailsync_syncstate")
        return rows[0] if rows and rows[0][0] == "messages" and rows[0][1] else None

    wait_until(
        sync_progress,
        START_SECONDS,
        "the first sync to index its first messages",
        detail=first.process.tail,
    )
    stop_and_check(first)

    phase, done, total = first.query(
        "SELECT phase, done, total FROM mailsync_syncstate"
    )[0]
    assert (phase, first.account_state()) == ("messages", "syncing")
    assert 0 < done < total, "the signal should have landed in the middle"
    assert uncached_messages(first) == 0, "messages indexed without their body"

    second = demo_run("demo-2", tmp_path, ports, SYNC_MESSAGES)
    processes.append(second.process)
    second.wait_ready(START_SECONDS)
    second.wait_synced()
    mirrored = mbsync_mirror(
        tmp_path / "mbsync",
        port=ports["imap"],
        user=second.username,
        password=second.bridge_password,
        certificate=second.certificate,
    )
    expected = expected_mailboxes(
        second.provider(), DEMO_USER, second.provider_password
    )
    assert {name: box.copies for name, box in mirrored.items()} == expected
    assert sum(expected["All Mail"].values()) == SYNC_MESSAGES
    stop_and_check(second)


def test_sigterm_during_an_event_poll_keeps_the_index_whole(
    tmp_path: Path, processes: list[ChildProcess]
) -> None:
    ports = new_ports()
    first = demo_run("demo-1", tmp_path, ports, SMALL_MAILBOX)
    processes.append(first.process)
    first.wait_ready(START_SECONDS)
    first.wait_synced()
    view = first.provider()

    view.fault(
        Path="/mail/v4/messages/",
        Method="GET",
        Delay=SLOW_DOWNLOAD_SECONDS,
        Count=COUNTED_DOWNLOADS,
    )
    arrived = [
        view.deliver(
            DEMO_USER,
            new_message(f"arriving {n}", "New mail.", "x@y.test", first.username),
        )
        for n in range(ARRIVING_MESSAGES)
    ]
    wait_until(
        lambda: any(rule["Count"] < COUNTED_DOWNLOADS for rule in view.faults()),
        START_SECONDS,
        "an event poll to start downloading the new mail",
        detail=first.process.tail,
    )
    stop_and_check(first)

    indexed_before = indexed(first, arrived)
    assert uncached_messages(first) == 0, "messages indexed without their body"

    second = demo_run("demo-2", tmp_path, ports, SMALL_MAILBOX)
    processes.append(second.process)
    second.wait_ready(START_SECONDS)
    wait_until(
        lambda: indexed(second, arrived) == len(arrived),
        START_SECONDS,
        f"the new mail to be indexed ({indexed_before} were before the stop)",
        detail=second.process.tail,
    )
    mirrored = mbsync_mirror(
        tmp_path / "mbsync",
        port=ports["imap"],
        user=second.username,
        password=second.bridge_password,
        certificate=second.certificate,
    )
    expected = expected_mailboxes(
        second.provider(), DEMO_USER, second.provider_password
    )
    assert {name: box.copies for name, box in mirrored.items()} == expected
    stop_and_check(second)


def indexed(run: DemoRun, provider_ids: list[str]) -> int:
    marks = ",".join("?" * len(provider_ids))
    return run.query(
        f"SELECT COUNT(*) FROM mailsync_message WHERE provider_id IN ({marks})",  # noqa: S608
        *provider_ids,
    )[0][0]


def uncached_messages(run: DemoRun) -> int:
    return run.query(
        "SELECT COUNT(*) FROM mailsync_message m LEFT JOIN mailsync_cachedmessage c"
        " ON c.message_id = m.id WHERE c.message_id IS NULL"
    )[0][0]


class Submission(threading.Thread):
    """A mail program sending one message; the outcome lands in ``result``."""

    def __init__(self, run: DemoRun, recipient: str, subject: str) -> None:
        super().__init__(daemon=True)
        self.run_ = run
        self.recipient = recipient
        self.subject = subject
        self.result: object = None

    def run(self) -> None:
        context = ssl.create_default_context(cafile=str(self.run_.certificate))
        context.check_hostname = False
        literal = new_message(
            self.subject, "Sent at shutdown.", self.run_.username, self.recipient
        )
        try:
            with smtplib.SMTP(HOST, self.run_.ports["smtp"], timeout=120) as smtp:
                smtp.starttls(context=context)
                smtp.login(self.run_.username, self.run_.bridge_password)
                smtp.sendmail(self.run_.username, [self.recipient], literal)
            self.result = "accepted"
        except (smtplib.SMTPException, OSError) as error:
            self.result = error


def add_friend(run: DemoRun) -> tuple[str, str]:
    name, password = f"friend{secrets.token_hex(3)}", "friend-password"
    subprocess.run(
        [sys.executable, "-m", "refprovider", "adduser", "--data"]
        + [str(run.provider_dir), "--username", name, "--password", password],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return name, password


def send_during_shutdown(
    tmp_path: Path, processes: list[ChildProcess], send_delay: float
) -> tuple[Submission, DemoRun, tuple[str, str]]:
    """Start a send the provider holds back, SIGTERM the bridge meanwhile."""
    run = demo_run("demo", tmp_path, new_ports(), SMALL_MAILBOX)
    processes.append(run.process)
    run.wait_ready(START_SECONDS)
    run.wait_synced()
    view = run.provider()
    friend = add_friend(run)

    # POST /mail/v4/messages/{id} is the send; creating the draft goes first.
    view.fault(Path=r"^/mail/v4/messages/[^/]+$", Method="POST", Delay=send_delay)
    submission = Submission(
        run, f"{friend[0]}@proton.test", f"at shutdown {secrets.token_hex(6)}"
    )
    submission.start()
    wait_until(
        lambda: any(
            message.subject == submission.subject
            for message in view.messages(DEMO_USER, run.provider_password, ALL_DRAFTS)
        ),
        SMTP_SECONDS,
        "the bridge to make the draft it is sending",
        detail=run.process.tail,
    )

    stop_and_check(run)
    submission.join(SMTP_SECONDS)
    assert not submission.is_alive(), "the mail program never got an answer"
    return submission, run, friend


def test_sigterm_lets_a_message_being_sent_finish(
    tmp_path: Path, processes: list[ChildProcess]
) -> None:
    submission, run, (friend, friend_password) = send_during_shutdown(
        tmp_path, processes, SEND_WITHIN_WAIT_SECONDS
    )

    assert submission.result == "accepted"
    # Acknowledged means sent: check on the provider, started again.
    again = demo_run("demo-again", tmp_path, run.ports, SMALL_MAILBOX)
    processes.append(again.process)
    view = again.provider(START_SECONDS)
    received = [
        message.subject for message in view.messages(friend, friend_password, INBOX)
    ]
    assert received == [submission.subject]
    again.wait_ready(START_SECONDS)
    stop_and_check(again)


def test_sigterm_abandons_a_slow_send_without_acknowledging_it(
    tmp_path: Path, processes: list[ChildProcess]
) -> None:
    submission, run, _ = send_during_shutdown(
        tmp_path, processes, SEND_BEYOND_WAIT_SECONDS
    )

    assert submission.result != "accepted", "acknowledged a message not yet sent"
    again = demo_run("demo-again", tmp_path, run.ports, SMALL_MAILBOX)
    processes.append(again.process)
    view = again.provider(START_SECONDS)
    drafts = [
        message.subject
        for message in view.messages(DEMO_USER, run.provider_password, ALL_DRAFTS)
    ]
    assert submission.subject not in drafts, "the abandoned send left its draft"
    again.wait_ready(START_SECONDS)
    stop_and_check(again)
