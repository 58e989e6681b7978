"""Running the background tasks: first syncs and event polls.

In growth mode (``settings.EMBEDDED`` false) :func:`run_task` hands the task
to Celery with ``.delay()``; separate worker and beat processes run it. On
the embedded default ``runbridge`` starts an in-process thread pool
(:func:`start_embedded_pool`) and an :class:`EmbeddedScheduler`, and the very
same task functions run there.

Task names: ``first_sync`` and ``poll_events``, each taking an account id.
"""

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection

from mailsync.provider.errors import ProviderError

# A task's summary when it found nothing to do: logged at DEBUG, since event
# polls say it every interval for every account.
NOTHING_NEW = "nothing new"

logger = logging.getLogger(__name__)

TASK_NAMES = ("first_sync", "poll_events")
DEFAULT_WORKERS = 4
# The longest an account waits after repeated failures of its task.
MAX_BACKOFF_SECONDS = 15 * 60

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_in_flight: dict[tuple[str, tuple], Future] = {}
# Set while the embedded runtime shuts down: running tasks stop at their
# next transaction boundary and resume at the next start.
_stopping = threading.Event()


class TaskStopped(Exception):
    """The process is shutting down; the task stopped between two writes."""


def stop_requested() -> bool:
    return _stopping.is_set()


def check_stop() -> None:
    """Raise :class:`TaskStopped` when the process is shutting down."""
    if _stopping.is_set():
        raise TaskStopped("the bridge is shutting down")


def _task_body(name: str) -> Callable[..., str]:
    # Imported late: the task modules use the ORM, dispatch is imported early.
    if name == "first_sync":
        from mailsync.sync import first_sync

        return first_sync
    if name == "poll_events":
        from mailsync.events import poll_events

        return poll_events
    raise ValueError(f"unknown task {name!r}")


def start_embedded_pool(workers: int | None = None) -> ThreadPoolExecutor:
    """Start (once) the worker threads of the embedded mode."""
    global _pool
    with _pool_lock:
        if _pool is None:
            count = workers or getattr(settings, "BRIDGE_WORKERS", DEFAULT_WORKERS)
            _pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="task")
            logger.info("embedded task pool started with %d threads", count)
        return _pool


def shutdown_embedded_pool(wait: bool = True) -> None:
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=wait, cancel_futures=not wait)


def run_task(name: str, *args) -> Future | object:
    """Queue a task; a Future in embedded mode, Celery's result otherwise.

    In embedded mode a task already queued or running with the same
    arguments is not queued twice; its Future is returned instead.
    """
    if name not in TASK_NAMES:
        raise ValueError(f"unknown task {name!r}")

    if not settings.EMBEDDED:
        from mailsync import tasks

        return getattr(tasks, name).delay(*args)

    return _submit_embedded(name, args)


def _submit_embedded(name: str, args: tuple) -> Future:
    key = (name, args)
    with _pool_lock:
        running = _in_flight.get(key)
        if running is not None and not running.done():
            return running

    future = start_embedded_pool().submit(_run_embedded, name, args)
    with _pool_lock:
        _in_flight[key] = future
    future.add_done_callback(lambda done: _forget(key, done))
    return future


def _forget(key: tuple, future: Future) -> None:
    with _pool_lock:
        if _in_flight.get(key) is future:
            del _in_flight[key]


def _run_embedded(name: str, args: tuple) -> str:
    close_old_connections()
    try:
        summary = _task_body(name)(*args)
        level = logging.DEBUG if summary == NOTHING_NEW else logging.INFO
        logger.log(level, "%s%r: %s", name, args, summary)
        return summary
    except TaskStopped:
        logger.info("%s%r stopped for the shutdown", name, args)
        return "stopped for the shutdown; resumes at the next start"
    except ProviderError as exc:
        if not exc.transient:
            logger.exception("%s%r failed", name, args)
        else:
            logger.warning("%s%r failed for now: %r", name, args, exc)
        raise
    except Exception:
        logger.exception("%s%r failed", name, args)
        raise
    finally:
        # Worker threads live long; a connection left open would go stale.
        connection.close()


