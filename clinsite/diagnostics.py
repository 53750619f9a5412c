"""Diagnostics: the one channel for content problems.

Every stage returns `Diagnostic` values instead of raising; the pipeline
collects them for the whole run and the CLI formats them, compiler style:
``content/summaries/x.md:14:22: error: unknown citation key 'x' [unknown-citation]``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    """One problem in one input file; line and col are 1-based (0 = unknown)."""

    path: str
    line: int
    col: int
    severity: Severity
    code: str
    message: str

    def format(self) -> str:
        """Render as ``path:line:col: severity: message [code]``, always one line: content
        quoted in a message can neither forge a second diagnostic nor drive the terminal."""
        message = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in self.message)
        return f"{self.path}:{self.line}:{self.col}: {self.severity}: {message} [{self.code}]"

    def format_github(self) -> str:
        """Render as a GitHub Actions workflow command."""
        kind = "error" if self.severity is Severity.ERROR else "warning"
        message = _gh_escape(f"{self.message} [{self.code}]", data=True)
        props = f"file={_gh_escape(self.path)}"
        if self.line:
            props += f",line={self.line}" + (f",col={self.col}" if self.col else "")
        return f"::{kind} {props},title={_gh_escape(self.code)}::{message}"


def _gh_escape(text: str, *, data: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if not data:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def error(path: str, line: int, col: int, code: str, message: str) -> Diagnostic:
    """Shorthand for an error diagnostic."""
    return Diagnostic(path, line, col, Severity.ERROR, code, message)


def warning(path: str, line: int, col: int, code: str, message: str) -> Diagnostic:
    """Shorthand for a warning diagnostic."""
    return Diagnostic(path, line, col, Severity.WARNING, code, message)


@dataclass(slots=True)
class Report:
    """All diagnostics of one run, in a stable order."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    def sorted(self) -> list[Diagnostic]:
        """Unique diagnostics ordered by file, position and code."""
        return sorted(set(self.items))

    def strict(self) -> Report:
        """A copy in which every warning is an error (``--strict``)."""
        return Report([replace(d, severity=Severity.ERROR) for d in self.items])

    @property
    def errors(self) -> int:
        return sum(1 for d in set(self.items) if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for d in set(self.items) if d.severity is Severity.WARNING)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


class BuildAborted(Exception):
    """Raised when the run cannot go on (e.g. the output folder is unsafe)."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.format())
        self.diagnostic = diagnostic
