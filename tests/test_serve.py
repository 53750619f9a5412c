"""`clinsite serve`: pretty URLs, rebuild on change, reload events, the failure overlay over
the last good site, a busy port, and a clean Ctrl-C. Only 127.0.0.1, bounded timeouts."""

from __future__ import annotations

import http.client
import io
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from clinsite import parallel
from clinsite.cli import cli
from clinsite.devhttp import EVENTS, SCRIPT, STYLES, BuildStatus, inject, locate, overlay
from clinsite.diagnostics import error
from clinsite.parallel import PageRecord
from clinsite.pipeline import BuildOptions, BuildResult, build
from clinsite.serve import DevServer, ServeError
from tests.conftest import REPO, summary

Response = tuple[int, dict[str, str], str]


def get(port: int, path: str, timeout: float = 10) -> Response:
    """One GET on 127.0.0.1 without following redirects."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode("utf-8")
    finally:
        conn.close()


class EventStream:
    """Reads the server-sent events of /__clinsite/events on a thread."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.conn.request("GET", EVENTS)
        self.response = self.conn.getresponse()
        assert self.response.getheader("Content-Type") == "text/event-stream; charset=utf-8"
        self.events: queue.Queue[tuple[str, str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        event, data = "message", ""
        try:
            for raw in iter(self.response.fp.readline, b""):
                line = raw.decode("utf-8").rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and data:
                    self.events.put((event, data))
                    event, data = "message", ""
        except OSError:
            pass

    def next(self, timeout: float = 30) -> tuple[str, str]:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        self.conn.close()


def wait_for(predicate: Callable[[], bool], timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def served(make_site: Callable[..., Path]) -> Iterator[tuple[DevServer, Path, io.StringIO]]:
    """A dev server for a fresh site, running on a thread; stopped afterwards."""
    root = make_site()
    log = io.StringIO()
    server = DevServer(root, 0, stream=log)
    server.bind()
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.live.status.site is not None)
    yield server, root, log
    server.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()


def edit(path: Path, text: str, events: EventStream) -> str:
    """Write `path` and return the build tag of the reload event that follows."""
    for _ in range(3):  # the first write can land before the watcher is listening
        path.write_text(text, encoding="utf-8")
        try:
            event, tag = events.next(timeout=5)
        except queue.Empty:
            continue
        assert event == "reload"
        return tag
    raise AssertionError(f"no reload event after editing {path}")


def test_serve_rebuilds_reloads_and_keeps_the_last_good_site(served):
    server, root, log = served
    port = server.port
    status, headers, page = get(port, "/summaries/q/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Does it work?" in page
    tag = server.live.status.tag
    assert page.count(f'<script src="{SCRIPT}" data-build="{tag}"></script>\n</body>') == 1
    assert "clinsite-dev-overlay" not in page

    events = EventStream(port)
    try:
        assert events.next() == ("hello", tag)
        source = root / "content/summaries/q.md"
        new_tag = edit(source, summary(title="Does it still work?"), events)
        assert new_tag != tag
        page = get(port, "/summaries/q/")[2]
        assert "Does it still work?" in page and f'data-build="{new_tag}"' in page

        edit(source, summary("Claim [@no<b>key].\n", title="Broken title"), events)
        status, _, page = get(port, "/summaries/q/")
        assert status == 200
        assert "Does it still work?" in page and "Broken title" not in page  # last good site
        assert 'id="clinsite-dev-overlay" role="alertdialog"' in page
        assert ("<code>content/summaries/q.md:7:9</code> <strong class=\"cs-error\">error"
                "</strong> unknown citation key &#x27;no&lt;b&gt;key&#x27; "
                '<span class="cs-code">[unknown-citation]</span>') in page
        assert "no<b>key" not in page
        assert ("content/summaries/q.md:7:9: error: unknown citation key 'no<b>key' "
                "[unknown-citation]") in log.getvalue()
        assert "Build failed in " in log.getvalue()
        assert "still serving the last good build." in log.getvalue()

        edit(root / "site.yaml", (root / "site.yaml").read_text("utf-8").replace(
            "title: Test Summaries", "title: Renamed Summaries"), events)
        page = get(port, "/summaries/q/")[2]
        assert "clinsite-dev-overlay" in page  # q.md is still broken
        edit(source, summary(title="Fixed again"), events)
        page = get(port, "/summaries/q/")[2]
        assert "Fixed again" in page and "Renamed Summaries" in page
        assert "clinsite-dev-overlay" not in page
    finally:
        events.close()


def test_pretty_urls_404_and_assets(served):
    server, _, _ = served
    port = server.port
    status, headers, _ = get(port, "/summaries/q?x=1")
    assert (status, headers["Location"]) == (301, "/summaries/q/?x=1")
    status, _, page = get(port, "/no/such/page/")
    assert status == 404 and "Page not found" in page and SCRIPT in page
    status, _, page = get(port, "/%2e%2e/%2e%2e/etc/passwd")
    assert status == 404
    status, headers, css = get(port, "/assets/clinsite.css")
    assert status == 200 and headers["Content-Type"] == "text/css; charset=utf-8"
    assert SCRIPT not in css and headers["Cache-Control"] == "no-store"
    status, headers, script = get(port, SCRIPT)
    assert status == 200 and "EventSource" in script
    status, headers, styles = get(port, STYLES)
    assert status == 200 and headers["Content-Type"] == "text/css; charset=utf-8"
    assert "#clinsite-dev-overlay{position:fixed" in styles


def test_a_new_file_is_built(served):
    server, root, _ = served
    events = EventStream(server.port)
    try:
        events.next()
        edit(root / "content/summaries/fresh.md", summary(title="A fresh question?"), events)
        status, _, page = get(server.port, "/summaries/fresh/")
        assert status == 200 and "A fresh question?" in page
    finally:
        events.close()


def page_inode(out: Path, name: str) -> int:
    return (out / "summaries" / name / "index.html").stat().st_ino


def test_the_preview_is_kept_in_the_cache_and_rebuilt_incrementally(
        make_site: Callable[..., Path]):
    root = make_site({"content/summaries/p.md": summary(title="Is it kept?")})
    log = io.StringIO()
    # Not bound: the port, so base_url, is the same for both servers.
    server = DevServer(root, 8765, stream=log)
    try:
        status = server.rebuild()
        preview = root / ".clinsite-cache/serve/site"
        assert server.kept and status.site == preview and not status.failed
        assert not (root / "site").exists()  # the user's site/ is not touched
        assert (root / ".clinsite-cache/.gitignore").read_text() == "*\n"
        assert (root / ".clinsite-cache/serve/cache/manifest.pickle").is_file()
        assert not (root / ".clinsite-cache/serve/cache/stamp.pickle").exists()  # (unused)
        page = (preview / "summaries/q/index.html").read_text("utf-8")
        assert SCRIPT not in page  # the reload script exists only in responses
        assert 'href="http://127.0.0.1:8765/summaries/q/"' in page  # base_url: the preview's
        kept, edited = page_inode(preview, "p"), page_inode(preview, "q")

        (root / "content/summaries/q.md").write_text(summary(title="Edited?"), "utf-8")
        status = server.rebuild()
        assert status.site == preview and not status.failed
        assert "Edited?" in (preview / "summaries/q/index.html").read_text("utf-8")
        assert page_inode(preview, "p") == kept  # not rendered again: the same file
        assert page_inode(preview, "q") != edited
        edited = page_inode(preview, "q")
    finally:
        server.stop()
    assert (preview / "summaries/q/index.html").is_file()  # kept after stopping

    again = DevServer(root, 8765, stream=log)  # the next run starts from it
    try:
        status = again.rebuild()
        assert again.kept and status.site == preview and not status.failed
        assert (page_inode(preview, "p"), page_inode(preview, "q")) == (kept, edited)
    finally:
        again.stop()
    assert log.getvalue().count("Built 9 pages in ") == 3


def test_rebuilds_take_the_cache_from_memory_and_equal_a_clean_build(
        make_site: Callable[..., Path], tmp_path: Path, unpickled: list[Path]):
    root = make_site({f"content/summaries/s{i}.md": summary(title=f"S{i}?") for i in range(6)})
    server = DevServer(root, 8765, stream=io.StringIO())
    try:
        assert not server.rebuild().failed
        edits = [("content/summaries/s1.md", summary("New claim [@smith2018].\n", title="S1?")),
                 ("content/summaries/s9.md", summary(title="Added?")),
                 ("references/refs.bib", (root / "references/refs.bib").read_text("utf-8")
                  .replace("{A trial of things}", "{A renamed trial}"))]
        for rel, text in edits:
            (root / rel).write_text(text, "utf-8")
            unpickled.clear()
            assert not server.rebuild([rel]).failed
            # The document buckets and the manifest's parts are the ones the last build
            # wrote: taken from memory, not unpickled again.
            assert not [path for path in unpickled if path.parent.name in ("documents", "manifest")
                        or path.name == "output-trees.pickle"]
    finally:
        server.stop()
    clean = tmp_path / "clean"
    assert build(BuildOptions(root=root, out=clean, base_url=server.url, cache=False)).ok
    files = sorted(p.relative_to(clean).as_posix() for p in clean.rglob("*") if p.is_file())
    preview = root / ".clinsite-cache/serve/site"
    assert files == sorted(p.relative_to(preview).as_posix()
                           for p in preview.rglob("*") if p.is_file())
    for rel in files:
        assert (preview / rel).read_bytes() == (clean / rel).read_bytes(), rel
    assert "A renamed trial" in (preview / "summaries/s1/index.html").read_text("utf-8")


def test_a_second_server_of_the_same_root_builds_in_a_temporary_folder(
        make_site: Callable[..., Path]):
    root = make_site()
    first = DevServer(root, 8765, stream=io.StringIO())
    shutil.rmtree(root / ".clinsite-cache")  # (the lock is not in it)
    log = io.StringIO()
    second = DevServer(root, 0, stream=log)
    try:
        assert first.kept and not second.kept
        second.bind()
        thread = threading.Thread(target=second.run, daemon=True)
        thread.start()
        wait_for(lambda: second.live.status.site is not None)
        site = second.live.status.site
        assert site is not None and not site.is_relative_to(root)
        assert get(second.port, "/summaries/q/")[0] == 200
        assert ("Another clinsite serve is previewing this site: this server builds in a "
                "temporary folder, from scratch, and deletes it when it stops.\n") in \
            log.getvalue()
    finally:
        second.stop()
        thread.join(timeout=10)
        first.stop()
    assert not site.parent.exists()  # the temporary folder is deleted
    assert not (root / ".clinsite-cache/serve/site").exists()  # the first never built
    third = DevServer(root, 8765, stream=io.StringIO())  # the lock went with `first`
    third.stop()
    assert third.kept


def _one_build(root: Path, port: int, log: io.StringIO | None = None) -> BuildStatus:
    """What a server's first build gives, the server stopped after it."""
    server = DevServer(root, port, stream=log if log is not None else io.StringIO())
    try:
        return server.rebuild()
    finally:
        server.stop()


def test_a_failed_first_build_serves_the_last_runs_preview(make_site: Callable[..., Path]):
    root = make_site()
    good = _one_build(root, 8765)
    (root / "content/summaries/q.md").write_text(summary("Claim [@nokey].\n"), "utf-8")
    log = io.StringIO()
    status = _one_build(root, 8765, log)
    assert status.failed and status.site == good.site
    assert "content/summaries/q.md:7:9: error: unknown citation key 'nokey'" in log.getvalue()
    assert "still serving the last good build." in log.getvalue()
    assert "Yes" in (good.site / "summaries/q/index.html").read_text("utf-8")
    # Made for another address (its absolute links point there): not served.
    log = io.StringIO()
    status = _one_build(root, 8766, log)
    assert status.failed and status.site is None
    assert "nothing to serve yet." in log.getvalue()


def test_serve_and_build_keep_their_own_caches(make_site: Callable[..., Path]):
    """A preview does not undo `build`'s cache: the next build of site/ has nothing to do."""
    root = make_site()
    assert build(BuildOptions(root=root)).ok
    before = page_inode(root / "site", "q")
    manifest = (root / ".clinsite-cache/manifest.pickle").stat()
    assert not _one_build(root, 8765).failed
    assert (root / ".clinsite-cache/manifest.pickle").stat().st_mtime_ns == \
        manifest.st_mtime_ns
    result = build(BuildOptions(root=root))
    assert result.ok and result.written
    assert page_inode(root / "site", "q") == before  # reused: nothing was rendered


def recording(jobs: list[int | None]) -> Callable[[BuildOptions], BuildResult]:
    """A builder that builds, noting each build's `jobs`."""
    def builder(options: BuildOptions) -> BuildResult:
        jobs.append(options.jobs)
        return build(options)

    return builder


def test_only_a_build_while_the_server_has_no_thread_may_use_worker_processes(
        make_site: Callable[..., Path], monkeypatch: pytest.MonkeyPatch):
    jobs: list[int | None] = []
    server = DevServer(make_site(), 8765, builder=recording(jobs), stream=io.StringIO())
    try:
        monkeypatch.setattr(threading, "active_count", lambda: 1)
        server.rebuild()  # (as in `run`, before the watcher and the HTTP server start)
        monkeypatch.setattr(threading, "active_count", lambda: 3)
        server.rebuild()
    finally:
        server.stop()
    assert jobs == [None, 1]  # None: one worker a core


def test_a_site_wide_change_is_built_in_a_process_of_its_own(
        make_site: Callable[..., Path], monkeypatch: pytest.MonkeyPatch):
    """A change to the settings, or to a template more than FEW_PAGES pages used, is built
    in a spawned process with workers; an edit, an asset or a template few pages used is
    built here, without workers."""
    from clinsite import pipeline, serve

    here: list[int | None] = []
    monkeypatch.setattr(serve, "pipeline_build", recording(here))  # (not in a spawned one)
    root = make_site()
    server = DevServer(root, 8765, stream=io.StringIO())
    busy = threading.Event()
    other = threading.Thread(target=busy.wait, daemon=True)  # as the watcher's threads are
    other.start()
    preview = root / ".clinsite-cache/serve/site"
    try:
        assert not server.rebuild(["content/summaries/q.md"]).failed
        assert here == [1]  # incremental, in the server's process
        (root / "templates/assets").mkdir(parents=True, exist_ok=True)
        (root / "templates/assets/extra.css").write_text("p { color: teal }", "utf-8")
        assert not server.rebuild(["templates/assets/extra.css"]).failed
        assert here == [1, 1] and (preview / "assets/extra.css").is_file()
        theme = (REPO / "clinsite/theme/templates/summary.html").read_text("utf-8")
        (root / "templates/summary.html").write_text(theme.replace(
            "{% block main %}", "{% block main %}<p>From a template.</p>", 1), "utf-8")
        assert not server.rebuild(["templates/summary.html"]).failed
        assert here == [1, 1, 1]  # one page used it: built here
        assert "<p>From a template.</p>" in \
            (preview / "summaries/q/index.html").read_text("utf-8")
        monkeypatch.setattr(pipeline, "FEW_PAGES", 0)
        (root / "templates/summary.html").write_text(theme.replace(
            "{% block main %}", "{% block main %}<p>Again.</p>", 1), "utf-8")
        assert not server.rebuild(["templates/summary.html"]).failed
        assert here == [1, 1, 1]  # more than FEW_PAGES: not built here
        assert "<p>Again.</p>" in (preview / "summaries/q/index.html").read_text("utf-8")
        config = root / "site.yaml"
        config.write_text(config.read_text("utf-8") + "\n", "utf-8")
        assert not server.rebuild(["site.yaml"]).failed
        assert here == [1, 1, 1]  # the settings: not built here
    finally:
        busy.set()
        server.stop()


def test_which_changes_are_site_wide(make_site: Callable[..., Path],
                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from clinsite import pipeline
    from clinsite.pipeline import site_wide

    root = make_site()
    assert build(BuildOptions(root=root)).ok
    folder = root / ".clinsite-cache"
    assert site_wide(["site.yaml"], folder) and site_wide(["content/board.yaml"], folder)
    assert site_wide(["templates"], folder)  # (the folder itself: gone, say)
    assert not site_wide(["content/summaries/q.md", "templates/assets/site.css"], folder)
    for few, wide in ((100, False), (0, True)):  # the one summary used these
        monkeypatch.setattr(pipeline, "FEW_PAGES", few)
        assert site_wide(["templates/summary.html"], folder) is wide
        assert site_wide(["templates/base.html"], folder) is wide
    assert not site_wide(["templates/unused.html"], folder)  # used by no page
    assert site_wide(["templates/unused.html"], tmp_path / "no-cache")  # nothing known
    # An asset a template includes is a template of the pages that included it.
    theme = (REPO / "clinsite/theme/templates/base.html").read_text("utf-8")
    (root / "templates/assets").mkdir(parents=True, exist_ok=True)
    (root / "templates/assets/icon.svg").write_text("<svg></svg>", "utf-8")
    (root / "templates/base.html").write_text(theme.replace(
        "</main>", '{% include "assets/icon.svg" %}</main>', 1), "utf-8")
    assert build(BuildOptions(root=root)).ok
    assert site_wide(["templates/assets/icon.svg"], folder)  # (FEW_PAGES is 0 here)
    assert not site_wide(["templates/assets/site.css"], folder)


def test_a_build_after_a_failed_one_counts_what_changed_since_the_last_success(
        make_site: Callable[..., Path], monkeypatch: pytest.MonkeyPatch):
    """A failed build leaves the cache as the last success left it, so the next build
    renders what changed since then: `base.html` made to include a template that does not
    exist yet (the build fails), then that template created, is one change to base.html."""
    from clinsite import pipeline, serve

    here: list[int | None] = []
    monkeypatch.setattr(serve, "pipeline_build", recording(here))
    monkeypatch.setattr(pipeline, "FEW_PAGES", 0)
    root = make_site()
    server = DevServer(root, 8765, stream=io.StringIO())
    busy = threading.Event()
    other = threading.Thread(target=busy.wait, daemon=True)
    other.start()
    try:
        assert not server.rebuild(["content/summaries/q.md"]).failed
        assert here == [1]
        theme = (REPO / "clinsite/theme/templates/base.html").read_text("utf-8")
        (root / "templates/parts").mkdir(parents=True)
        (root / "templates/base.html").write_text(theme.replace(
            "</main>", '{% include "parts/note.html" %}</main>', 1), "utf-8")
        assert server.rebuild(["templates/base.html"]).failed  # (no such template yet)
        (root / "templates/parts/note.html").write_text("<p>A note.</p>", "utf-8")
        assert not server.rebuild(["templates/parts/note.html"]).failed
        assert here == [1]  # base.html, which the page used, changed since the last success
        assert "<p>A note.</p>" in \
            (root / ".clinsite-cache/serve/site/summaries/q/index.html").read_text("utf-8")
        (root / "templates/parts/note.html").write_text("<p>Another.</p>", "utf-8")
        assert not server.rebuild(["templates/parts/note.html"]).failed
        assert here == [1]  # the page used parts/note.html: more than FEW_PAGES (0)
        assert not server.rebuild(["content/summaries/q.md"]).failed
        assert here == [1, 1]  # the failure is behind: a page edit is built here again
    finally:
        busy.set()
        server.stop()


def test_a_change_whose_build_raised_is_counted_by_the_next(
        make_site: Callable[..., Path], monkeypatch: pytest.MonkeyPatch):
    from clinsite import pipeline

    monkeypatch.setattr(pipeline, "FEW_PAGES", 0)
    seen: list[bool] = []
    wide = pipeline.site_wide

    def raising(options: BuildOptions) -> BuildResult:
        if len(seen) == 3:  # (the third rebuild's)
            raise RuntimeError("a bug")
        return build(options)

    def noting(changed, folder):
        seen.append(wide(changed, folder))
        return seen[-1]

    monkeypatch.setattr("clinsite.serve.site_wide", noting)
    monkeypatch.setattr(threading, "active_count", lambda: 3)
    root = make_site()
    server = DevServer(root, 8765, builder=raising, stream=io.StringIO())
    try:
        server.rebuild(["content/summaries/q.md"])
        server.rebuild(["content/summaries/q.md"])
        assert server.rebuild(["templates/summary.html"]).failed  # the builder raised
        server.rebuild(["content/summaries/q.md"])
    finally:
        server.stop()
    assert seen == [False, False, True, True]  # summary.html still counted after the error


def test_a_change_during_the_first_build_is_caught_up(make_site: Callable[..., Path]):
    root = make_site()
    source = root / "content/summaries/q.md"
    results: list[BuildResult] = []

    def editing(options: BuildOptions) -> BuildResult:
        results.append(build(options))
        if len(results) == 1:  # saved while the first build runs: no watcher yet
            source.write_text(summary(title="Changed meanwhile?"), "utf-8")
        return results[-1]

    log = io.StringIO()
    server = DevServer(root, 0, builder=editing, stream=log)
    server.bind()
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(results) >= 2)
        wait_for(lambda: "Changed meanwhile?" in get(server.port, "/summaries/q/")[2])
    finally:
        server.stop()
        thread.join(timeout=10)
    assert "Files changed during the first build; rebuilding\n" in log.getvalue()


def test_stop_lets_a_build_finish_and_a_stopped_server_builds_nothing(
        make_site: Callable[..., Path]):
    root = make_site()
    started, go_on = threading.Event(), threading.Event()

    def slow(options: BuildOptions) -> BuildResult:
        started.set()
        go_on.wait(10)
        return build(options)

    server = DevServer(root, 8765, builder=slow, stream=io.StringIO())
    building = threading.Thread(target=server.rebuild, daemon=True)
    building.start()
    started.wait(10)
    stopping = threading.Thread(target=server.stop, daemon=True)
    stopping.start()
    time.sleep(0.3)
    assert stopping.is_alive()  # waits for the build: the preview is still this server's
    assert not DevServer(root, 8765, stream=io.StringIO()).kept
    go_on.set()
    building.join(10)
    stopping.join(10)
    assert not stopping.is_alive()
    with pytest.raises(ServeError, match="this server was stopped"):
        server.rebuild()
    after = DevServer(root, 8765, stream=io.StringIO())
    after.stop()
    assert after.kept

    with socket.socket() as busy:  # a failed bind stops the server too
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = DevServer(root, busy.getsockname()[1], stream=io.StringIO())
        with pytest.raises(ServeError, match="already in use"):
            server.bind()
    with pytest.raises(ServeError, match="this server was stopped"):
        server.rebuild()


def test_without_a_lock_the_server_builds_in_a_temporary_folder(
        make_site: Callable[..., Path], monkeypatch: pytest.MonkeyPatch):
    from clinsite import serve

    monkeypatch.setattr(serve, "fcntl", None)
    server = DevServer(make_site(), 8765, stream=io.StringIO())
    server.stop()
    assert not server.kept
    assert server.temporary_because == "This system cannot lock the preview folder"


def _probing_work(paths: list[str]) -> list[PageRecord]:
    """parallel._work, failing in a worker that kept its parent's SIGTERM handler."""
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        raise RuntimeError("the worker kept the parent's SIGTERM handler")
    return _REAL_WORK(paths)


_REAL_WORK = parallel._work


def test_forked_workers_do_not_inherit_serves_signal_handler(
        make_site: Callable[..., Path], monkeypatch: pytest.MonkeyPatch):
    """`serve` turns SIGTERM into KeyboardInterrupt, and a pool ends its workers with
    SIGTERM: a worker with that handler prints a traceback in the terminal (when the
    signal finds it waiting for work, a matter of timing), so the pool resets it."""
    from clinsite.cli import _interrupt

    monkeypatch.setattr(parallel, "_work", _probing_work)
    root = make_site({f"content/summaries/s{i}.md": summary(title=f"S{i}?") for i in range(130)})
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        assert build(BuildOptions(root=root, jobs=2, search=False)).ok  # (a pool of two)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_builder_can_be_dropped_in_and_a_crash_is_survived(make_site: Callable[..., Path]):
    calls: list[BuildOptions] = []

    def crashing(options: BuildOptions) -> BuildResult:
        calls.append(options)
        raise RuntimeError("boom")

    log = io.StringIO()
    server = DevServer(make_site(), 0, builder=crashing, stream=log)
    try:
        server.bind()
        status = server.rebuild()
    finally:
        server.stop()
    assert calls[0].base_url == server.url and calls[0].out is not None
    assert status.failed and status.site is None
    assert status.note == ("clinsite failed while building (RuntimeError: boom); "
                           "please report it")
    assert "<p>clinsite failed while building (RuntimeError: boom); please report it</p>" in \
        overlay(status)


def test_locate_maps_urls_to_files(tmp_path: Path):
    (tmp_path / "a/b").mkdir(parents=True)
    (tmp_path / "a/b/index.html").write_text("x")
    (tmp_path / "404.html").write_text("missing")
    assert locate(tmp_path, "/a/b/") == (200, tmp_path / "a/b/index.html")
    assert locate(tmp_path, "/a/b") == (301, None)
    assert locate(tmp_path, "/a/c/") == (404, tmp_path / "404.html")
    assert locate(tmp_path, "/../a/b/") == (404, tmp_path / "404.html")


def test_inject_and_overlay_escape_everything():
    status = BuildStatus("t-2", None, (error('x".md', 1, 2, "c<d", "<img src=x onerror=1>"),))
    html = inject(b"<html><BODY>page</BODY></html>", status).decode()
    assert html.endswith('<script src="/__clinsite/reload.js" data-build="t-2"></script>\n'
                         "</BODY></html>")
    assert "<img" not in html and "&lt;img src=x onerror=1&gt;" in html
    assert "x&quot;.md:1:2" in html and "[c&lt;d]" in html
    assert "No build has succeeded yet." in html
    assert inject(b"no body", BuildStatus("t-1", None)) == (
        b'no body<script src="/__clinsite/reload.js" data-build="t-1"></script>\n')


def test_a_busy_port_is_one_clear_line(make_site: Callable[..., Path], runner: CliRunner):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(cli, ["serve", "--root", str(make_site()), "--port", str(port)])
    assert result.exit_code == 2
    assert result.output == (f"Error: port {port} on 127.0.0.1 is already in use (another "
                             "clinsite serve?); stop it or choose another with --port N\n")


def test_ctrl_c_stops_cleanly(make_site: Callable[..., Path], tmp_path: Path):
    root = make_site()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "clinsite", "serve", "--root", str(root),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True)
    reader.start()
    try:
        first = lines.get(timeout=60)
        assert first.startswith(f"Serving {root} at http://127.0.0.1:")
        port = int(first.rsplit(":", 1)[1].split("/")[0])
        built = lines.get(timeout=60)
        assert built.startswith("Built "), built
        assert get(port, "/summaries/q/")[0] == 200
        assert (root / ".clinsite-cache/serve/site/summaries/q/index.html").is_file()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    reader.join(timeout=5)
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert rest == ["Stopped.\n"]
    assert not any(scratch.iterdir())  # nothing left in the temporary folder
    kept = DevServer(root, 0, stream=io.StringIO())  # the preview's lock went with it
    kept.stop()
    assert kept.kept


CHROMIUM = Path("/usr/bin/chromium")  # Debian's; .ci/run installs it (never a download)

# Run in a child process: Playwright's sync API cannot start while another test's
# browser session (tests/browser/) is open in this process.
BROWSER_SCRIPT = r"""
import json, sys, time
from pathlib import Path
from playwright.sync_api import sync_playwright

url, source, ok_text, broken_text = sys.argv[1:5]
args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
seen = {}

def wait(check):
    deadline = time.monotonic() + 20
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(json.dumps({**seen, "timeout": True}))
        time.sleep(0.05)

with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=args)
    page = browser.new_page()
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(url)
    heading = page.locator("h1").first
    seen["first"] = heading.inner_text()
    Path(source).write_text(ok_text, encoding="utf-8")
    wait(lambda: heading.inner_text() != seen["first"])  # reloaded by itself
    seen["reloaded"] = heading.inner_text()
    Path(source).write_text(broken_text, encoding="utf-8")
    panel = page.locator("#clinsite-dev-overlay")
    panel.wait_for(state="visible", timeout=20000)
    seen["position"] = panel.evaluate("e => getComputedStyle(e).position")
    seen["panel"] = panel.inner_text()
    seen["under"] = heading.inner_text()
    page.click("#clinsite-dev-overlay-close")
    seen["hidden"] = not panel.is_visible()
    seen["console"] = console
    browser.close()
print(json.dumps(seen))
"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_a_browser_tab_reloads_and_shows_the_overlay(served):
    """The script works in a real browser under the theme's Content-Security-Policy."""
    server, root, _ = served
    source = root / "content/summaries/q.md"
    done = subprocess.run(
        [sys.executable, "-c", BROWSER_SCRIPT, server.url + "summaries/q/", str(source),
         summary(title="Edited while open?"), summary("Claim [@nope2020].\n", title="Broken")],
        capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout)
    assert seen["first"] == "Does it work?"
    assert seen["reloaded"] == "Edited while open?"  # no manual reload
    assert seen["position"] == "fixed"  # the overlay's stylesheet loaded under the CSP
    assert "unknown citation key 'nope2020'" in seen["panel"]
    assert seen["under"] == "Edited while open?"  # the last good page stays
    assert seen["hidden"] is True
    assert seen["console"] == []  # no CSP violation, no script error
