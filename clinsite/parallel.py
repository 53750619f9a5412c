"""Documents -> composed, rendered and written pages, across worker processes.

The hot loop of a build. Workers are forked after everything is loaded, so
each inherits the content, the reference store (already formatted), the
Markdown parser and the compiled templates instead of receiving them; each
returns only a small `PageRecord` per page, and writes its pages itself, so
memory does not grow with the site.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

from clinsite import citeformats, search
from clinsite.compose import CitedReference, ComposedPage, LinkTargets, compose_document
from clinsite.diagnostics import Diagnostic
from clinsite.models import Document, Drug, Summary
from clinsite.persist import frozen_gc
from clinsite.references import Reference, ReferenceStore
from clinsite.render import Renderer, TemplateFailure
from clinsite.views import plain_text
from clinsite.writer import SiteWriter

# Smallest share of pages worth a process of its own: below it, forking costs more
# than it saves.
MIN_PAGES_PER_WORKER = 64


@dataclass(frozen=True, slots=True)
class PageRecord:
    """What the rest of the build needs to know about one rendered document."""

    path: str
    references: tuple[CitedReference, ...]
    links: tuple[str, ...]
    summary: str  # the bottom line (or the start of the body) as plain text
    diagnostics: tuple[Diagnostic, ...]
    outputs: tuple[str, ...]  # files written for it, relative to the output folder
    indexed_digest: str = ""  # of what the search index sees of its index.html
    # The templates its render loaded (Renderer.recording): what it depends on of the theme
    templates: tuple[str, ...] = ()
    # Outputs the live output already held exactly and that were kept (SiteWriter.write):
    # not new in this build's tree (for the writer's journal)
    kept: tuple[str, ...] = ()


@dataclass(slots=True)
class Shared:
    """Everything a worker reads; set in the parent before forking."""

    md: MarkdownIt
    docs: dict[str, Document]
    store: ReferenceStore
    targets: LinkTargets
    renderer: Renderer
    writer: SiteWriter | None
    views: bool = False  # write each page's search view (clinsite.search.VIEWS)


_SHARED: Shared | None = None


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def render_document(shared: Shared, doc: Document) -> PageRecord:
    """Compose, render and write one document (in whichever process runs it)."""
    composed = compose_document(shared.md, doc, shared.store, shared.targets)
    diagnostics = list(composed.diagnostics)
    outputs: list[str] = []
    kept: tuple[str, ...] = ()
    indexed = ""
    renderer = shared.renderer
    try:
        with renderer.recording() as used:
            html = renderer.render_document(doc, composed)
    except TemplateFailure as exc:
        diagnostics.append(exc.diagnostic)
    else:
        files = {doc.url + "index.html": html}
        if isinstance(doc, (Summary, Drug)):
            citation = shared.renderer.ctx.citation(doc)
            files[doc.url + "cite.bib"] = citeformats.bibtex(citation)
            files[doc.url + "cite.ris"] = citeformats.ris(citation)
            files[doc.url + "cite.json"] = citeformats.csl_json(citation)
        if shared.writer is not None:
            kept = tuple(rel for rel, text in files.items()
                         if not shared.writer.write(rel, text))
        outputs = list(files)
        view, indexed = search.indexed(html)
        if shared.writer is not None and shared.views:
            search.write_view(shared.writer.tmp, outputs[0], view)
    return PageRecord(doc.path, composed.references, composed.links, _summary_text(composed),
                      tuple(diagnostics), tuple(outputs), indexed, renderer.used_templates(used),
                      kept)


def _summary_text(composed: ComposedPage) -> str:
    html = composed.bottom_line[0][1] if composed.bottom_line else composed.body_html
    return plain_text(html)


def _work(paths: Sequence[str]) -> list[PageRecord]:
    shared = _SHARED
    assert shared is not None, "workers are forked after the shared state is set"
    return [render_document(shared, shared.docs[path]) for path in paths]


def _format(keys: Sequence[str]) -> dict[str, Reference]:
    shared = _SHARED
    assert shared is not None
    return {key: shared.store.get(key) for key in keys}


# Rendering a page allocates tens of thousands of short-lived objects (markdown-it's
# tokens), and the cyclic collector would otherwise run every 700 of them, walking
# objects that live for the whole build: about 15% of compose time. Those are frozen
# out of its reach before the workers fork (which also keeps their memory pages
# shared), and the collector runs less often while pages are rendered.
_PAGE_LOOP_GC = (20_000, 20, 20)


def _page_loop_gc() -> contextlib.AbstractContextManager[None]:
    return frozen_gc(_PAGE_LOOP_GC)


def _chunks(items: Sequence[str], count: int) -> list[list[str]]:
    """`count` interleaved shares, so long and short pages spread evenly."""
    return [list(items[i::count]) for i in range(count) if items[i::count]]


def _pool_size(items: int, jobs: int) -> int:
    return max(1, min(jobs, items // MIN_PAGES_PER_WORKER))


def _fork_context(size: int) -> Any:
    """multiprocessing's "fork" context for a pool of `size`, or None: one process will
    do, or the platform cannot fork. (multiprocessing is imported only here: an edit
    build renders its few pages in the build's own process.)"""
    if size <= 1:
        return None
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork")


def _quiet_worker() -> None:
    """A worker ends quietly when its pool ends it (SIGTERM), whatever the parent made of
    that signal (`clinsite serve` turns it into KeyboardInterrupt, which a forked worker
    would print as a traceback)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run(shared: Shared, docs: Iterable[Document], keys: Iterable[str], jobs: int,
        progress: Callable[[str], None] | None = None) -> list[PageRecord]:
    """Format `keys` once each, then build `docs`; in `jobs` processes where it pays."""
    with _page_loop_gc():
        return _run(shared, docs, keys, jobs, progress)


def _run(shared: Shared, docs: Iterable[Document], keys: Iterable[str], jobs: int,
         progress: Callable[[str], None] | None) -> list[PageRecord]:
    global _SHARED
    paths = [doc.path for doc in docs]
    pending = sorted(k for k in set(keys) if k in shared.store and not shared.store.is_formatted(k))
    _SHARED = shared
    try:
        size = _pool_size(len(pending), jobs)
        forking = _fork_context(size)
        if forking is not None:
            with forking.Pool(size, _quiet_worker) as pool:
                for part in pool.map(_format, _chunks(pending, size)):
                    shared.store.preload(part)  # each cited reference formatted once
        for key in pending:
            shared.store.get(key)  # (no-op for those the workers formatted)
        size = _pool_size(len(paths), jobs)
        forking = _fork_context(size)
        records: list[PageRecord] = []
        if forking is not None:  # forked after formatting: the workers inherit the store
            with forking.Pool(size, _quiet_worker) as pool:
                # Small shares, taken as they finish: the progress bar moves steadily.
                for done in pool.imap_unordered(_work, _chunks(paths, size * 8)):
                    records.extend(done)
                    for record in done:
                        if progress is not None:
                            progress(record.path)
        else:
            for path in paths:
                records.append(render_document(shared, shared.docs[path]))
                if progress is not None:
                    progress(path)
    finally:
        _SHARED = None
    return sorted(records, key=lambda r: r.path)
