"""``manage.py demo`` (what ``make run`` runs): the bridge with a demo account.

On first run it starts the reference provider with a generated demo mailbox,
creates a dashboard admin, links the demo account and runs the bridge on the
embedded default. Later runs reuse the data directory: the same admin, the
same linked account and index, the same bridge password. Ctrl-C or SIGTERM
stops the bridge and the provider.
"""

import ctypes
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts.models import LinkedAccount

logger = logging.getLogger(__name__)

DEMO_USERNAME = "demo"
DEMO_ADMIN = "admin"
DEMO_MESSAGES = 300
PR_SET_PDEATHSIG = 1
# The provider may still be answering requests the bridge gave up on at
# shutdown; it is a local test server, so it is not waited for long.
PROVIDER_STOP_SECONDS = 3


class Command(BaseCommand):
    help = "Run the bridge on the embedded default with a demo account."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=DEMO_MESSAGES)

    def handle(self, *args, **options):
        demo_dir = Path(settings.DATA_DIR) / "demo"
        demo_dir.mkdir(mode=0o700, exist_ok=True)
        state = DemoState(demo_dir / "demo.json")

        call_command("migrate", interactive=False, verbosity=0)
        provider = ReferenceProvider(demo_dir / "provider")
        provider.start()
        try:
            settings.BRIDGE_PROVIDER_URL = provider.base_url
            settings.BRIDGE_PROVIDER_MODULUS_KEY = str(provider.modulus_key_path)

            if not state.get("seeded"):
                self.stdout.write("making the demo mailbox (first run only)…")
                provider.add_demo_user(
                    state.secret("provider_password"), options["messages"]
                )
                state.set("seeded", True)

            admin = self._ensure_admin(state)
            account = self._ensure_linked(admin, state)
            self._print_settings(admin, state, account)
            call_command("runbridge")
        finally:
            provider.stop()

    def _ensure_admin(self, state: "DemoState"):
        user_model = get_user_model()
        admin = user_model.objects.filter(username=DEMO_ADMIN).first()
        if admin is None:
            admin = user_model.objects.create_superuser(
                DEMO_ADMIN, password=state.secret("admin_password")
            )
        return admin

    def _ensure_linked(self, admin, state: "DemoState") -> LinkedAccount:
        from accounts.linking import LinkError, start_link

        account = LinkedAccount.objects.filter(
            owner=admin, username=DEMO_USERNAME
        ).first()
        if account is not None and account.state != LinkedAccount.State.NEEDS_LOGIN:
            return account

        try:
            progress = start_link(
                admin, DEMO_USERNAME, state.secret("provider_password")
            )
        except LinkError as error:
            raise CommandError(f"could not link the demo account: {error}") from error
        if progress.step != "done" or progress.account is None:
            raise CommandError(
                f"the demo account unexpectedly asked for {progress.step}"
            )
        return progress.account

    def _print_settings(
        self, admin, state: "DemoState", account: LinkedAccount
    ) -> None:
        host = settings.BRIDGE_DASHBOARD_HOST
        lines = [
            "",
            f"Dashboard:  http://{host}:{settings.BRIDGE_DASHBOARD_PORT}/",
            f"  login {admin.username} / {state.secret('admin_password')}",
            "Mail program settings (demo account):",
            f"  username  {account.primary_email}",
            f"  password  {account.bridge_password}",
            f"  IMAP      {settings.BRIDGE_IMAP_HOST}:{settings.BRIDGE_IMAP_PORT}"
            " (STARTTLS offered)",
            f"  SMTP      {settings.BRIDGE_SMTP_HOST}:{settings.BRIDGE_SMTP_PORT}"
            " (STARTTLS offered)",
            "Press Ctrl-C to stop.",
            "",
        ]
        self.stdout.write("\n".join(lines))


class DemoState:
    """Generated demo passwords and progress, kept in DATA/demo/demo.json (0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values = json.loads(path.read_text()) if path.exists() else {}

    def get(self, key: str):
        return self.values.get(key)

    def set(self, key: str, value) -> None:
        self.values[key] = value
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.values, handle, indent=1)

    def secret(self, key: str) -> str:
        if not self.values.get(key):
            self.set(key, secrets.token_urlsafe(12))
        return self.values[key]


class ReferenceProvider:
    """The reference provider as a child process that dies with this one."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.process: subprocess.Popen | None = None
        self.base_url = ""

    @property
    def modulus_key_path(self) -> Path:
        return self.data_dir / "modulus-pubkey.asc"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "refprovider", "serve", "--port", "0"]
            + ["--data", str(self.data_dir)],
            stdout=subprocess.PIPE,
            text=True,
            # Its own process group: Ctrl-C in the terminal reaches the bridge,
            # which finishes its shutdown against a provider still running and
            # only then stops it.
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only sets a signal
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if "listening on" in line:
                self.base_url = line.rsplit(" ", 1)[-1].strip()
                break
        if not self.base_url:
            raise CommandError("the reference provider did not start")
        logger.info("reference provider at %s", self.base_url)

    def add_demo_user(self, password: str, count: int) -> None:
        run = [sys.executable, "-m"]
        data = ["--data", str(self.data_dir), "--username", DEMO_USERNAME]
        subprocess.run(  # noqa: S603
            run + ["refprovider", "adduser", *data, "--password", password],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(  # noqa: S603
            run + ["refprovider.demo", *data, "--count", str(count)],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=PROVIDER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _die_with_parent() -> None:
    # Linux: if the bridge is killed outright, take the provider with it.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
