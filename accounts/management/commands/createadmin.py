"""Create the first administrator of the dashboard.

    manage.py createadmin alice            # asks for the password twice
    manage.py createadmin alice --password-stdin < password.txt

The password is read from the terminal or standard input, never from the
command line, where other users of the machine could read it in ``ps``.
"""

import getpass
import logging
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Create a dashboard administrator (staff and superuser)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from the first line of standard input.",
        )

    def handle(self, *args, username: str, password_stdin: bool, **options) -> None:
        people = get_user_model()
        if people.objects.filter(username=username).exists():
            raise CommandError(f"A person named {username!r} already exists.")

        password = self.read_password(password_stdin)
        candidate = people(username=username)
        try:
            validate_password(password, user=candidate)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc

        people.objects.create_superuser(username=username, password=password)
        logger.info("administrator %s created", username)
        self.stdout.write(
            self.style.SUCCESS(f"{username} can now sign in to the dashboard.")
        )

    def read_password(self, from_stdin: bool) -> str:
        if from_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Password (again): ") != password:
                raise CommandError("The two passwords differ.")

        if not password:
            raise CommandError("The password is empty.")
        return password
