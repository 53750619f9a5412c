"""The one git helper: last-commit dates and revision history of content files.

One `git log` over content/ gives every file's commits (and the blob of each
revision); one `git cat-file --batch` reads those blobs to find the review
status at each revision whose front matter changed. Nothing runs unless a
page needs it, and outside git there is simply no history.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass
from pathlib import Path

from clinsite.frontmatter import SourceText, Split, parse_yaml, split_front_matter

_NULL_SHA = "0" * 40


@dataclass(frozen=True, slots=True)
class Revision:
    date: dt.date
    commit: str  # abbreviated hash
    subject: str
    status: str | None = None  # review status, where this revision changed the front matter


@dataclass(frozen=True, slots=True)
class _Touch:
    date: dt.date
    commit: str
    subject: str
    blob: str


class LastCommitDates:
    """Maps root-relative paths to their commits, newest first (lazily, once)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._log: dict[str, list[_Touch]] | None = None

    def _touches(self) -> dict[str, list[_Touch]]:
        if self._log is None:
            self._log = _read_log(self.root)
        return self._log

    def get(self, rel: str) -> dt.date | None:
        """Date of the last commit that touched `rel`."""
        touches = self._touches().get(rel)
        return touches[0].date if touches else None

    def history(self, paths: list[str]) -> dict[str, tuple[Revision, ...]]:
        """Revisions of each path, newest first, with the review status where the
        front matter changed."""
        log = self._touches()
        blobs = sorted({t.blob for p in paths for t in log.get(p, ()) if t.blob != _NULL_SHA})
        fronts = _front_matters(self.root, blobs)
        result: dict[str, tuple[Revision, ...]] = {}
        for path in paths:
            touches = log.get(path, [])
            revisions = []
            for index, touch in enumerate(touches):
                older = touches[index + 1].blob if index + 1 < len(touches) else None
                front = fronts.get(touch.blob)
                changed = front is not None and (older is None or fronts.get(older) != front)
                status = _status(front) if changed and front is not None else None
                revisions.append(Revision(touch.date, touch.commit, touch.subject, status))
            result[path] = tuple(revisions)
        return result


def _git(root: Path, *args: str, data: bytes | None = None) -> bytes | None:
    try:
        done = subprocess.run(["git", *args], cwd=root, input=data, capture_output=True,
                              check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout


def _read_log(root: Path) -> dict[str, list[_Touch]]:
    prefix = _git(root, "rev-parse", "--show-prefix")
    log = _git(root, "log", "--format=%x00%h%x00%cs%x00%s", "--raw", "--no-abbrev",
               "--no-renames", "--", ".")
    if prefix is None or log is None:
        return {}
    top = prefix.decode().strip()
    found: dict[str, list[_Touch]] = {}
    header: tuple[str, dt.date, str] | None = None
    for line in log.decode("utf-8", "replace").splitlines():
        if line.startswith("\x00"):
            _, commit, day, subject = line.split("\x00", 3)
            header = (commit[:10], dt.date.fromisoformat(day), subject)
        elif line.startswith(":") and header is not None and "\t" in line:
            meta, path = line.split("\t", 1)
            blob = meta.split()[3]
            rel = path[len(top):] if top and path.startswith(top) else path
            commit, when, subject = header
            found.setdefault(rel, []).append(_Touch(when, commit, subject, blob))
    return found


def _front_matters(root: Path, blobs: list[str]) -> dict[str, str]:
    """The front-matter text of each blob (one `git cat-file --batch`)."""
    if not blobs:
        return {}
    out = _git(root, "cat-file", "--batch", data="".join(b + "\n" for b in blobs).encode())
    if out is None:
        return {}
    fronts: dict[str, str] = {}
    pos = 0
    for blob in blobs:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[1] != b"blob":
            continue
        size = int(header[2])
        text = out[pos:pos + size].decode("utf-8", "replace").replace("\r\n", "\n")
        pos += size + 1
        split = split_front_matter(SourceText("", text))
        if isinstance(split, Split):
            fronts[blob] = split.front
    return fronts


def _status(front: str) -> str | None:
    doc = parse_yaml("", front)
    data = getattr(doc, "data", None)
    review = data.get("review") if isinstance(data, dict) else None
    status = review.get("status") if isinstance(review, dict) else None
    return status if isinstance(status, str) else None
