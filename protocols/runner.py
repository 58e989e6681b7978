"""The bridge's main job: listeners, and on the embedded default everything else.

``manage.py runbridge`` builds a :class:`BridgeRunner` and runs it until
SIGTERM or Ctrl-C. What it runs depends on the mode:

* embedded default (no REDIS_URL): the IMAP and SMTP listeners, the dashboard
  (daphne, in this same process so the in-memory channel layer reaches every
  part), the task runner that executes the Celery task functions in worker
  threads, and the periodic event schedule;
* growth (REDIS_URL set): the IMAP and SMTP listeners only; Celery workers,
  Celery beat and daphne run as their own processes.

Shutdown order matters for "no half-applied event, no acknowledged-but-unsent
mail": listeners stop accepting first, open sessions finish their current
command, then the scheduler stops handing out work and the task runner lets
running tasks reach a transaction boundary.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings

from mailsync import notify

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 7.0


class Service(Protocol):
    """Anything the runner starts: a listener, the scheduler, the task runner."""

    name: str

    async def stop(self) -> None: ...


@dataclass
class ListenerPlan:
    """Where each listener binds; zero means off."""

    imap_host: str = "127.0.0.1"
    imap_port: int = 1143
    imaps_port: int = 0
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtps_port: int = 0
    run_imap: bool = True
    run_smtp: bool = True
    run_tasks: bool = True

    @classmethod
    def from_settings(cls, **overrides: Any) -> "ListenerPlan":
        """The environment's values, under those saved on the dashboard, under
        the command line's ``overrides``."""
        from accounts.settings_store import effective

        configured = effective()
        plan = cls(
            imap_host=configured.imap_host,
            imap_port=configured.imap_port,
            imaps_port=configured.imaps_port,
            smtp_host=configured.smtp_host,
            smtp_port=configured.smtp_port,
            smtps_port=configured.smtps_port,
            run_tasks=settings.EMBEDDED,
        )
        # The embedded scheduler reads the interval when it starts.
        settings.BRIDGE_EVENT_INTERVAL = configured.event_interval
        for key, value in overrides.items():
            if value is not None:
                setattr(plan, key, value)
        return plan


@dataclass
class BridgeRunner:
    plan: ListenerPlan
    services: list[Service] = field(default_factory=list)
    ready_lines: list[str] = field(default_factory=list)

    async def start(self) -> None:
        """Start every service of the plan; on failure stop what did start."""
        notify.set_home_loop(asyncio.get_running_loop())
        try:
            for starter in self._starters():
                service = await starter()
                if service is not None:
                    self.services.append(service)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop services in reverse start order, each within the grace time."""
        while self.services:
            service = self.services.pop()
            try:
                await asyncio.wait_for(service.stop(), SHUTDOWN_GRACE_SECONDS)
            except TimeoutError:
                logger.warning("%s did not stop in time; abandoning it", service.name)
            except Exception:
                logger.exception("%s failed while stopping", service.name)
        notify.set_home_loop(None)

    def _starters(self) -> list[Callable[[], Awaitable[Service | None]]]:
        starters: list[Callable[[], Awaitable[Service | None]]] = []
        if self.plan.run_tasks:
            starters.append(self._start_tasks)
        if self.plan.run_imap:
            starters.append(self._start_imap)
        if self.plan.run_smtp:
            starters.append(self._start_smtp)
        return starters

    async def _start_tasks(self) -> Service | None:
        from mailsync.dispatch import start_embedded_runtime

        service = await start_embedded_runtime()
        self.ready_lines.append("tasks and event schedule: in this process")
        return service

    async def _start_imap(self) -> Service | None:
        from protocols.imap.server import start_imap

        service = await start_imap(
            self.plan.imap_host, self.plan.imap_port, self.plan.imaps_port
        )
        self.ready_lines.append(f"IMAP: {service.describe()}")
        return service

    async def _start_smtp(self) -> Service | None:
        from protocols.smtp.server import start_smtp

        service = await start_smtp(
            self.plan.smtp_host, self.plan.smtp_port, self.plan.smtps_port
        )
        self.ready_lines.append(f"SMTP: {service.describe()}")
        return service
