"""`clinsite serve`: build into a private folder, serve it on 127.0.0.1, rebuild on change.

An I/O edge. Each build writes a new numbered folder under a temporary directory and
is served only if it succeeded, so a broken edit leaves the last good site up, with an
overlay listing the problems. Open pages reload through server-sent events and a small
script that this server adds to HTML responses: it never reaches `build`'s output.
"""

from __future__ import annotations

import errno
import html
import mimetypes
import queue
import secrets
import shutil
import sys
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TextIO

import watchfiles

from clinsite.diagnostics import Diagnostic
from clinsite.pipeline import SOURCE_FOLDERS, BuildOptions, BuildResult
from clinsite.pipeline import build as pipeline_build
from clinsite.progress import plural, tally, write_diagnostics

HOST = "127.0.0.1"
EVENTS = "/__clinsite/events"
SCRIPT = "/__clinsite/reload.js"
STYLES = "/__clinsite/overlay.css"  # a file, not inline: the theme's CSP allows only 'self'
KEEPALIVE = 15.0  # seconds between comments on an idle event stream
WATCHED_FILES = ("site.yaml",)

Builder = Callable[[BuildOptions], BuildResult]


def full_build(options: BuildOptions) -> BuildResult:
    """Today's builder: the whole pipeline. A faster (incremental) one takes its place."""
    return pipeline_build(options)


class ServeError(Exception):
    """The server cannot start (e.g. the port is taken); one sentence for the terminal."""


@dataclass(frozen=True, slots=True)
class BuildStatus:
    """What the server shows: the last good build, and the latest build's problems."""

    tag: str  # changes with every finished build; pages carry it to know they are stale
    site: Path | None  # folder of the last good build; None until one succeeds
    problems: tuple[Diagnostic, ...] | None = None  # set when the latest build failed
    note: str | None = None  # a failure that is not a diagnostic (unsafe folder, crash)

    @property
    def failed(self) -> bool:
        return self.problems is not None


class LiveState:
    """The current BuildStatus, shared by the request threads and the rebuild loop."""

    def __init__(self, status: BuildStatus) -> None:
        self._changed = threading.Condition()
        self._status = status
        self.stopping = False

    @property
    def status(self) -> BuildStatus:
        with self._changed:
            return self._status

    def publish(self, status: BuildStatus) -> None:
        with self._changed:
            self._status = status
            self._changed.notify_all()

    def wait_for_change(self, tag: str, timeout: float) -> BuildStatus | None:
        """The new status once it differs from `tag`; None on timeout or when stopping."""
        with self._changed:
            self._changed.wait_for(lambda: self.stopping or self._status.tag != tag, timeout)
            return None if self.stopping or self._status.tag == tag else self._status

    def stop(self) -> None:
        with self._changed:
            self.stopping = True
            self._changed.notify_all()


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
        self._httpd: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._serving = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def bind(self) -> str:
        """Listen on 127.0.0.1 (port 0: any free port); ServeError if the port is taken."""
        try:
            self._httpd = _HTTPServer((HOST, self.port), _Handler)
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


class _HTTPServer(ThreadingHTTPServer):
    live: LiveState  # set by DevServer.bind; request threads read the build status here

    def handle_error(self, request: object, client_address: object) -> None:
        """A failed request is the browser's business: no traceback in the editor's terminal."""


