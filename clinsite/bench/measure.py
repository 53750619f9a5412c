"""Measurement: one command -> wall time and peak memory of its whole process tree.

Each command runs under a fresh wrapper process (`python -c`), which times it and
then reads its own RUSAGE_CHILDREN: that `ru_maxrss` is the peak RSS of the largest
process in the tree (the build, its pool workers, Pagefind, git), and a fresh wrapper
per run keeps earlier runs out of it. On Linux a sampler also adds up the RSS of the
tree's live processes every 0.1 s, which shows what a process pool costs in total.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Runs in the wrapper process: time the command, then report the tree's peak RSS.
_WRAPPER = """\
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                      stderr=subprocess.PIPE)
seconds = time.perf_counter() - start
maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "status": done.returncode, "maxrss": maxrss,
                  "stderr": done.stderr.decode("utf-8", "replace")[-20000:]}))
"""
_MIB = 1024 * 1024
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_PROC = Path("/proc")


class MeasureError(RuntimeError):
    """The wrapper itself failed (not the measured command): no measurement."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed run of one command."""

    seconds: float
    peak_rss_mib: float  # the largest single process of the tree
    tree_rss_mib: float | None  # the largest sampled sum over live processes (Linux only)
    status: int
    stderr: str


def measure(command: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> Sample:
    """Run `command` once in a fresh wrapper process and measure it."""
    wrapper = subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, *command], env=dict(env), cwd=cwd,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    sampler = TreeSampler(wrapper.pid) if _PROC.is_dir() else None
    if sampler is not None:
        sampler.start()
    try:
        out, err = wrapper.communicate()
    finally:
        if sampler is not None:
            sampler.stop()
    try:
        report = json.loads(out)
    except ValueError as exc:
        raise MeasureError(f"the measuring wrapper failed: {err.decode(errors='replace')}") from exc
    maxrss = float(report["maxrss"])
    peak = maxrss / _MIB if sys.platform == "darwin" else maxrss / 1024  # bytes vs KiB
    tree = sampler.peak_bytes / _MIB if sampler is not None and sampler.peak_bytes else None
    return Sample(float(report["seconds"]), peak, tree, int(report["status"]),
                  str(report["stderr"]))


class TreeSampler:
    """Polls /proc for the descendants of `pid` (not `pid` itself) and keeps the peak sum.

    A process that is not a descendant at one scan never becomes one, so it is skipped
    for a while: most scans read only the tree's and new processes' stat files. (The
    skip list is cleared every `refresh` scans, in case a process id is reused.)
    """

    interval = 0.1
    refresh = 20

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_bytes = 0
        self._foreign: set[int] = set()
        self._scans = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_bytes = max(self.peak_bytes, self.scan())

    def scan(self) -> int:
        """The summed RSS of every live descendant of `pid`, in bytes."""
        self._scans += 1
        if self._scans % self.refresh == 0:
            self._foreign.clear()
        table: dict[int, tuple[int, int]] = {}
        for name in os.listdir(_PROC):
            if name.isdigit() and int(name) not in self._foreign:
                found = _stat(name)
                if found is not None:
                    table[int(name)] = found
        children: dict[int, list[int]] = {}
        for child, (parent, _) in table.items():
            children.setdefault(parent, []).append(child)
        total, stack, tree = 0, list(children.get(self.pid, ())), {self.pid}
        while stack:
            current = stack.pop()
            tree.add(current)
            total += table[current][1]
            stack.extend(children.get(current, ()))
        self._foreign.update(table.keys() - tree)
        return total


def _stat(pid: str) -> tuple[int, int] | None:
    """(parent pid, RSS in bytes) of a process, or None if it has ended."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After "pid (comm)": state, ppid, ...; rss is the 24th field of the line.
    return int(fields[1]), int(fields[21]) * _PAGE
