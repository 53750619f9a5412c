"""`clinsite serve`: build into a private folder, serve it on 127.0.0.1, rebuild on change.

An I/O edge. The preview is an ordinary build output, with its own cache, kept in
`<root>/.clinsite-cache/serve/` between runs: each rebuild is an incremental build
(only what a change affects is made again) whose output replaces the previous one in one
atomic exchange, and only if it succeeded, so a broken edit leaves the last good site up,
with an overlay listing the problems. A second server of the same root, which cannot
take that folder's lock, builds in a temporary folder deleted when it stops. Open pages
reload through server-sent events and a small script that this server adds to HTML
responses: it never reaches `build`'s output.
"""

from __future__ import annotations

import errno
import os
import queue
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO, TextIO

import watchfiles

from clinsite import stamp
from clinsite.cache import CACHE_DIR, ensure_folder
from clinsite.devhttp import BuildStatus, DevHandler, DevHTTPServer, LiveState
from clinsite.pipeline import SOURCE_FOLDERS, BuildOptions, BuildResult
from clinsite.pipeline import build as pipeline_build
from clinsite.progress import plural, tally, write_diagnostics
from clinsite.writer import MARKER

try:
    import fcntl
except ImportError:  # (not on Windows: every server then builds in a temporary folder)
    fcntl = None  # type: ignore[assignment]

HOST = "127.0.0.1"
WATCHED_FILES = ("site.yaml",)
PREVIEW = "serve"  # the preview's folder in the root's cache folder

Builder = Callable[[BuildOptions], BuildResult]


def full_build(options: BuildOptions) -> BuildResult:
    """The builder: the pipeline, incremental against the preview's own cache."""
    return pipeline_build(options)


class ServeError(Exception):
    """The server cannot start (e.g. the port is taken); one sentence for the terminal."""


