"""The house style is part of the suite: ruff's checks and its formatting."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO_ROOT


def tracked_python_files() -> list[str]:
    # Only what is committed counts: a scratch file in a working tree is
    # nobody's concern but its author's.
    if not (REPO_ROOT / ".git").exists() or shutil.which("git") is None:
        return ["."]
    listed = subprocess.run(
        ["git", "ls-files", "*.py"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


def ruff(*arguments: str) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).with_name("ruff")
    if not executable.exists():
        pytest.fail(
            "ruff is not installed in the virtual environment (requirements.txt)"
        )
    return subprocess.run(
        [str(executable), *arguments, *tracked_python_files()],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )


def test_ruff_finds_nothing():
    result = ruff("check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_formatted():
    result = ruff("format", "--check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
