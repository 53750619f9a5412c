"""`clinsite serve`: build into a private folder, serve it on 127.0.0.1, rebuild on change.

An I/O edge. Each build writes a new numbered folder under a temporary directory and
is served only if it succeeded, so a broken edit leaves the last good site up, with an
overlay listing the problems. Open pages reload through server-sent events and a small
script that this server adds to HTML responses: it never reaches `build`'s output.
"""

from __future__ import annotations

import errno
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

from clinsite.devhttp import BuildStatus, DevHandler, DevHTTPServer, LiveState
from clinsite.pipeline import SOURCE_FOLDERS, BuildOptions, BuildResult
from clinsite.pipeline import build as pipeline_build
from clinsite.progress import plural, tally, write_diagnostics

HOST = "127.0.0.1"
WATCHED_FILES = ("site.yaml",)

Builder = Callable[[BuildOptions], BuildResult]


def full_build(options: BuildOptions) -> BuildResult:
    """Today's builder: the whole pipeline. A faster (incremental) one takes its place."""
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
        self._workdir = Path(tempfile.mkdtemp(prefix="clinsite-serve-"))
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
            shutil.rmtree(self._workdir, ignore_errors=True)
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
        watcher = SourceWatcher(self.root, self.changes.put, self._stop)
        self._threads.extend(watcher.start())
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
        """Build into a new folder; serve it if the build succeeded."""
        self._number += 1
        out = self._workdir / str(self._number) / "site"
        previous = self.live.status
        # One process: forking worker processes from a server with live threads can
        # deadlock a child on a lock a thread held; the incremental build makes it fast.
        options = BuildOptions(root=self.root, out=out, drafts=self.drafts, base_url=self.url,
                               jobs=1)
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
            self._tidy(keep={out.parent, previous.site.parent if previous.site else out.parent})
            return self._publish(BuildStatus(self._tag(), out))
        if result.usage_error:
            self._say(f"Error: {result.usage_error}")
        still = "still serving the last good build" if previous.site else "nothing to serve yet"
        self._say(f"Build failed in {result.seconds:.2f} s: {tally(r.errors, r.warnings)}; "
                  f"{still}.")
        shutil.rmtree(out.parent, ignore_errors=True)
        return self._publish(BuildStatus(self._tag(), previous.site,
                                         tuple(r.sorted()), result.usage_error))

    def stop(self) -> None:
        """Stop watching and serving, and delete the build folders (safe to call twice)."""
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
        shutil.rmtree(self._workdir, ignore_errors=True)

    def _tag(self) -> str:
        return f"{self.instance}-{self._number}"

    def _publish(self, status: BuildStatus) -> BuildStatus:
        self.live.publish(status)
        return status

    def _tidy(self, keep: set[Path]) -> None:
        """Delete old build folders; the previous one stays for requests still reading it."""
        for folder in self._workdir.iterdir():
            if folder not in keep:
                shutil.rmtree(folder, ignore_errors=True)

    def _say(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


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


