"""The one git helper: last-commit dates of content files.

Used when a file has no `updated` field (SPEC §2). One `git log` call covers
the whole repository, run only if some file needs it.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path


class LastCommitDates:
    """Maps root-relative paths to the date of the last commit touching them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dates: dict[str, dt.date] | None = None

    def get(self, rel: str) -> dt.date | None:
        if self._dates is None:
            self._dates = _load(self.root)
        return self._dates.get(rel)


def _load(root: Path) -> dict[str, dt.date]:
    try:
        top = subprocess.run(["git", "rev-parse", "--show-prefix"], cwd=root,
                             capture_output=True, text=True, check=True).stdout.strip()
        log = subprocess.run(
            ["git", "log", "--format=%x00%cs", "--name-only", "--no-renames", "--", "."],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    dates: dict[str, dt.date] = {}
    current: dt.date | None = None
    for line in log.splitlines():
        if line.startswith("\x00"):
            current = dt.date.fromisoformat(line[1:])
        elif line and current is not None:
            rel = line[len(top):] if top and line.startswith(top) else line
            dates.setdefault(rel, current)  # newest first: keep the first seen
    return dates
