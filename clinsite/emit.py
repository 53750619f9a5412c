"""Rendered views -> every output file of a build (stage 6 of the pipeline).

One place lists what a site consists of: the pages, each reviewed page's
citation downloads, the listings (home, tags, references index, board), the
machine-readable files and the theme's assets. Files go to `Output` as soon
as they are rendered, so memory does not grow with the site.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clinsite import citeformats, feeds
from clinsite.compose import ComposedPage
from clinsite.config import SiteConfig
from clinsite.listings import reference_index, tag_views
from clinsite.models import Content, Drug, Summary
from clinsite.render import Renderer, theme_assets
from clinsite.views import ViewContext, plain_text
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


def emit_site(renderer: Renderer, content: Content, composed: dict[str, ComposedPage],
              config: SiteConfig, output: Output, root: Path,
              progress: Callable[[str], None] | None = None) -> None:
    """Render and write every file of the site."""
    ctx = renderer.ctx
    for doc in content.all():
        output.write(doc.url + "index.html", renderer.render_document(doc, composed[doc.path]))
        if isinstance(doc, (Summary, Drug)):
            _cite_files(ctx, doc, output)
        if progress is not None:
            progress(doc.path)
    tags = tag_views(content.summaries)
    output.write("index.html", renderer.render_home(content.summaries, content.drugs, tags))
    output.write("tags/index.html", renderer.render_tags(tags))
    for tag in tags:
        output.write(tag.url + "index.html", renderer.render_tag(tag))
    index = reference_index(content.all(), composed, ctx.store)
    output.write("references/index.html", renderer.render_references(index))
    output.write("board/index.html", renderer.render_board())
    output.write("search/index.html", renderer.render_search())
    output.write("404.html", renderer.render_not_found())
    _machine_files(content, composed, config, ctx, output)
    if output.writer is not None:
        for rel, source in theme_assets(root):
            output.writer.copy(rel, source)


def _cite_files(ctx: ViewContext, doc: Summary | Drug, output: Output) -> None:
    citation = ctx.citation(doc)
    output.write(doc.url + "cite.bib", citeformats.bibtex(citation))
    output.write(doc.url + "cite.ris", citeformats.ris(citation))
    output.write(doc.url + "cite.json", citeformats.csl_json(citation))


def _machine_files(content: Content, composed: dict[str, ComposedPage], config: SiteConfig,
                   ctx: ViewContext, output: Output) -> None:
    """sitemap.xml, feed.xml, robots.txt and api/summaries.json."""
    home = config.base_url

    def entry(doc: Summary | Drug, kind: str) -> feeds.FeedEntry:
        page = composed[doc.path]
        text = page.bottom_line[0][1] if page.bottom_line else page.body_html
        return feeds.FeedEntry(doc.title, home + doc.url, doc.updated, plain_text(text), kind)

    summaries = [entry(doc, "summary") for doc in content.summaries]
    everything = summaries + [entry(doc, "drug") for doc in content.drugs] + [
        feeds.FeedEntry(p.title, home + p.url, p.updated, "", "page") for p in content.pages]
    newest = max((e.updated for e in everything), default=None)
    output.write("sitemap.xml", feeds.sitemap(sorted(everything, key=lambda e: e.url), home,
                                              newest))
    output.write("feed.xml", feeds.atom_feed(summaries, title=config.title, home=home,
                                             publisher=config.publisher,
                                             language=config.language))
    output.write("robots.txt", feeds.robots(home))
    records = [feeds.SummaryRecord(
        doc.slug, doc.title, home + doc.url, doc.updated, doc.review.status.value,
        doc.review.reviewers, doc.review.reviewed, doc.tags, doc.audience,
        tuple(doi for c in composed[doc.path].references
              if (doi := ctx.store.get(c.key).doi) is not None),
    ) for doc in content.summaries]
    output.write("api/summaries.json", feeds.summaries_json(records, site=config.title,
                                                            home=home))
