"""Sub-path hosting: every internal link works when the site is served under a deep path."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

from clinsite.cli import cli
from tests.conftest import REPO
from tests.serving import serve

SUB = "/deep/sub/path/"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id":
                self.ids.add(value)
            if name in ("href", "src", "action"):
                self.links.append((tag, name, value))


def parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def test_every_internal_link_works_under_a_deep_sub_path(tmp_path: Path, runner):
    out = tmp_path / "build"
    result = runner.invoke(cli, ["build", "--root", str(REPO), "--out", str(out), "-q",
                                 "--base-url", "https://example.org" + SUB])
    assert result.exit_code == 0, result.output
    www = tmp_path / "www"
    shutil.copytree(out, www / SUB.strip("/"))
    broken: list[str] = []
    foreign: list[str] = []
    with serve(www) as origin:
        start = origin + SUB
        queue, seen, pages = [start], {start}, {}
        while queue:
            url = queue.pop()
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    body = response.read()
                    kind = response.headers.get_content_type()
            except urllib.error.HTTPError as exc:
                broken.append(f"{url} ({exc.code})")
                continue
            if kind != "text/html":
                continue
            page = parse(body.decode("utf-8"))
            pages[url] = page
            for tag, attr, value in page.links:
                target = urljoin(url, value)
                parts = urlsplit(target)
                if parts.scheme in ("mailto",):
                    continue
                if parts.netloc != urlsplit(origin).netloc:
                    loads = tag in ("script", "img", "iframe") or (tag == "link" and
                                                                    attr == "href")
                    if loads and not target.startswith("https://example.org" + SUB):
                        foreign.append(f"{url}: <{tag} {attr}={value}>")
                    continue
                assert parts.path.startswith(SUB), f"{url} links outside the sub-path: {value}"
                plain, _ = urldefrag(target)
                if plain not in seen:
                    seen.add(plain)
                    queue.append(plain)
        # Every fragment link points at an element that exists.
        for url, page in pages.items():
            for _, _, value in page.links:
                target, fragment = urldefrag(urljoin(url, value))
                if fragment and target in pages and fragment not in pages[target].ids:
                    broken.append(f"{url}: #{fragment} not found in {target}")
    assert broken == []
    assert foreign == []
    assert len(pages) >= 15, sorted(pages)
    assert any(u.endswith(SUB + "search/") for u in pages)
