"""`clinsite serve`: build into a private folder, serve it on 127.0.0.1, rebuild on change.

An I/O edge. The preview is an ordinary build output, with its own cache, kept in
`<root>/.clinsite-cache/serve/` between runs: each rebuild is an incremental build (only
what a change affects is made again) whose output replaces the previous one as `build`'s
does (in one atomic exchange on Linux), and only if it succeeded, so a broken edit leaves
the last good site up, with an overlay listing the problems. A second server of the same
root, which cannot take the preview's lock, builds in a temporary folder deleted when it
stops. Open pages reload through server-sent events and a small script that this server
adds to HTML responses: it never reaches `build`'s output.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import queue
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

import watchfiles

from clinsite import persist, stamp
from clinsite.cache import CACHE_DIR, ensure_folder
from clinsite.devhttp import BuildStatus, DevHandler, DevHTTPServer, LiveState
from clinsite.pipeline import SOURCE_FOLDERS, BuildOptions, BuildResult, site_wide
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
_MADE_WITH = "settings.json"  # the local address and --drafts the kept preview was made with

Builder = Callable[[BuildOptions], BuildResult]


def full_build(options: BuildOptions) -> BuildResult:
    """The builder: the pipeline, incremental against the preview's own cache. A build
    that may use worker processes (`jobs` None) while this process has other threads runs
    in a new process of its own (spawned: it starts with one thread), which can then fork
    its workers safely; forked from here, a worker could deadlock on a lock one of those
    threads held."""
    if (options.jobs is not None and options.jobs <= 1) or threading.active_count() == 1:
        return pipeline_build(options)
    import concurrent.futures
    import multiprocessing

    from clinsite import pipeline

    spawning = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawning) as pool:
        return pool.submit(pipeline.build, options).result()


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
        self._home, self._lock, self.temporary_because = _preview_folder(root)
        #: True when the preview is kept between runs (`<root>/.clinsite-cache/serve/`);
        #: else `temporary_because` says why not.
        self.kept = self._lock is not None
        self.out = self._home / "site"
        self._building = threading.Lock()  # held by `rebuild`; `stop` waits for it
        # What a build loaded or wrote of its cache, for the next (clinsite.persist.keeping)
        self._kept: persist.Kept = {}
        self._closed = False  # stopped (or failed to bind): it builds nothing more
        self._number = 0
        # The source paths changed since the last build that succeeded: a build after a
        # failed one renders what changed since the success (`_rebuild`'s `site_wide`)
        self._unbuilt: set[str] = set()
        self._httpd: DevHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._serving = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def bind(self) -> str:
        """Listen on 127.0.0.1 (port 0: any free port); ServeError if the port is taken
        (the server is then stopped)."""
        self._check_open()
        try:
            self._httpd = DevHTTPServer((HOST, self.port), DevHandler)
        except OSError as exc:
            self.stop()
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
        httpd = self._httpd
        assert httpd is not None
        self._say(f"Serving {self.root.resolve()} at {self.url} (Ctrl-C to stop)")
        if not self.kept:
            self._say(f"{self.temporary_because}: this server builds in a temporary folder, from "
                      "scratch, and deletes it when it stops.")
        # The first build runs before this server starts any thread, so that it may use
        # worker processes (see `rebuild`); what changes meanwhile is caught up on once
        # the watcher listens.
        inputs = self._inputs()
        self.rebuild()
        if self._stop.is_set():
            return
        watcher = SourceWatcher(self.root, self.changes.put, self._stop)
        self._threads.extend(watcher.start())
        watcher.ready.wait(timeout=10)
        if self._inputs() != inputs and not self._stop.is_set():
            self._say("Files changed during the first build; rebuilding")
            self.rebuild()
        # Served once the watcher listens: whatever a reader sees, a save after it shows.
        server = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
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
            self.rebuild(changed)

    def rebuild(self, changed: Iterable[str] = ()) -> BuildStatus:
        """Build (incrementally) into the preview folder; serve it if the build succeeded.
        A failed build leaves the folder as it was: the last good build, served with the
        problems over it (one from an earlier run, if this run has not built yet).
        `changed`: the source paths that changed (relative to the root), if known."""
        with self._building:
            self._check_open()
            return self._rebuild(changed)

    def _rebuild(self, changed: Iterable[str]) -> BuildStatus:
        self._number += 1
        out = self.out
        previous = self.live.status
        made_with = self._home / _MADE_WITH
        settings = json.dumps([self.url, self.drafts])
        if previous.site is None and (out / MARKER).is_file() and made_with.is_file() and \
                made_with.read_text("utf-8") == settings:
            previous = BuildStatus(previous.tag, out)  # an earlier run's, with these settings
        unbuilt = self._unbuilt | set(changed)
        try:
            with persist.keeping(self._kept):
                # Worker processes for the first build of `run` (before the server starts
                # any thread) and after a change to the settings, which every page depends
                # on, or to a template that many pages used (in a process of its own: see
                # `full_build`; incremental too); other builds are incremental, mostly
                # small, and run here. (Inside `keeping`: the manifest it reads is kept.)
                jobs = None if threading.active_count() == 1 or \
                    site_wide(unbuilt, self._home / "cache") else 1
                options = BuildOptions(root=self.root, out=out, drafts=self.drafts,
                                       base_url=self.url, jobs=jobs,
                                       cache_dir=self._home / "cache", stamped=False)
                result = self.builder(options)
        except Exception as exc:  # a bug in a builder must not take the server down
            self._unbuilt = unbuilt
            note = f"clinsite failed while building ({type(exc).__name__}: {exc}); please report it"
            self._say(note)
            return self._publish(BuildStatus(self._tag(), previous.site, (), note))
        write_diagnostics(result.report.sorted(), self.stream)
        r = result.report
        self._unbuilt = set() if result.ok and result.written else unbuilt
        if result.ok and result.written:
            self._say(f"Built {plural(result.pages, 'page')} in {result.seconds:.2f} s: "
                      f"{tally(r.errors, r.warnings)}.")
            with contextlib.suppress(OSError):
                made_with.write_text(settings, "utf-8")
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
        twice). A build in progress (on another thread) is let finish first."""
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
        with self._building:
            if self._closed:
                return
            self._closed = True
            if self._lock is not None:
                os.close(self._lock)  # (releases the lock)
                self._lock = None
            else:
                shutil.rmtree(self._home, ignore_errors=True)

    def _check_open(self) -> None:
        if self._closed:
            raise ServeError("this server was stopped; make a new one")

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


