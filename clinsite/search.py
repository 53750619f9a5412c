"""The written pages -> an offline full-text search index (Pagefind).

Runs the Pagefind binary that the `pagefind_bin` package ships, on the
temporary output folder before it is swapped in, so a failed indexing fails
the build like any other step. Pages mark what is indexed
(`data-pagefind-body`) and their filters (tag, review status, kind).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from clinsite.diagnostics import Diagnostic, error

BUNDLE = "pagefind"
# A site's pages are indexed in shards: separate Pagefind indexes that the search
# page merges (Pagefind's `mergeIndex`). Pagefind holds every page of a run in
# memory (about 0.3-0.5 MB a page) and takes about 5 ms a page, so shards bound the
# memory of a build and let an edit re-index one shard (a third of a second at
# SHARD_PAGES) instead of the whole site. A site of up to ONE_INDEX_PAGES pages has one
# index; above that, the count is a power of two, so it changes (and every shard is
# re-indexed) only when the site doubles; MAX_SHARDS bounds what a reader's browser loads.
ONE_INDEX_PAGES = 200
SHARD_PAGES = 64
MAX_SHARDS = 32
# What a merged (non-primary) shard needs: its entry, meta, index chunks, fragments and
# filters. The UI scripts and the WebAssembly live in the primary bundle only: Pagefind's
# `mergeIndex` starts a merged index with `load_wasm: false` on the primary's module, so a
# shard's own wasm files (140 KB a shard) would never be fetched.
_SHARD_FILES = ("pagefind-entry.json", "index", "fragment", "filter")


def shard_count(pages: int) -> int:
    """How many index shards a site of `pages` indexed pages has."""
    if pages <= ONE_INDEX_PAGES:
        return 1
    count = 2
    while count < MAX_SHARDS and pages > count * SHARD_PAGES:
        count *= 2
    return count


def shard_dir(index: int) -> str:
    """The bundle folder of shard `index`, relative to the output (0: the primary)."""
    return BUNDLE if index == 0 else f"{BUNDLE}/shard-{index}"


def assign_shards(pages: Iterable[str]) -> list[list[str]]:
    """The indexed pages (HTML files relative to the output) grouped into shards,
    by a stable hash of each path: a page stays in its shard as others come and go.
    (Should a shard come out empty, which hashing makes all but impossible above a few
    pages a shard, there are half as many.)"""
    pages = sorted(pages)
    hashes = [int.from_bytes(hashlib.blake2b(page.encode(), digest_size=8).digest(), "big")
              for page in pages]
    count = shard_count(len(pages))
    while True:
        shards: list[list[str]] = [[] for _ in range(count)]
        for page, hashed in zip(pages, hashes, strict=True):
            shards[hashed % count].append(page)
        if count == 1 or all(shards):
            return shards
        count //= 2


# --- what the index sees of a page -------------------------------------------------
# A shard is re-indexed when what Pagefind reads of one of its pages changed. It skips
# elements marked data-pagefind-ignore (the reference list, the disclaimer, "Cite this
# page", the history), attribute values other than its own (unless a page asks it to
# index some: data-pagefind-index-attrs) and the head's metadata, so a changed reference
# title — which re-renders every page citing it (reference list, citation tooltips,
# citation_reference tags) — need not re-index their shards. An ignored element that
# holds other Pagefind attributes (filters, metadata: processed even there), an <img> or
# an <h1> (a result's image and title) is kept, and anything that does not parse as
# expected is kept whole. The page without its ignored elements is also what Pagefind is
# handed (VIEWS), so a wrong guess here would change the index itself, not only when it
# is remade; the incremental == clean tests compare the index byte for byte, and a test
# compares an index made from views with one made from whole pages.

_IGNORE_ATTR = "data-pagefind-ignore"
_TAG_NAME = re.compile(r"<([a-zA-Z][\w-]*)[^<>]*>")
# One attribute of a start tag, its name in group 1 (HTML's attribute syntax). One
# separator before the name, not a run: a search tries each start once (linear).
_ATTRIBUTE = re.compile(
    r"""[\s/]([^\s"'>/=]++)(?:\s*+=\s*+(?:"[^"]*+"|'[^']*+'|[^\s"'=<>`]++))?+""")
_TOOLTIP = re.compile(r' title="[^"]*"')  # (a literal start: found by a fast scan)
# (Linear: no part can run past a "<", which the templates' escaping keeps out of tags.)
_HEAD_KEPT = re.compile(r"<html\b[^<>]*>|<title>[^<]*</title>|<[^<>]*\sdata-pagefind-[^<>]*>")
# The same for a head without a Pagefind attribute, the usual case: the last branch above
# tries every tag of the head (≈ 0.2 ms a page), to no avail there.
_HEAD_PLAIN = re.compile(r"<html\b[^<>]*>|<title>[^<]*</title>")


def indexed(html: str) -> tuple[str, str]:
    """The page as Pagefind is handed it (see `VIEWS`), and a digest of what it reads."""
    page = view = _without_ignored(html)
    if "data-pagefind-index-attrs" not in view:
        view = _TOOLTIP.sub("", view)
    head_end = view.find("</head>")
    if head_end >= 0:
        kept = _HEAD_KEPT if view.find("data-pagefind-", 0, head_end) >= 0 else _HEAD_PLAIN
        view = "".join(kept.findall(view, 0, head_end)) + view[head_end:]
    return page, hashlib.blake2b(view.encode(), digest_size=16).hexdigest()


# Pagefind is handed each page as the worker that rendered it saw it without its ignored
# elements (the reference list, the disclaimer, "Cite this page", the history: a third of
# a summary page's bytes): the index comes out byte for byte the same, in about 15% less
# of Pagefind's time (15 s of CPU at N = 2,000, a third of a clean build on two cores).
# The workers write these copies under VIEWS in the temporary output as they render
# (they make them for the digest anyway); a shard is staged from them, and from the
# pages themselves for the pages this build did not render (an edit build reuses most),
# so nothing is kept between builds. The folder goes before the output is committed.
VIEWS = ".clinsite-search-views"


def write_view(site_dir: Path, rel: str, page: str) -> None:
    """Keep `page`, the indexed view of output page `rel`, for staging; a view that
    cannot be written is left out (the page itself is staged instead)."""
    target = os.path.join(site_dir, VIEWS, rel)
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(page.encode("utf-8"))
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(target)  # (never a part of one)


def _without_ignored(html: str) -> str:
    """`html` without its data-pagefind-ignore elements (found by plain string search:
    a page has a handful, among a thousand tags)."""
    kept: list[str] = []
    pos = found = 0
    while (found := html.find(_IGNORE_ATTR, found)) >= 0:
        after = found + len(_IGNORE_ATTR)
        start = html.rfind("<", 0, found)
        tag = _TAG_NAME.match(html, start) if start >= 0 else None
        if tag is None or tag.end() <= found or not _ignores(html, tag):
            found = after  # not an attribute of a tag: words in a text or an attribute value
            continue
        if start < pos:
            found = after  # inside an element already left out
            continue
        end = _element_end(html, tag.group(1), tag.end())
        if end is None:
            return html  # not what our templates write: digest everything
        region = html[tag.end():end].lower()
        if "data-pagefind-" not in region and "<img" not in region and "<h1" not in region:
            # (Pagefind takes a result's image and title from the first <img> and <h1>
            # even inside an ignored element)
            kept.append(html[pos:start])
            pos = end
        found = after
    kept.append(html[pos:])
    return "".join(kept)


def _ignores(html: str, tag: re.Match[str]) -> bool:
    """Whether the tag has a data-pagefind-ignore attribute (by name: not the words
    in another attribute's value, such as a link's title)."""
    return any(attribute.group(1).lower() == _IGNORE_ATTR
               for attribute in _ATTRIBUTE.finditer(html, tag.end(1), tag.end() - 1))


def _element_end(html: str, name: str, start: int) -> int | None:
    """Where the element `name` opened just before `start` closes (same-name nesting)."""
    depth = 1
    for tag in re.compile(rf"<(/?){re.escape(name)}(?=[\s>/])[^<>]*>").finditer(html, start):
        if tag.group(1):
            depth -= 1
        elif not tag.group(0).endswith("/>"):
            depth += 1
        if depth == 0:
            return tag.end()
    return None


class Indexer:
    """Indexes each submitted shard in background threads (each waits on its Pagefind
    process), at most `jobs` at a time, while the build goes on. A shard's pages are
    staged (hard-linked) by `submit` itself, in the caller's thread: done in a background
    thread while the build's own thread renders the listings, each of its hundreds of
    system calls waited for the interpreter lock (up to 5 ms each: half a second for a
    300-page shard at N = 10,000)."""

    def __init__(self, site_dir: Path, jobs: int,
                 set_aside: Callable[[str], None] | None = None) -> None:
        self.site_dir = site_dir
        # How a shard's staging folder leaves `site_dir` once indexed (a name in it; by
        # default it is deleted): clinsite.writer.SiteWriter.set_aside
        self.set_aside = set_aside
        self.jobs = max(1, min(jobs, 4))
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: list[concurrent.futures.Future[Diagnostic | None]] = []
        self._failed: list[Diagnostic] = []
        self.indexed: list[int] = []  # the shards submitted

    def submit(self, index: int, pages: Sequence[str]) -> None:
        self.indexed.append(index)
        staging = _staging(self.site_dir, index)
        try:
            stage(self.site_dir, staging, pages)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            self._failed.append(_failure(exc))
            return
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(self.jobs, "pagefind")
        self._pending.append(self._pool.submit(_index_staged, self.site_dir, index, staging,
                                               self.set_aside))

    def wait(self) -> list[Diagnostic]:
        """The problems of every shard submitted so far, once all are done (all of them,
        even when one raised: none may still be writing when the build goes on)."""
        pending, failed = self._pending, self._failed
        self._pending, self._failed = [], []
        concurrent.futures.wait(pending)
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        return failed + [d for future in pending if (d := future.result()) is not None]


def stage(site_dir: Path, staging: Path, pages: Sequence[str]) -> None:
    """Hard-link (or copy) `pages`, files under `site_dir`, into `staging`: each page's
    view (`VIEWS`) where this build wrote one, else the page."""
    made: set[Path] = set()
    views = site_dir / VIEWS
    for rel in pages:
        target = staging / rel
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        source = views / rel
        if not source.is_file():
            source = site_dir / rel
        try:
            os.link(source, target)
        except OSError:  # a file system without hard links
            shutil.copyfile(source, target)


def _staging(site_dir: Path, index: int) -> Path:
    return site_dir / f".clinsite-search-{index}"


def _index_staged(site_dir: Path, index: int, staging: Path,
                  set_aside: Callable[[str], None] | None = None) -> Diagnostic | None:
    try:
        return index_site(staging, site_dir / shard_dir(index), primary=index == 0)
    except OSError as exc:
        return _failure(exc)
    finally:
        if set_aside is not None:
            set_aside(staging.name)
        else:
            shutil.rmtree(staging, ignore_errors=True)


def _failure(exc: OSError) -> Diagnostic:
    return error("site.yaml", 0, 0, "search-index", f"search indexing failed: {exc}")


def index_site(site_dir: Path, bundle: Path, *, primary: bool = True) -> Diagnostic | None:
    """Index the pages under `site_dir` into `bundle`; a diagnostic if it failed.
    A non-primary bundle keeps only its index files."""
    try:
        import pagefind_bin
    except ImportError:
        return error("site.yaml", 0, 0, "search-index",
                     "search needs the 'pagefind_bin' package: pip install pagefind_bin")
    try:
        done = subprocess.run(
            [str(pagefind_bin.get_executable()), "--site", str(site_dir),
             "--output-path", str(bundle), "--silent"],
            capture_output=True, text=True, timeout=600,
        )
    except (OSError, subprocess.TimeoutExpired, FileNotFoundError) as exc:
        return error("site.yaml", 0, 0, "search-index", f"search indexing failed: {exc}")
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        return error("site.yaml", 0, 0, "search-index",
                     f"search indexing failed: {detail[-1] if detail else done.returncode}")
    try:
        if not primary:
            for path in bundle.iterdir():
                if not (path.name in _SHARD_FILES or path.suffix == ".pf_meta"):
                    path.unlink()
        canonicalise(bundle)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        return error("site.yaml", 0, 0, "search-index",
                     f"search index has an unexpected layout ({exc}); "
                     "this clinsite supports Pagefind 1.x")
    return None


# --- reproducible output ---------------------------------------------------------
# Pagefind writes its filter indexes from hash maps, so the order of filter names
# and values (and so the bytes and file names) changes from run to run. SPEC §7
# promises a byte-identical site for the same inputs; `canonicalise` rewrites the
# filter files and the language meta file in sorted order under content hashes.
# The files are "pagefind_dcd" + CBOR (arrays, text, unsigned integers), gzipped.

_SIGNATURE = b"pagefind_dcd"


def canonicalise(bundle: Path) -> None:
    """Make the Pagefind bundle in `bundle` a function of its content only."""
    entry_file = bundle / "pagefind-entry.json"
    entry = json.loads(entry_file.read_text(encoding="utf-8"))
    for lang, info in sorted(entry.get("languages", {}).items()):
        meta_file = bundle / f"pagefind.{info['hash']}.pf_meta"
        meta = _read(meta_file)
        renamed = []
        for name, old in meta[3]:
            filter_file = bundle / "filter" / f"{old}.pf_filter"
            fname, values = _read(filter_file)
            data = _encode([fname, sorted(values, key=lambda v: v[0])])
            new = f"{lang}_{_digest(data)[:7]}"
            filter_file.unlink()
            _write(bundle / "filter" / f"{new}.pf_filter", data)
            renamed.append([name, new])
        meta[3] = sorted(renamed)
        data = _encode(meta)
        meta_file.unlink()
        info["hash"] = f"{lang}_{_digest(data)[:10]}"
        _write(bundle / f"pagefind.{info['hash']}.pf_meta", data)
    entry_file.write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")),
                          encoding="utf-8")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: Path) -> Any:
    raw = gzip.decompress(path.read_bytes())
    if not raw.startswith(_SIGNATURE):
        raise ValueError(f"{path.name}: not a Pagefind index file")
    value, _ = _decode(raw, len(_SIGNATURE))
    return value


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def _decode(data: bytes, pos: int) -> tuple[Any, int]:
    head = data[pos]
    major, info = head >> 5, head & 31
    pos += 1
    if info < 24:
        length = info
    elif info <= 27:
        size = 1 << (info - 24)
        length = int.from_bytes(data[pos:pos + size], "big")
        pos += size
    else:
        raise ValueError("unsupported CBOR item in Pagefind index")
    if major == 0:
        return length, pos
    if major == 3:
        return data[pos:pos + length].decode("utf-8"), pos + length
    if major == 4:
        items = []
        for _ in range(length):
            item, pos = _decode(data, pos)
            items.append(item)
        return items, pos
    raise ValueError("unsupported CBOR item in Pagefind index")


def _head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if length < 1 << (8 * size):
            return bytes([major << 5 | info]) + length.to_bytes(size, "big")
    raise ValueError("number too large for CBOR")


def _encode(value: Any) -> bytes:
    def item(v: Any) -> bytes:
        if isinstance(v, bool) or v is None:
            raise ValueError("unsupported value in Pagefind index")
        if isinstance(v, int):
            return _head(0, v)
        if isinstance(v, str):
            raw = v.encode("utf-8")
            return _head(3, len(raw)) + raw
        return _head(4, len(v)) + b"".join(item(x) for x in v)

    return _SIGNATURE + item(value)