class DevServer:
    """Builds, serves and rebuilds one site root until `stop()`."""

    def __init__(self, root: Path, port: int = 8000, *, drafts: bool = False,
                 builder: Builder = full_build, stream: TextIO | None = None) -> None:
        self.root = root
        self.port = port
        self.drafts = drafts
        self.builder = builder
        self.stream = stream if stream is not None else sys.stderr
        self.instance = secrets.token_hex(4)
        self.live = LiveState(BuildStatus(f"{self.instance}-0", None))
        self.changes: queue.Queue[set[str]] = queue.Queue()
        self._stop = threading.Event()
        self._home, self._lock = _preview_folder(root)
        #: True when the preview is kept between runs (`<root>/.clinsite-cache/serve/`).
        self.kept = self._lock is not None
        self.out = self._home / "site"
        self._number = 0
        self._httpd: DevHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._serving = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def bind(self) -> str:
        """Listen on 127.0.0.1 (port 0: any free port); ServeError if the port is taken."""
        try:
            self._httpd = DevHTTPServer((HOST, self.port), DevHandler)
        except OSError as exc:
            self._release()
            if exc.errno == errno.EADDRINUSE:
                raise ServeError(f"port {self.port} on {HOST} is already in use (another "
                                 "clinsite serve?); stop it or choose another with --port N"
                                 ) from None
            raise ServeError(f"cannot listen on {HOST}:{self.port}: {exc.strerror}; "
                             "choose another port with --port N") from None
        self._httpd.live = self.live
        self.port = self._httpd.server_address[1]
        return self.url

    def run(self) -> None:
        """Build, then serve and rebuild on every change until `stop()` (or Ctrl-C)."""
        if self._httpd is None:
            self.bind()
        assert self._httpd is not None
        self._say(f"Serving {self.root.resolve()} at {self.url} (Ctrl-C to stop)")
        if not self.kept:
            self._say("Another clinsite serve is previewing this site: this one builds in a "
                      "temporary folder, from scratch, and deletes it when it stops.")
        # The first build runs before this server starts any thread, so that it may use
        # worker processes (see `rebuild`); what changes meanwhile is caught up on after.
        inputs = self._inputs()
        self.rebuild()
        watcher = SourceWatcher(self.root, self.changes.put, self._stop)
        self._threads.extend(watcher.start())
        if self._inputs() != inputs:  # (the watcher is listening now)
            self._say("Files changed during the first build; rebuilding")
            self.rebuild()
        server = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                  name="clinsite-http", daemon=True)
        self._serving = True
        server.start()
        self._threads.append(server)
        while not self._stop.is_set():
            try:
                changed = self.changes.get(timeout=0.2)
            except queue.Empty:
                continue
            while not self.changes.empty():
                changed |= self.changes.get_nowait()
            self._say(f"Changed {_describe(changed)}; rebuilding")
            self.rebuild()

    def rebuild(self) -> BuildStatus:
        """Build (incrementally) into the preview folder; serve it if the build succeeded.
        A failed build leaves the folder as it was: the last good build, served with the
        problems over it (one from an earlier run, if this run has not built yet)."""
        self._number += 1
        out = self.out
        previous = self.live.status
        if previous.site is None and (out / MARKER).is_file():
            previous = BuildStatus(previous.tag, out)
        # Worker processes only while this is the process's one thread (the first build of
        # `run`): forked from a server with live threads, a worker could deadlock on a lock
        # one of them held. Later builds are incremental, and so mostly small.
        jobs = None if threading.active_count() == 1 else 1
        options = BuildOptions(root=self.root, out=out, drafts=self.drafts, base_url=self.url,
                               jobs=jobs, cache_dir=self._home / "cache")
        try:
            result = self.builder(options)
        except Exception as exc:  # a bug in a builder must not take the server down
            note = f"clinsite failed while building ({type(exc).__name__}: {exc}); please report it"
            self._say(note)
            return self._publish(BuildStatus(self._tag(), previous.site, (), note))
        write_diagnostics(result.report.sorted(), self.stream)
        r = result.report
        if result.ok and result.written:
            self._say(f"Built {plural(result.pages, 'page')} in {result.seconds:.2f} s: "
                      f"{tally(r.errors, r.warnings)}.")
            return self._publish(BuildStatus(self._tag(), out))
        if result.usage_error:
            self._say(f"Error: {result.usage_error}")
        still = "still serving the last good build" if previous.site else "nothing to serve yet"
        self._say(f"Build failed in {result.seconds:.2f} s: {tally(r.errors, r.warnings)}; "
                  f"{still}.")
        return self._publish(BuildStatus(self._tag(), previous.site,
                                         tuple(r.sorted()), result.usage_error))

    def stop(self) -> None:
        """Stop watching and serving; delete the preview if it is not kept (safe to call
        twice)."""
        self._stop.set()
        self.live.stop()
        if self._httpd is not None:
            if self._serving:
                self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._release()

    def _release(self) -> None:
        """Let another server have the kept preview, or delete the temporary one."""
        if self._lock is not None:
            self._lock.close()  # (releases the lock)
            self._lock = None
        elif not self.kept:
            shutil.rmtree(self._home, ignore_errors=True)

    def _inputs(self) -> str:
        """A digest of the inputs' stats (clinsite.stamp): changes when a source does."""
        return stamp.take(self.root, self.out, ()).key

    def _tag(self) -> str:
        return f"{self.instance}-{self._number}"

    def _publish(self, status: BuildStatus) -> BuildStatus:
        self.live.publish(status)
        return status

    def _say(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


def _preview_folder(root: Path) -> tuple[Path, BinaryIO | None]:
    """Where a server of `root` builds, and the lock that makes it this server's: the
    kept preview (`<root>/.clinsite-cache/serve/`) when no other process holds it, else a
    new temporary folder (and no lock). The lock is an advisory `flock`, which the system
    releases when its process ends, however it ends."""
    folder = root / CACHE_DIR / PREVIEW
    if fcntl is not None:
        lock = None
        try:
            ensure_folder(root / CACHE_DIR)
            folder.mkdir(exist_ok=True)
            lock = (folder / "lock").open("ab")
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.set_inheritable(lock.fileno(), False)
            return folder, lock
        except OSError:  # held by another server, or the root is read-only
            if lock is not None:
                lock.close()
    return Path(tempfile.mkdtemp(prefix="clinsite-serve-")), None


class SourceWatcher:
    """Turns changes to site.yaml, content/, references/ and templates/ into path sets.

    Two watchfiles loops: the root itself, not recursively (an editor's save of site.yaml
    replaces the file, which a watch on the file would lose; a source folder may appear),
    and the source folders recursively, restarted when the set of folders changes. The
    root is never watched recursively: it may hold .git, .venv or site/.
    """

    def __init__(self, root: Path, changed: Callable[[set[str]], None],
                 stop: threading.Event) -> None:
        self.root = root
        self.changed = changed
        self.stop = stop
        self._folders_changed = threading.Event()

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._watch_root, name="clinsite-watch-root",
                                    daemon=True),
                   threading.Thread(target=self._watch_folders, name="clinsite-watch",
                                    daemon=True)]
        for thread in threads:
            thread.start()
        return threads

    def _report(self, changes: set[tuple[watchfiles.Change, str]]) -> None:
        paths = {Path(path).resolve() for _, path in changes}
        base = self.root.resolve()
        self.changed({p.relative_to(base).as_posix() if p.is_relative_to(base) else str(p)
                      for p in paths})

    def _watch_root(self) -> None:
        names = {*WATCHED_FILES, *SOURCE_FOLDERS}
        for changes in watchfiles.watch(self.root, recursive=False, stop_event=self.stop,
                                        watch_filter=lambda _, path: Path(path).name in names,
                                        debounce=400, rust_timeout=1000):
            if {Path(path).name for _, path in changes} & set(SOURCE_FOLDERS):
                self._folders_changed.set()
            self._report(changes)

    def _watch_folders(self) -> None:
        while not self.stop.is_set():
            self._folders_changed.clear()
            folders = [self.root / name for name in SOURCE_FOLDERS
                       if (self.root / name).is_dir()]
            if not folders:
                self._folders_changed.wait(1.0)
                continue
            for changes in watchfiles.watch(*folders, stop_event=self.stop, debounce=400,
                                            rust_timeout=1000, yield_on_timeout=True,
                                            watch_filter=_source_filter):
                if changes:
                    self._report(changes)
                if self._folders_changed.is_set() or self.stop.is_set():
                    break


_DEFAULT_FILTER = watchfiles.DefaultFilter()
_SOURCE_SUFFIXES = (".md", ".yaml", ".yml", ".bib")


def _source_filter(change: watchfiles.Change, path: str) -> bool:
    """Source files only: editors' backup and temporary files do not trigger a build."""
    if not _DEFAULT_FILTER(change, path):
        return False
    return "templates" in Path(path).parts or path.endswith(_SOURCE_SUFFIXES)


def _describe(paths: Iterable[str]) -> str:
    names = sorted(paths)
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


