"""What the terminal shows while a command runs: diagnostics, a progress bar, closing lines.

Output edge of the CLI (stderr only). Colour and the progress bar are for people at a
terminal: a pipe, a log file or CI gets plain lines, byte for byte the same every run.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from clinsite.diagnostics import Diagnostic, Severity

_CSI = "\x1b["
_RESET = f"{_CSI}0m"
_SEVERITY_STYLE = {Severity.ERROR: f"{_CSI}1;31m", Severity.WARNING: f"{_CSI}1;33m"}
_BOLD, _DIM = f"{_CSI}1m", f"{_CSI}2m"


def is_terminal(stream: TextIO) -> bool:
    """True when `stream` is an interactive terminal (never for pipes, files or CI logs)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        return False


def wants_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return is_terminal(stream) and not os.environ.get("NO_COLOR")


def format_diagnostic(diagnostic: Diagnostic, fmt: str = "text", *, colour: bool = False) -> str:
    """One diagnostic as a line: compiler style (optionally coloured) or a GitHub command."""
    if fmt == "github":
        return diagnostic.format_github()
    if not colour:
        return diagnostic.format()
    d = diagnostic
    where = f"{_BOLD}{d.path}:{d.line}:{d.col}:{_RESET}"
    severity = f"{_SEVERITY_STYLE[d.severity]}{d.severity}:{_RESET}"
    return f"{where} {severity} {d.message} {_DIM}[{d.code}]{_RESET}"


def write_diagnostics(diagnostics: Iterable[Diagnostic], stream: TextIO,
                      fmt: str = "text") -> None:
    """Print diagnostics one a line, coloured when `stream` is a terminal."""
    colour = fmt == "text" and wants_colour(stream)
    for diagnostic in diagnostics:
        stream.write(format_diagnostic(diagnostic, fmt, colour=colour) + "\n")
    stream.flush()


def plural(count: int, noun: str) -> str:
    """``1 warning``, ``2 warnings``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def tally(errors: int, warnings: int) -> str:
    """The closing lines' count of problems: ``2 warnings, 0 errors``."""
    return f"{plural(warnings, 'warning')}, {plural(errors, 'error')}"


def count_sources(root: Path) -> int:
    """How many content files a build will render: the progress bar's (estimated) total."""
    return sum(1 for section in ("summaries", "drugs", "pages")
               for _ in (root / "content" / section).glob("*.md"))


@dataclass(slots=True)
class ProgressBar:
    """A one-line bar on a terminal, drawn only once a build has run for `delay` seconds.

    Called once per rendered page (the pipeline's `progress` callback); `total` is an
    estimate (drafts and broken files are not rendered), so the bar never claims more.
    """

    stream: TextIO
    total: int
    delay: float = 1.0
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)
    done: int = field(default=0, init=False)
    drawn_at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def __call__(self, path: str) -> None:
        self.done += 1
        now = self.clock()
        if now - self.started < self.delay:
            return
        if self.drawn_at is not None and now - self.drawn_at < 0.1 and self.done < self.total:
            return  # redraw at most ten times a second
        self.drawn_at = now
        self.stream.write("\r" + self.line(path) + f"{_CSI}K")
        self.stream.flush()

    def line(self, path: str) -> str:
        """``Rendering [#######.............] 12/40 content/summaries/x.md``, fitted."""
        total = max(self.total, self.done)
        width = 24
        filled = width * self.done // total if total else width
        text = f"Rendering [{'#' * filled}{'.' * (width - filled)}] {self.done}/{total} {path}"
        columns = shutil.get_terminal_size((80, 24)).columns
        return text[: max(columns - 1, 10)]

    def close(self) -> None:
        """Erase the bar so the closing line starts on a clean line."""
        if self.drawn_at is not None:
            self.stream.write(f"\r{_CSI}K")
            self.stream.flush()
            self.drawn_at = None


def progress_bar(stream: TextIO, root: Path, *, quiet: bool) -> ProgressBar | None:
    """A progress bar for a build of `root`, or None when quiet or not on a terminal."""
    if quiet or not is_terminal(stream):
        return None
    return ProgressBar(stream, count_sources(root))