def in_flight() -> list[tuple[str, tuple]]:
    with _pool_lock:
        return [key for key, future in _in_flight.items() if not future.done()]


def running_future(name: str, *args) -> Future | None:
    """The Future of a queued or running embedded task, if there is one."""
    with _pool_lock:
        future = _in_flight.get((name, args))
    return future if future is not None and not future.done() else None


def purge_expired_links() -> None:
    """Drop logins left half-way longer than their ten minutes."""
    from django.utils import timezone

    from mailsync.models import PendingLink

    PendingLink.objects.filter(expires_at__lte=timezone.now()).delete()


class EmbeddedScheduler:
    """The embedded mode's beat: polls events and resumes syncs.

    Every ``interval`` seconds plus up to ``jitter`` it queues an event poll
    for each ready account and a first sync for each account still syncing
    (a sync another process holds is skipped by its lease). An account whose
    task failed waits longer each time, up to a quarter of an hour.
    """

    def __init__(self, interval: float | None = None, jitter: float | None = None):
        self.interval = (
            interval if interval is not None else settings.BRIDGE_EVENT_INTERVAL
        )
        self.jitter = jitter if jitter is not None else settings.BRIDGE_EVENT_JITTER
        self._failures: dict[tuple[str, int], int] = {}
        self._not_before: dict[tuple[str, int], float] = {}
        self._running: dict[tuple[str, int], Future] = {}
        self._task: asyncio.Task | None = None

    def start(self) -> asyncio.Task:
        """Run in the current event loop until :meth:`stop`."""
        self._task = asyncio.get_running_loop().create_task(self.run())
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def run(self) -> None:
        while True:
            await sync_to_async(self.tick, thread_sensitive=False)()
            await asyncio.sleep(self.interval + random.uniform(0, self.jitter))

    def tick(self) -> list[Future]:
        """Queue what is due now; return the futures queued (for tests)."""
        from accounts.models import LinkedAccount

        self._collect()
        close_old_connections()
        try:
            purge_expired_links()
            due = list(
                LinkedAccount.objects.filter(
                    state__in=[LinkedAccount.State.READY, LinkedAccount.State.SYNCING]
                ).values_list("id", "state")
            )
        finally:
            connection.close()

        queued = []
        for account_id, state in due:
            name = "poll_events" if state == LinkedAccount.State.READY else "first_sync"
            key = (name, account_id)
            if key in self._running:
                continue
            if time.monotonic() < self._not_before.get(key, 0):
                continue
            self._running[key] = _submit_embedded(name, (account_id,))
            queued.append(self._running[key])
        return queued

    def _collect(self) -> None:
        """Note how the tasks queued before ended, to space out failures."""
        for key, future in list(self._running.items()):
            if not future.done():
                continue
            del self._running[key]

            if future.cancelled() or future.exception() is None:
                self._failures.pop(key, None)
                self._not_before.pop(key, None)
                continue

            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            wait = min(MAX_BACKOFF_SECONDS, self.interval * 2**failures)
            self._not_before[key] = time.monotonic() + wait
            logger.warning(
                "%s for account %s failed (%s); next try in %.0f s",
                key[0],
                key[1],
                type(future.exception()).__name__,
                wait,
            )


class EmbeddedRuntime:
    """The task threads and the scheduler of ``runbridge`` (embedded mode)."""

    name = "tasks"

    def __init__(self, scheduler: EmbeddedScheduler) -> None:
        self.scheduler = scheduler

    async def stop(self) -> None:
        await self.scheduler.stop()
        _stopping.set()
        try:
            # Running tasks stop at their next write; wait for them off-loop.
            await asyncio.to_thread(shutdown_embedded_pool, True)
        finally:
            _stopping.clear()


async def start_embedded_runtime() -> EmbeddedRuntime:
    """Start the worker threads and the schedule (the first tick resumes
    unfinished syncs and polls every ready account)."""
    _stopping.clear()
    start_embedded_pool()
    scheduler = EmbeddedScheduler()
    scheduler.start()
    return EmbeddedRuntime(scheduler)
