"""End to end in a real browser: the dashboard served by ``runbridge``.

A person signs in, links an account of the reference provider through the
two-factor step, watches the first sync's progress bar reach 100% over the
websocket without reloading, reveals the bridge password and logs in over
IMAP with it. Screenshots of every page go to ``test-artifacts/dashboard/``.

The bridge runs as its own process on a data directory of its own (SQLite,
in-memory channel layer), exactly as ``manage.py runbridge`` runs for people.
"""

import imaplib
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.refprovider import totp_now
from tests.support import REPO_ROOT, free_port, require_program

pytestmark = pytest.mark.slow

ARTIFACTS = REPO_ROOT / "test-artifacts" / "dashboard"
ADMIN_PASSWORD = "a long admin passphrase"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
MESSAGE_COUNT = 12
# Each message download waits this long at the provider, so the sync lasts
# several seconds and its progress is seen arriving on the open page.
DOWNLOAD_DELAY_SECONDS = 0.75
STARTUP_DEADLINE_SECONDS = 60
# Generous bounds for a loaded machine; they limit waits, they time nothing.
SYNC_DEADLINE_MS = 180_000
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def sample_message(number: int) -> bytes:
    return (
        "From: Sender <sender@example.test>\r\n"
        "To: someone@proton.test\r\n"
        f"Subject: Sample message {number}\r\n"
        f"Message-ID: <sample-{number}@example.test>\r\n"
        "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"Body of sample message {number}.\r\n"
    ).encode()


class RunningBridge:
    def __init__(self, data_dir: Path, provider) -> None:
        self.data_dir = data_dir
        self.imap_port = free_port()
        self.smtp_port = free_port()
        self.dashboard_port = free_port()
        self.url = f"http://127.0.0.1:{self.dashboard_port}"

        # Its own SQLite and in-memory layer, whatever this test run uses.
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "REDIS_URL")
        }
        environment.update(
            BRIDGE_DATA_DIR=str(data_dir),
            BRIDGE_PROVIDER_URL=provider.base_url,
            BRIDGE_PROVIDER_MODULUS_KEY=provider.modulus_pubkey,
            BRIDGE_APP_VERSION=provider.app_version,
            BRIDGE_SYNC_CONCURRENCY="1",
            # Ports through the environment, so the account page shows them.
            BRIDGE_IMAP_PORT=str(self.imap_port),
            BRIDGE_SMTP_PORT=str(self.smtp_port),
            BRIDGE_DASHBOARD_PORT=str(self.dashboard_port),
            PYTHONUNBUFFERED="1",
        )
        self.environment = environment
        self.process: subprocess.Popen | None = None

    def manage(self, *arguments: str, stdin: str | None = None) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=REPO_ROOT,
            env=self.environment,
            input=stdin,
            text=True,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self.manage("migrate", "--no-input")
        self.manage("createadmin", "admin", "--password-stdin", stdin=ADMIN_PASSWORD)

        log = (self.data_dir / "runbridge.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runbridge"],
            cwd=REPO_ROOT,
            env=self.environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.wait_until_serving()

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                httpx.get(f"{self.url}/login/", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"runbridge did not start:\n{self.log_tail()}")

    def log_tail(self) -> str:
        path = self.data_dir / "runbridge.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def chromium_path() -> str:
    return require_program("chromium")


@pytest.fixture
def bridge(refprovider, tmp_path):
    running = RunningBridge(tmp_path / "bridge", refprovider)
    running.data_dir.mkdir()
    running.start()
    yield running
    running.stop()


@pytest.fixture
def browser_page(chromium_path):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        yield page
        browser.close()


def shoot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_link_watch_the_sync_and_use_the_bridge_password(
    refprovider, bridge, browser_page
):
    page = browser_page
    user = refprovider.adduser(password="provider password 1", totp_secret=TOTP_SECRET)
    refprovider.seed(
        user.name, [sample_message(number) for number in range(MESSAGE_COUNT)]
    )
    refprovider.fault(
        r"^/mail/v4/messages/[A-Za-z0-9_=-]{16,}$",
        method="GET",
        delay=DOWNLOAD_DELAY_SECONDS,
    )
    frames: list[str] = []

    def keep_frame(payload: str | bytes) -> None:
        frames.append(payload if isinstance(payload, str) else payload.decode())

    page.on("websocket", lambda socket: socket.on("framereceived", keep_frame))

    # Sign in to the dashboard.
    page.goto(f"{bridge.url}/")
    shoot(page, "01-sign-in")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_selector("text=No linked account yet")
    shoot(page, "02-no-accounts")

    # The wizard: username and password, then the two-factor code.
    page.click("text=Add an account")
    page.fill("input[name=username]", user.name)
    page.fill("input[name=password]", user.password)
    shoot(page, "03-add-account")
    page.click("main button[type=submit]")
    page.wait_for_selector("input[name=code]")
    assert page.input_value("input[name=code]") == ""
    shoot(page, "04-two-factor")
    page.fill("input[name=code]", totp_now(TOTP_SECRET))
    page.click("main button[type=submit]")

    # The account page follows the sync live; a reload would drop the mark.
    page.wait_for_selector("text=is linked")
    page.evaluate("window.stillTheSamePage = true")
    page.wait_for_selector("#live-indicator.on")
    shoot(page, "05-syncing")
    page.wait_for_function(
        "document.querySelector('progress').value > 0", timeout=SYNC_DEADLINE_MS
    )
    shoot(page, "06-progress")
    page.wait_for_function(
        "document.querySelector('[data-account]').dataset.state === 'ready'"
        " && document.querySelector('progress').value === 100",
        timeout=SYNC_DEADLINE_MS,
    )
    assert page.evaluate("window.stillTheSamePage") is True
    assert any('"state": "syncing"' in frame for frame in frames)
    assert page.text_content("[data-account] [data-field=messages]") == str(
        MESSAGE_COUNT
    )
    shoot(page, "07-synced")

    # Reveal the bridge password with the dashboard password.
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("text=Show the bridge password")
    bridge_password = page.text_content("#bridge-password").strip()
    shoot(page, "08-bridge-password")
    assert len(bridge_password) == 22

    # A mail program logs in with it over IMAP, with what the page shows.
    shown = page.locator("code").all_text_contents()
    assert str(bridge.imap_port) in shown
    assert user.addresses[0] in shown
    context = ssl.create_default_context(
        cafile=str(bridge.data_dir / "tls" / "cert.pem")
    )
    with imaplib.IMAP4("127.0.0.1", bridge.imap_port) as imap:
        imap.starttls(ssl_context=context)
        imap.login(user.addresses[0], bridge_password)
        status, data = imap.select("INBOX", readonly=True)
        assert status == "OK"
        assert int(data[0]) == MESSAGE_COUNT

    # The other pages, for the record.
    for path, name in [
        ("/", "09-accounts"),
        ("/people/", "10-people"),
        ("/settings/", "11-settings"),
        ("/password/", "12-password"),
    ]:
        page.goto(f"{bridge.url}{path}")
        shoot(page, name)
