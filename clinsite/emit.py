"""Page records -> the site's listings and machine files (stage 6 of the pipeline).

Document pages are written by `parallel`; this module writes everything else
a site consists of: the listings (home, tags, references index, board, search),
the machine-readable files and the theme's assets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from clinsite import feeds
from clinsite.config import SiteConfig
from clinsite.listings import reference_index, tag_views
from clinsite.models import Content, Drug, Summary
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
                  search_shards: Sequence[str] = ()) -> None:
    """Render and write every file that is not a document page: listings, machine-readable
    files and assets. Built from the pages' records, never by re-reading pages.
    `search_shards`: the bundle folders the search page merges besides the primary."""
    tags = tag_views(content.summaries)
    output.write("index.html", renderer.render_home(content.summaries, content.drugs, tags))
    output.write("tags/index.html", renderer.render_tags(tags))
    for tag in tags:
        output.write(tag.url + "index.html", renderer.render_tag(tag))
    index = reference_index(content.all(), records, renderer.ctx.store)
    output.write("references/index.html", renderer.render_references(index))
    output.write("board/index.html", renderer.render_board())
    if renderer.site.search:
        output.write("search/index.html", renderer.render_search(search_shards))
    output.write("404.html", renderer.render_not_found())
    _machine_files(content, records, config, renderer.ctx, output, renderer.memo)
    if output.writer is not None:
        for rel, source in theme_assets(root):
            output.writer.copy(rel, source)


def _machine_files(content: Content, records: Mapping[str, PageRecord], config: SiteConfig,
                   ctx: ViewContext, output: Output, memo: ListingMemo | None) -> None:
    """sitemap.xml, feed.xml, robots.txt and api/summaries.json (each through the listing
    memo, keyed on the repr of its inputs, when the build keeps one)."""
    home = config.base_url

    def write(rel: str, make: Callable[[], str], *inputs: object) -> None:
        if memo is None:
            output.write(rel, make())
            return
        output.write(rel, memo.get((rel, inputs), make))

    def entry(doc: Summary | Drug, kind: str) -> feeds.FeedEntry:
        return feeds.FeedEntry(doc.title, home + doc.url, doc.updated,
                               records[doc.path].summary, kind)

    summaries = [entry(doc, "summary") for doc in content.summaries]
    everything = summaries + [entry(doc, "drug") for doc in content.drugs] + [
        feeds.FeedEntry(p.title, home + p.url, p.updated, "", "page") for p in content.pages]
    newest = max((e.updated for e in everything), default=None)
    by_url = sorted(everything, key=lambda e: e.url)
    write("sitemap.xml", lambda: feeds.sitemap(by_url, home, newest), by_url, home, newest)
    write("feed.xml", lambda: feeds.atom_feed(summaries, title=config.title, home=home,
                                              publisher=config.publisher,
                                              language=config.language),
          summaries, config.title, home, config.publisher, config.language)
    output.write("robots.txt", feeds.robots(home))
    rows = [feeds.SummaryRecord(
        doc.slug, doc.title, home + doc.url, doc.updated, doc.review.status.value,
        doc.review.reviewers, doc.review.reviewed, doc.tags, doc.audience,
        tuple(doi for c in records[doc.path].references
              if (doi := ctx.store.get(c.key).doi) is not None),
    ) for doc in content.summaries]
    write("api/summaries.json", lambda: feeds.summaries_json(rows, site=config.title, home=home),
          rows, config.title, home)
