"""Lint and types are part of the test suite, so CI runs them too."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True,
                          text=True)


def test_ruff():
    done = run("ruff", "check", "clinsite", "tests")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict():
    done = run("mypy", "clinsite")
    assert done.returncode == 0, done.stdout + done.stderr
