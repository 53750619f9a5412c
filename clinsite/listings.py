"""Site-wide listing views: the references index, tag pages and the home page.

Built from collected metadata (titles, tags, which page cites which key and
how often), never by re-reading pages, so they grow linearly with the site.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
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


def reference_index(docs: Iterable[Document], records: Mapping[str, HasReferences],
                    store: ReferenceStore) -> tuple[IndexEntry, ...]:
    """Every cited reference, in Vancouver-text order, with the pages citing it. Built
    here rather than looped over in the template: at 10,000 pages the index links 100,000
    citing places, and in Jinja each costs several escapes; here each page's link is made
    once."""
    rows: dict[str, list[tuple[str, str, int]]] = {}
    cited_on: dict[str, list[str]] = {}
    root = escape(root_prefix("references/"))
    # Pages in the order each entry lists them (title, then URL), so that no entry's list
    # needs sorting.
    for doc in sorted(docs, key=lambda d: (d.title.lower(), d.url)):
        title, url = doc.title, doc.url
        link = f'<a href="{root}{escape(url)}">{escape(title)}</a> ('
        for cited in records[doc.path].references:
            count = len(cited.backlinks)
            rows.setdefault(cited.key, []).append((title, url, count))
            cited_on.setdefault(cited.key, []).append(f"{link}{count}×)")
    entries = []
    for key, pages in rows.items():
        ref = store.get(key)
        entries.append(IndexEntry(key, reference_anchor(key), Markup(ref.html), ref.kind,
                                  ref.kind_label, tuple(pages),
                                  Markup("; ".join(cited_on[key]))))
    return tuple(sorted(entries, key=lambda e: (store.get(e.key).text.lower(), e.key)))


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
