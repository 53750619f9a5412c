"""Site-wide listing views: the references index, tag pages and the home page.

Built from collected metadata (titles, tags, which page cites which key and
how often), never by re-reading pages, so they grow linearly with the site.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from markupsafe import Markup, escape

from clinsite.compose import CitedReference, root_prefix
from clinsite.models import Document, Drug, Summary
from clinsite.references import ReferenceStore
from clinsite.views import reference_anchor


class HasReferences(Protocol):
    @property
    def references(self) -> tuple[CitedReference, ...]: ...


@dataclass(frozen=True, slots=True)
class CitingPage:
    title: str
    url: str
    count: int  # how many places on that page cite the reference


@dataclass(frozen=True, slots=True)
class IndexEntry:
    key: str
    anchor: str
    html: Markup
    kind: str
    kind_label: str
    rows: tuple[tuple[str, str, int], ...] = field(repr=False)  # (title, URL, count) of
    # each citing page (the memo key has them as pages_html)
    pages_html: Markup  # the citing pages as links from the references index

    @property
    def pages(self) -> tuple[CitingPage, ...]:
        """The pages citing the reference, in the order `pages_html` lists them."""
        return tuple(CitingPage(*row) for row in self.rows)


@dataclass(frozen=True, slots=True)
class ListingView:
    title: str
    url: str
    status: str
    status_label: str
    updated: dt.date
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TagView:
    name: str
    url: str
    summaries: tuple[ListingView, ...]


Row = tuple[str, str, int]  # (title, URL, count) of a page citing a reference


@dataclass(frozen=True, slots=True)
class CitingIndex:
    """Which pages cite each reference, as the references index lists them: kept in the
    build cache, so that an edit build redoes only the references its changed pages cite
    (at 10,000 pages the index links 100,000 citing places)."""

    pages: Mapping[str, tuple[str, tuple[str, ...]]]  # path -> (URL, the keys it cites)
    cited: Mapping[str, tuple[tuple[Row, ...], str, str]]  # key -> (rows in the index's
    # order, their links as HTML, a digest of those)


def citing_index(docs: Iterable[Document], records: Mapping[str, HasReferences],
                 previous: CitingIndex | None = None,
                 changed: Collection[str] = ()) -> CitingIndex:
    """Which pages cite each reference. Given `previous` (the index of the build whose
    records `records` holds, except those of the `changed` paths: the pages rendered again,
    which for the build are every drug page too), only the references the changed, added
    and removed pages cite (or cited) are listed again; `previous` itself when that changes
    nothing. Relies on URLs being unique among pages (clinsite.resolve's slug check)."""
    by_path = {doc.path: doc for doc in docs}
    if previous is None:
        previous = CitingIndex({}, {})
        touched: Collection[str] = by_path.keys()
    else:
        touched = {*changed, *(previous.pages.keys() - by_path.keys())}
    if not touched:
        return previous
    pages = dict(previous.pages)
    gone: set[str] = set()  # URLs whose rows are listed again (or not at all)
    added: dict[str, list[Row]] = {}
    for path in touched:
        old = pages.pop(path, None)
        keys: set[str] = set()
        if old is not None:
            gone.add(old[0])
            keys.update(old[1])
        doc = by_path.get(path)
        if doc is not None:
            title, url = doc.title, doc.url
            cites = records[path].references
            pages[path] = (url, tuple([cited.key for cited in cites]))
            for cited in cites:
                added.setdefault(cited.key, []).append((title, url, len(cited.backlinks)))
        for key in keys:
            added.setdefault(key, [])
    by_key = dict(previous.cited)
    root = escape(root_prefix("references/"))
    same = pages == previous.pages
    for key, rows in added.items():
        old_rows = by_key[key][0] if key in by_key else ()
        rows.extend(row for row in old_rows if row[1] not in gone)
        # Pages in title order (then URL), as each entry lists them.
        rows.sort(key=lambda row: (row[0].lower(), row[1]))
        if tuple(rows) == old_rows:
            continue
        same = False
        if not rows:
            del by_key[key]
            continue
        html = "; ".join([f'<a href="{root}{escape(url)}">{escape(title)}</a> ({count}×)'
                          for title, url, count in rows])
        by_key[key] = (tuple(rows), html, _digest(html))
    return previous if same else CitingIndex(pages, by_key)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def reference_index(index: CitingIndex, store: ReferenceStore
                    ) -> tuple[tuple[IndexEntry, ...], str]:
    """Every cited reference, in Vancouver-text order, with the pages citing it; and a
    digest of all the entries show (what the references page's memo is keyed on)."""
    entries = []
    for key, (rows, html, _) in index.cited.items():
        ref = store.get(key)
        entries.append(IndexEntry(key, reference_anchor(key), Markup(ref.html), ref.kind,
                                  ref.kind_label, rows, Markup(html)))
    entries.sort(key=lambda e: (store.get(e.key).text.lower(), e.key))
    shown = hashlib.blake2b(digest_size=16)
    for entry in entries:
        shown.update(f"{entry.key}\0{entry.html}\0{entry.kind}\0{entry.kind_label}\0"
                     f"{index.cited[entry.key][2]}\1".encode())
    return tuple(entries), shown.hexdigest()


def listing(doc: Summary | Drug) -> ListingView:
    tags = doc.tags if isinstance(doc, Summary) else ()
    return ListingView(doc.title, doc.url, doc.review.status.value, doc.review.status.label,
                       doc.updated, tags)


def tag_url(tag: str) -> str:
    return f"tags/{tag}/"


def tag_views(summaries: Iterable[Summary]) -> tuple[TagView, ...]:
    """Each tag with its summaries, tags and summaries in alphabetical order."""
    grouped: dict[str, list[ListingView]] = {}
    for doc in summaries:
        for tag in doc.tags:
            grouped.setdefault(tag, []).append(listing(doc))
    return tuple(TagView(tag, tag_url(tag), tuple(sorted(items, key=_by_title)))
                 for tag, items in sorted(grouped.items()))


def _by_title(view: ListingView) -> tuple[str, str]:
    return (view.title.lower(), view.url)


def home_listings(summaries: Iterable[Summary], drugs: Iterable[Drug]
                  ) -> tuple[tuple[ListingView, ...], tuple[ListingView, ...],
                             tuple[ListingView, ...]]:
    """(all summaries by title, the ten most recently updated, drug monographs)."""
    items = tuple(sorted((listing(s) for s in summaries), key=_by_title))
    recent = tuple(sorted(items, key=lambda v: (v.updated, v.url), reverse=True)[:10])
    monographs = tuple(sorted((listing(d) for d in drugs), key=_by_title))
    return items, recent, monographs
