"""The HTTP side of `clinsite serve`: the last good build with pretty URLs, the reload
script and the build-failure overlay, and the build status the request threads share
with the rebuild loop (clinsite.serve).

Binds to 127.0.0.1 only (clinsite.serve). Nothing here reaches `build`'s output: the
script and the overlay are added to HTML responses as they are served.
"""

from __future__ import annotations

import html
import mimetypes
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from clinsite.diagnostics import Diagnostic
from clinsite.progress import plural

EVENTS = "/__clinsite/events"
SCRIPT = "/__clinsite/reload.js"
STYLES = "/__clinsite/overlay.css"  # a file, not inline: the theme's CSP allows only 'self'
KEEPALIVE = 15.0  # seconds between comments on an idle event stream


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


class DevHTTPServer(ThreadingHTTPServer):
    live: LiveState  # set by DevServer.bind; request threads read the build status here

    def handle_error(self, request: object, client_address: object) -> None:
        """A failed request is the browser's business: no traceback in the editor's terminal."""


class DevHandler(BaseHTTPRequestHandler):
    """Serves the last good build with pretty URLs, the reload script and the events."""

    server: DevHTTPServer
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
