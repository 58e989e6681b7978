"""Run an account's first sync (or one event poll) in the foreground."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from accounts.models import LinkedAccount
from mailsync.events import poll_events
from mailsync.sync import first_sync


class Command(BaseCommand):
    help = (
        "Run or resume the first sync of a linked account in this process, "
        "or with --events apply its pending provider events once."
    )

    def add_arguments(self, parser):
        parser.add_argument("account", help="account id or primary address")
        parser.add_argument(
            "--events", action="store_true", help="poll the event feed instead"
        )

    def handle(self, *args, **options):
        wanted = options["account"]
        match = Q(primary_email__iexact=wanted)
        if wanted.isdigit():
            match |= Q(id=int(wanted))
        account = LinkedAccount.objects.filter(match).first()
        if account is None:
            raise CommandError(f"no linked account {wanted!r}")

        task = poll_events if options["events"] else first_sync
        self.stdout.write(task(account.id))