def _preview_folder(root: Path) -> tuple[Path, int | None, str]:
    """Where a server of `root` builds, the lock that makes it this server's, and why it
    has none: the kept preview (`<root>/.clinsite-cache/serve/`) when no other process
    holds the lock, else a new temporary folder. The lock is an advisory `flock` on the
    root folder itself (which deleting the cache folder cannot take away), released by
    the system when its process ends, however it ends."""
    if fcntl is None:
        why = "This system cannot lock the preview folder"
    else:
        fd = None
        try:
            fd = os.open(root, os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            ensure_folder(root / CACHE_DIR)
            return root / CACHE_DIR / PREVIEW, fd, ""
        except OSError as exc:
            if fd is not None:
                os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                why = "Another clinsite serve is previewing this site"
            else:
                why = f"The preview folder cannot be used ({exc.strerror or exc})"
    return Path(tempfile.mkdtemp(prefix="clinsite-serve-")), None, why


class SourceWatcher:
    """Turns changes to site.yaml, content/, references/ and templates/ into path sets.

    Two watchfiles loops: the root itself, not recursively (an editor's save of site.yaml
    replaces the file, which a watch on the file would lose; a source folder may appear),
    and the source folders recursively, restarted when the set of folders changes. The
    root is never watched recursively: it may hold .git, .venv or site/.
    `ready` is set once both loops listen (watchfiles has set its watches up when its loop
    first yields, here at the latest after `rust_timeout`).
    """

    def __init__(self, root: Path, changed: Callable[[set[str]], None],
                 stop: threading.Event) -> None:
        self.root = root
        self.changed = changed
        self.stop = stop
        self.ready = threading.Event()
        self._not_listening = {"root", "folders"}
        self._ready_lock = threading.Lock()
        self._folders_changed = threading.Event()

    def _listening(self, loop: str) -> None:
        with self._ready_lock:
            self._not_listening.discard(loop)
            if not self._not_listening:
                self.ready.set()

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
                                        debounce=400, rust_timeout=1000, yield_on_timeout=True):
            self._listening("root")
            if not changes:
                continue
            if {Path(path).name for _, path in changes} & set(SOURCE_FOLDERS):
                self._folders_changed.set()
            self._report(changes)

    def _watch_folders(self) -> None:
        while not self.stop.is_set():
            self._folders_changed.clear()
            folders = [self.root / name for name in SOURCE_FOLDERS
                       if (self.root / name).is_dir()]
            if not folders:  # (the root's loop reports a folder that appears)
                self._listening("folders")
                self._folders_changed.wait(1.0)
                continue
            for changes in watchfiles.watch(*folders, stop_event=self.stop, debounce=400,
                                            rust_timeout=1000, yield_on_timeout=True,
                                            watch_filter=_source_filter):
                self._listening("folders")
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


