"""``manage.py runbridge`` refuses to run half: a taken port is an error.

A port already in use must end the command with a non-zero status and a
message that names the problem, whichever listener hit it, and "bridge
ready" must never be printed. A database that was never migrated gets the
same treatment.
"""

import os
import socket
import sys
from collections.abc import Iterator

import pytest

from tests.fixtures.e2e import HOST, ChildProcess
from tests.support import bridge_process_env, free_port

pytestmark = pytest.mark.django_db(transaction=True)

EXIT_SECONDS = 60


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()
        yield squatter.getsockname()[1]


def run_until_exit(processes, tmp_path, env: dict, *args: str) -> ChildProcess:
    bridge = ChildProcess(
        "runbridge",
        [sys.executable, "manage.py", "runbridge", *args],
        tmp_path,
        env=env,
    )
    processes.append(bridge)
    bridge.wait(EXIT_SECONDS)
    return bridge


def assert_refused(bridge: ChildProcess, what: str) -> None:
    assert bridge.process.returncode != 0, bridge.tail()
    assert what in bridge.errors(), bridge.tail()
    assert "in use" in bridge.errors(), bridge.tail()
    assert "bridge ready" not in bridge.output()
    assert "Traceback" not in bridge.errors(), bridge.tail()


def test_a_taken_dashboard_port_is_an_error(processes, tmp_path, taken_port):
    env = bridge_process_env(BRIDGE_DASHBOARD_PORT=str(taken_port))
    env.pop("REDIS_URL", None)

    bridge = run_until_exit(
        processes,
        tmp_path,
        env,
        "--imap-port",
        str(free_port()),
        "--smtp-port",
        str(free_port()),
    )

    assert_refused(bridge, "could not start the dashboard")


def test_a_taken_imap_port_is_an_error(processes, tmp_path, taken_port):
    env = bridge_process_env(BRIDGE_DASHBOARD_PORT=str(free_port()))
    env.pop("REDIS_URL", None)

    bridge = run_until_exit(
        processes,
        tmp_path,
        env,
        "--imap-port",
        str(taken_port),
        "--smtp-port",
        str(free_port()),
    )

    assert_refused(bridge, "could not start")


def test_a_taken_smtp_port_is_an_error_in_growth_mode(processes, tmp_path, taken_port):
    redis_url = os.environ.get("BRIDGE_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("growth mode needs BRIDGE_TEST_REDIS_URL (`make test-postgres`)")
    env = bridge_process_env(REDIS_URL=redis_url)

    bridge = run_until_exit(
        processes,
        tmp_path,
        env,
        "--imap-port",
        str(free_port()),
        "--smtp-port",
        str(taken_port),
    )

    assert_refused(bridge, "could not start")


def test_an_unmigrated_database_is_an_error(processes, tmp_path):
    env = bridge_process_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        BRIDGE_DASHBOARD_PORT=str(free_port()),
    )
    env.pop("REDIS_URL", None)

    bridge = run_until_exit(
        processes,
        tmp_path,
        env,
        "--imap-port",
        str(free_port()),
        "--smtp-port",
        str(free_port()),
    )

    assert bridge.process.returncode != 0, bridge.tail()
    assert "manage.py migrate" in bridge.errors(), bridge.tail()
    assert "Traceback" not in bridge.errors(), bridge.tail()
    assert "bridge ready" not in bridge.output()
