"""Page records -> the site's listings and machine files (stage 6 of the pipeline).

Document pages are written by `parallel`; this module writes everything else
a site consists of: the listings (home, tags, references index, board, search),
the machine-readable files and the theme's assets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from clinsite import feeds
from clinsite.config import SiteConfig
from clinsite.listings import (
    CitingIndex,
    TagView,
    citing_index,
    reference_index,
    tag_url,
    tag_views,
)
from clinsite.models import Content, Document, Drug, Summary
from clinsite.parallel import PageRecord
from clinsite.render import ListingMemo, Renderer, theme_assets
from clinsite.views import ViewContext
from clinsite.writer import SiteWriter


@dataclass(slots=True)
class Output:
    """Where rendered files go: the writer, or nowhere for `check`."""

    writer: SiteWriter | None
    pages: int = 0

    def write(self, rel: str, text: str) -> None:
        self.pages += rel.endswith(".html")
        if self.writer is not None:
            self.writer.write(rel, text)


def emit_listings(renderer: Renderer, content: Content, records: Mapping[str, PageRecord],
                  config: SiteConfig, output: Output, root: Path,
                  search_shards: Sequence[str] = (),
                  known_citing: tuple[CitingIndex, Collection[str]] | tuple[()] = ()
                  ) -> CitingIndex:
    """Render and write every file that is not a document page: listings, machine-readable
    files and assets. Built from the pages' records, never by re-reading pages.
    `search_shards`: the bundle folders the search page merges besides the primary.
    `known_citing`: the previous build's citing index and the paths whose records are
    not that build's (see listings.citing_index). Returns this build's citing index."""
    # The home, topics and tag pages show only what the summaries' and monographs' paths,
    # dates and front matter give (with the site-wide inputs, which gate the memo): their
    # memo key is a digest of those, far cheaper than the repr of their views, and an edit
    # to a page's text alone finds them all in the memo without building a view.
    listed = front_digest(content.summaries, content.drugs)
    built: list[tuple[TagView, ...]] = []

    def tags() -> tuple[TagView, ...]:
        if not built:
            built.append(tag_views(content.summaries))
        return built[0]

    site = renderer.site
    output.write("index.html", renderer.by_key(("index.html", site, listed), lambda: (
        renderer.render_home(content.summaries, content.drugs, tags()))))
    output.write("tags/index.html", renderer.by_key(("tags/index.html", site, listed),
                                                    lambda: renderer.render_tags(tags())))
    for name in sorted({tag for doc in content.summaries for tag in doc.tags}):
        url = tag_url(name)
        output.write(url + "index.html", renderer.by_key((url, site, listed), partial(
            _render_tag, renderer, tags, name)))
    citing = citing_index(content.all(), records, *known_citing)
    entries, shown = reference_index(citing, renderer.ctx.store)
    output.write("references/index.html", renderer.by_key(
        ("references/index.html", site, shown), lambda: renderer.render_references(entries)))
    output.write("board/index.html", renderer.render_board())
    if renderer.site.search:
        output.write("search/index.html", renderer.render_search(search_shards))
    output.write("404.html", renderer.render_not_found())
    _machine_files(content, records, config, renderer.ctx, output, renderer.memo, listed)
    if output.writer is not None:
        for rel, source in theme_assets(root):
            output.writer.copy(rel, source)
    return citing


def _render_tag(renderer: Renderer, tags: Callable[[], tuple[TagView, ...]], name: str) -> str:
    return renderer.render_tag(next(tag for tag in tags() if tag.name == name))


def front_digest(*groups: Iterable[Document]) -> str:
    """A digest of each document's path, date and front matter (the text before its body),
    group by group: what the listings built from Document fields depend on, besides the
    site-wide inputs (settings, "today"), from which a Document is made."""
    h = hashlib.blake2b(digest_size=16)
    for group in groups:
        for doc in group:
            text, body = doc.text, doc.body
            front = text[:len(text) - len(body)] if text.endswith(body) else text
            h.update(f"{doc.path}\0{doc.updated}\0{front}\0".encode())
        h.update(b"\1")
    return h.hexdigest()


def _machine_files(content: Content, records: Mapping[str, PageRecord], config: SiteConfig,
                   ctx: ViewContext, output: Output, memo: ListingMemo | None,
                   listed: str) -> None:
    """sitemap.xml, feed.xml, robots.txt and api/summaries.json (each through the listing
    memo, when the build keeps one). `listed`: front_digest of the summaries and drugs."""
    home = config.base_url

    def write(rel: str, make: Callable[[], str], *inputs: object) -> None:
        if memo is None:
            output.write(rel, make())
            return
        output.write(rel, memo.get((rel, inputs), make))

    def entry(doc: Summary | Drug, kind: str) -> feeds.FeedEntry:
        return feeds.FeedEntry(doc.title, home + doc.url, doc.updated,
                               records[doc.path].summary, kind)

    def summaries() -> list[feeds.FeedEntry]:
        return [entry(doc, "summary") for doc in content.summaries]

    def sitemap() -> str:
        everything = summaries() + [entry(doc, "drug") for doc in content.drugs] + [
            feeds.FeedEntry(p.title, home + p.url, p.updated, "", "page") for p in content.pages]
        newest = max((e.updated for e in everything), default=None)
        return feeds.sitemap(sorted(everything, key=lambda e: e.url), home, newest)

    # The feed and the sitemap show the documents' titles, URLs and dates (front matter,
    # paths, dates) and the summaries' bottom lines as rendered: keyed on a digest of those.
    pages = front_digest(content.pages)
    lines = hashlib.blake2b(digest_size=16)
    for doc in (*content.summaries, *content.drugs):
        lines.update(records[doc.path].summary.encode() + b"\0")
    shown = (listed, pages, lines.hexdigest())
    write("sitemap.xml", sitemap, shown, home)
    write("feed.xml", lambda: feeds.atom_feed(summaries(), title=config.title, home=home,
                                              publisher=config.publisher,
                                              language=config.language),
          shown, config.title, home, config.publisher, config.language)
    output.write("robots.txt", feeds.robots(home))
    def rows() -> list[feeds.SummaryRecord]:
        return [feeds.SummaryRecord(
            doc.slug, doc.title, home + doc.url, doc.updated, doc.review.status.value,
            doc.review.reviewers, doc.review.reviewed, doc.tags, doc.audience,
            tuple(doi for c in records[doc.path].references
                  if (doi := ctx.store.get(c.key).doi) is not None),
        ) for doc in content.summaries]

    # The API rows show front-matter fields and the DOIs of the references each summary
    # cites: keyed on the front matter, the cited keys in order and those entries' digests.
    cited = hashlib.blake2b(digest_size=16)
    keys: set[str] = set()
    for doc in content.summaries:
        order = [c.key for c in records[doc.path].references]
        keys.update(order)
        cited.update(("\0".join(order) + "\1").encode())
    for key in sorted(keys):
        cited.update(f"{key}\0{ctx.store.digest(key)}\0".encode())
    write("api/summaries.json", lambda: feeds.summaries_json(rows(), site=config.title, home=home),
          listed, cited.hexdigest(), config.title, home)