class _Handler(BaseHTTPRequestHandler):
    """Serves the last good build with pretty URLs, the reload script and the events."""

    server: _HTTPServer
    server_version = "clinsite-serve"

    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged: the terminal is for build results."""

    def do_GET(self) -> None:
        self._respond(body=True)

    def do_HEAD(self) -> None:
        self._respond(body=False)

    def _respond(self, *, body: bool) -> None:
        parts = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parts.path)
        try:
            if path == EVENTS:
                self._events()
            elif path == SCRIPT:
                self._send(200, "text/javascript; charset=utf-8", RELOAD_JS.encode(), body)
            elif path == STYLES:
                self._send(200, "text/css; charset=utf-8", OVERLAY_CSS.encode(), body)
            else:
                self._page(path, parts.query, body)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass  # the browser went away (a reload); nothing to tell anyone

    def _page(self, path: str, query: str, body: bool) -> None:
        status = self.server.live.status
        if status.site is None:
            page = inject(FAILED_PAGE.encode(), status)
            self._send(500, "text/html; charset=utf-8", page, body)
            return
        code, found = locate(status.site, path)
        if code == 301:
            self.send_response(301)
            self.send_header("Location", urllib.parse.quote(path + "/") +
                             (f"?{query}" if query else ""))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        try:
            data = found.read_bytes() if found is not None else b"Not found\n"
        except OSError:  # a 404.html missing, or an old build deleted mid-request
            code, data = 404, b"Not found\n"
        name = found.name if found is not None else "x.txt"
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
            kind += "; charset=utf-8"
        if kind.startswith("text/html"):
            data = inject(data, status)
        self._send(code, kind, data, body)

    def _send(self, code: int, kind: str, data: bytes, body: bool) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _events(self) -> None:
        """A server-sent event stream: ``hello`` now, ``reload`` after every build."""
        live = self.server.live
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        tag = live.status.tag
        self.wfile.write(f"retry: 1000\nevent: hello\ndata: {tag}\n\n".encode())
        while not live.stopping:
            status = live.wait_for_change(tag, KEEPALIVE)
            if status is None:
                if not live.stopping:
                    self.wfile.write(b": keep-alive\n\n")
                continue
            tag = status.tag
            self.wfile.write(f"event: reload\ndata: {tag}\n\n".encode())


def locate(site: Path, path: str) -> tuple[int, Path | None]:
    """(status, file) for a URL path: ``/x/`` -> x/index.html, ``/x`` -> 301, else 404.html."""
    parts = [part for part in path.split("/") if part]
    missing = site / "404.html"
    if any(part in (".", "..") or "\\" in part or "\0" in part for part in parts):
        return 404, missing
    target = site.joinpath(*parts)
    if target.is_dir():
        if not path.endswith("/"):
            return 301, None
        target = target / "index.html"
    if target.is_file():
        return 200, target
    return 404, missing


def inject(page: bytes, status: BuildStatus) -> bytes:
    """The page with the overlay (if the latest build failed) and the reload script."""
    snippet = (overlay(status) + f'<script src="{SCRIPT}" data-build="{status.tag}"></script>\n'
               ).encode()
    at = page.lower().rfind(b"</body>")
    return page[:at] + snippet + page[at:] if at >= 0 else page + snippet


def overlay(status: BuildStatus) -> str:
    """The build-failure overlay: every diagnostic, escaped; empty when the build is good."""
    if not status.failed:
        return ""
    problems = status.problems or ()
    errors = sum(1 for d in problems if d.severity == "error")
    items = "".join(
        f'<li><code>{html.escape(d.path)}:{d.line}:{d.col}</code> '
        f'<strong class="cs-{d.severity}">{d.severity}</strong> {html.escape(d.message)} '
        f'<span class="cs-code">[{html.escape(d.code)}]</span></li>\n'
        for d in problems)
    note = f"<p>{html.escape(status.note)}</p>" if status.note else ""
    shown = ("Behind this panel is the last good build." if status.site
             else "No build has succeeded yet.")
    return (f'<link rel="stylesheet" href="{STYLES}">\n'
            '<div id="clinsite-dev-overlay" role="alertdialog" aria-modal="false" '
            'aria-labelledby="clinsite-dev-overlay-title">'
            f'<h2 id="clinsite-dev-overlay-title">Build failed: {plural(errors, "error")}</h2>'
            f"{note}<ol>\n{items}</ol><p>{shown} Fix the files and save: this page reloads "
            'by itself.</p><button type="button" id="clinsite-dev-overlay-close">Hide</button>'
            "</div>\n")


FAILED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Build failed · clinsite serve</title>
</head><body></body></html>
"""

OVERLAY_CSS = """\
#clinsite-dev-overlay{position:fixed;inset:auto 0 0 0;max-height:60vh;overflow:auto;
z-index:2147483647;background:#fff8f7;color:#1a1a1a;border-top:4px solid #b3261e;
padding:1rem 1.5rem;font:15px/1.5 system-ui,sans-serif;box-shadow:0 -4px 24px rgba(0,0,0,.25)}
#clinsite-dev-overlay h2{margin:0 0 .5rem;font-size:1.1rem;color:#b3261e}
#clinsite-dev-overlay ol{margin:0;padding-left:1.5rem}
#clinsite-dev-overlay code{font:13px/1.4 ui-monospace,monospace}
#clinsite-dev-overlay .cs-error{color:#b3261e}
#clinsite-dev-overlay .cs-warning{color:#8a5a00}
#clinsite-dev-overlay .cs-code{color:#555}
#clinsite-dev-overlay button{font:inherit;margin-top:.5rem}
#clinsite-dev-overlay[hidden]{display:none}
"""

RELOAD_JS = """// clinsite serve: reload the page after every rebuild (only the dev server adds it).
(function () {
  "use strict";
  var script = document.currentScript;
  var build = script ? script.getAttribute("data-build") : null;
  var overlay = document.getElementById("clinsite-dev-overlay");
  var hide = document.getElementById("clinsite-dev-overlay-close");
  if (overlay && hide) {
    hide.addEventListener("click", function () { overlay.hidden = true; });
  }
  if (!window.EventSource) { return; }
  var events = new EventSource("/__clinsite/events");
  function check(event) {
    if (event.data !== build) { events.close(); window.location.reload(); }
  }
  events.addEventListener("hello", check);
  events.addEventListener("reload", check);
})();
"""
