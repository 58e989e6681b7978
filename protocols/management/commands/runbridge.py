"""``manage.py runbridge``: run the bridge until SIGTERM or Ctrl-C."""

import asyncio
import errno
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from protocols.runner import BridgeRunner, ListenerPlan

logger = logging.getLogger(__name__)

PORT_IN_USE_HINT = (
    " (another program, perhaps another bridge, uses that port; choose another"
    " one with the --*-port options or the BRIDGE_*_PORT settings)"
)


class Command(BaseCommand):
    help = (
        "Run the IMAP and SMTP listeners. On the embedded default (no REDIS_URL) "
        "this one process also serves the dashboard, runs the sync and event "
        "tasks and keeps the event schedule."
    )

    def add_arguments(self, parser):
        parser.add_argument("--imap-port", type=int, help="IMAP port (0: off)")
        parser.add_argument("--smtp-port", type=int, help="SMTP port (0: off)")
        parser.add_argument("--imap-host", help="IMAP listen address")
        parser.add_argument("--smtp-host", help="SMTP listen address")
        parser.add_argument(
            "--dashboard-port",
            type=int,
            default=settings.BRIDGE_DASHBOARD_PORT,
            help="dashboard port on the embedded default (0: no dashboard)",
        )
        parser.add_argument("--dashboard-host", default=settings.BRIDGE_DASHBOARD_HOST)
        parser.add_argument(
            "--no-tasks",
            action="store_true",
            help="do not run tasks and the event schedule in this process",
        )

    def handle(self, *args, **options):
        # Several runbridges may share one database; migrating is left to the
        # person (or the demo), but a missing table must not end in a traceback.
        pending = unapplied_migrations()
        if pending:
            raise CommandError(
                f"the database is not up to date ({pending} migrations to apply); "
                "run `python manage.py migrate` first"
            )

        plan = ListenerPlan.from_settings(
            imap_port=options["imap_port"],
            smtp_port=options["smtp_port"],
            imap_host=options["imap_host"],
            smtp_host=options["smtp_host"],
        )
        plan.run_imap = plan.imap_port != 0
        plan.run_smtp = plan.smtp_port != 0
        if options["no_tasks"]:
            plan.run_tasks = False

        runner = BridgeRunner(plan)
        dashboard_port = options["dashboard_port"] if settings.EMBEDDED else 0
        if dashboard_port:
            self._run_with_dashboard(runner, options["dashboard_host"], dashboard_port)
        else:
            asyncio.run(self._run_plain(runner))
        self.stdout.write("bridge stopped")

    async def _run_plain(self, runner: BridgeRunner) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)

        try:
            await runner.start()
        except OSError as error:
            raise CommandError(start_failure(error)) from error
        self._announce(runner)
        await stop.wait()
        logger.info("stopping")
        await runner.stop()

    def _run_with_dashboard(self, runner: BridgeRunner, host: str, port: int) -> None:
        # daphne runs Twisted on top of an asyncio loop; the listeners and
        # tasks share that loop, so the in-memory channel layer connects the
        # dashboard, the IMAP sessions and the sync in one process.
        from channels.routing import get_default_application
        from daphne.server import Server
        from twisted.internet import defer, reactor

        failures: list[str] = []
        starting: list[asyncio.Future] = []

        class DashboardServer(Server):
            def listen_error(self, failure) -> None:
                # daphne only logs this and returns as if all went well.
                text = f"could not start the dashboard: {failure.getErrorMessage()}"
                if "in use" in text:
                    text += PORT_IN_USE_HINT
                failures.append(text)
                super().listen_error(failure)

        def start() -> None:
            task = asyncio.ensure_future(runner.start())
            starting.append(task)

            def started(done: asyncio.Future) -> None:
                if done.cancelled():
                    return
                error = done.exception()
                if error is not None:
                    failures.append(start_failure(error))
                    reactor.stop()
                    return
                runner.ready_lines.append(f"dashboard: http://{host}:{port}/")
                self._announce(runner)

            task.add_done_callback(started)

        async def stop_runner() -> None:
            # A signal during the start: start() stops what it had started.
            unfinished = [task for task in starting if not task.done()]
            for task in unfinished:
                task.cancel()
            if unfinished:
                await asyncio.wait(unfinished)
            await runner.stop()

        def stop() -> defer.Deferred:
            logger.info("stopping")
            return defer.Deferred.fromFuture(asyncio.ensure_future(stop_runner()))

        reactor.callWhenRunning(start)
        reactor.addSystemEventTrigger("before", "shutdown", stop)
        server = DashboardServer(
            application=get_default_application(),
            endpoints=[f"tcp:port={port}:interface={host}"],
            signal_handlers=True,
            verbosity=0,
        )
        server.run()
        if failures:
            raise CommandError("; ".join(failures))

    def _announce(self, runner: BridgeRunner) -> None:
        lines = ["bridge ready"] + [f"  {line}" for line in runner.ready_lines]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()


def unapplied_migrations() -> int:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def start_failure(error: BaseException) -> str:
    """What to tell the person when a listener cannot start."""
    text = f"could not start: {error}"
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        text += PORT_IN_USE_HINT
    return text
