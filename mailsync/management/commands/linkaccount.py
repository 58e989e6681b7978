"""Link a provider account from the command line (the dashboard's wizard)."""

import getpass
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts import linking
from mailsync import dispatch


class Command(BaseCommand):
    help = (
        "Log in to the provider as USERNAME and link the account to the bridge "
        "user OWNER, then run the first sync. Passwords and codes are asked "
        "for, or read one per line from standard input with --stdin."
    )

    def add_arguments(self, parser):
        parser.add_argument("owner", help="the bridge user who will own the account")
        parser.add_argument("username", help="the provider username or address")
        parser.add_argument(
            "--stdin",
            action="store_true",
            help="read the password, then the 2FA code or mailbox password if "
            "asked, one per line from standard input",
        )
        parser.add_argument(
            "--hv-token", default=None, help="a solved human-verification token"
        )
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help="do not wait for the first sync to finish (embedded mode)",
        )

    def handle(self, *args, **options):
        owner = get_user_model().objects.filter(username=options["owner"]).first()
        if owner is None:
            raise CommandError(f"no bridge user named {options['owner']!r}")

        ask = _line_reader() if options["stdin"] else getpass.getpass
        try:
            progress = linking.start_link(
                owner,
                options["username"],
                ask("Provider password: "),
                hv_token=options["hv_token"],
            )
            if progress.step == "two_factor":
                code = ask("Two-factor code: ")
                progress = linking.submit_two_factor(owner, progress.pending_id, code)
            if progress.step == "mailbox_password":
                secret = ask("Mailbox password: ")
                progress = linking.submit_mailbox_password(
                    owner, progress.pending_id, secret
                )
        except linking.HumanVerificationNeeded as exc:
            raise CommandError(
                f"{exc}\nVerification page: {exc.url}\n"
                f"Then run again with --hv-token {exc.token}"
            ) from exc
        except linking.LinkError as exc:
            raise CommandError(str(exc)) from exc

        account = progress.account
        if account is None:
            raise CommandError("the login did not finish; start again")
        self.stdout.write(f"Linked {account.primary_email} (account {account.id}).")
        self.stdout.write(
            f"Bridge password for mail programs: {account.bridge_password}"
        )

        sync = dispatch.running_future("first_sync", account.id)
        if sync is not None and not options["no_wait"]:
            self.stdout.write("Running the first sync...")
            self.stdout.write(sync.result())


def _line_reader():
    def read(prompt: str) -> str:
        line = sys.stdin.readline()
        if not line:
            raise CommandError(f"standard input ended before: {prompt.strip()}")
        return line.rstrip("\r\n")

    return read
