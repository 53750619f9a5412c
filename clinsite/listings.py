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
    pages: tuple[CitingPage, ...] = field(repr=False)  # (the memo key has them as pages_html)
    pages_html: Markup  # `pages` as links from the references index (cited_on_html)


def cited_on_html(pages: tuple[CitingPage, ...], root: str, links: dict[str, str]) -> Markup:
    """The "Cited on:" links of one references-index entry. Built here rather than looped
    over in the template: at 10,000 pages the index links 100,000 citing places, and in
    Jinja each costs several escapes. `links`: each page's link by URL, shared by entries."""
    parts = []
    for page in pages:
        link = links.get(page.url)
        if link is None:
            link = links[page.url] = (f'<a href="{escape(root)}{escape(page.url)}">'
                                      f'{escape(page.title)}</a>')
        parts.append(f"{link} ({page.count}×)")
    return Markup("; ".join(parts))


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
    """Every cited reference, in Vancouver-text order, with the pages citing it."""
    citing: dict[str, list[CitingPage]] = {}
    # Pages in the order each entry lists them (title, then URL), so that no entry's list
    # needs sorting: 100,000 citing places at 10,000 pages.
    for doc in sorted(docs, key=lambda d: (d.title.lower(), d.url)):
        for cited in records[doc.path].references:
            citing.setdefault(cited.key, []).append(
                CitingPage(doc.title, doc.url, len(cited.backlinks)))
    entries = []
    root, links = root_prefix("references/"), dict[str, str]()
    for key, pages in citing.items():
        ref = store.get(key)
        ordered = tuple(pages)
        entries.append(IndexEntry(key, reference_anchor(key), Markup(ref.html), ref.kind,
                                  ref.kind_label, ordered, cited_on_html(ordered, root, links)))
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
