"""Models + composed Markdown -> the view models templates see (part of the render stage).

Templates never see loader models: each page gets a frozen `*View` holding
exactly what it shows, already escaped where it is HTML.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import unescape as html_unescape

from markupsafe import Markup, escape

from clinsite.citeformats import PageCitation, vancouver
from clinsite.compose import ComposedPage
from clinsite.gitdates import Revision
from clinsite.metadata import PageFacts, highwire_tags, json_ld, script_json
from clinsite.models import Document, Drug, Reviewed, Reviewer, ReviewStatus, Summary
from clinsite.references import ReferenceStore

STEPS = (ReviewStatus.SUBMITTED, ReviewStatus.UNDER_REVIEW, ReviewStatus.APPROVED)
AUDIENCE_LABELS = {"clinician": "For clinicians", "patient": "For patients", "all": ""}
_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
CITE_FILES = (("BibTeX", "cite.bib"), ("RIS", "cite.ris"), ("CSL-JSON", "cite.json"))
_H2 = re.compile(r'<h2 id="([^"<>]+)">(.*?)</h2>')
_TAG = re.compile(r"<[^>]*>")
_CITE_SUP = re.compile(r'<sup class="cite[^"]*"[^>]*>.*?</sup>', re.S)


@dataclass(frozen=True, slots=True)
class StepView:
    label: str
    state: str  # "done", "current" or "todo"


@dataclass(frozen=True, slots=True)
class ReviewerView:
    id: str
    name: str
    credentials: str
    role: str
    affiliation: str
    disclosures: str
    url: str  # site-relative link to the board entry


@dataclass(frozen=True, slots=True)
class ReviewView:
    status: str
    status_label: str
    approved: bool
    steps: tuple[StepView, ...]
    reviewers: tuple[ReviewerView, ...]
    updated: dt.date
    reviewed: dt.date | None
    next_review: dt.date | None
    overdue: bool
    evidence_current: dt.date | None


@dataclass(frozen=True, slots=True)
class ReferenceView:
    number: int
    key: str
    html: Markup
    text: str
    kind: str
    kind_label: str
    backlinks: tuple[str, ...]
    anchor: str  # id of this reference on the site-wide references page
    backlinks_html: Markup  # `backlinks` as numbered links ("Cited at: 1 2 3")


@dataclass(frozen=True, slots=True)
class CiteView:
    """"Cite this page": the formatted citation and the three download files."""

    text: str
    files: tuple[tuple[str, str], ...]  # (label, file name next to the page)


@dataclass(frozen=True, slots=True)
class MetaView:
    description: str
    tags: tuple[tuple[str, str], ...]  # Highwire (name, content)
    json_ld: Markup


@dataclass(frozen=True, slots=True)
class LinkView:
    title: str
    url: str  # site-relative


@dataclass(frozen=True, slots=True)
class TocEntry:
    id: str
    title: Markup


@dataclass(frozen=True, slots=True)
class BottomLineView:
    audience: str
    label: str
    html: Markup


@dataclass(frozen=True, slots=True)
class SummaryView:
    slug: str
    title: str
    url: str
    canonical: str
    review: ReviewView
    audience: str
    tags: tuple[str, ...]
    bottom_line: tuple[BottomLineView, ...]
    body_html: Markup
    toc: tuple[TocEntry, ...]
    references: tuple[ReferenceView, ...]
    related: tuple[LinkView, ...]
    cite: CiteView
    meta: MetaView
    history: tuple[Revision, ...]


@dataclass(frozen=True, slots=True)
class DosingView:
    indication: Markup
    regimen: Markup
    notes: Markup
    cite: Markup


@dataclass(frozen=True, slots=True)
class DrugView:
    slug: str
    title: str
    url: str
    canonical: str
    review: ReviewView
    brands: tuple[str, ...]
    drug_class: Markup
    mechanism: Markup
    routes: tuple[str, ...]
    dosing: tuple[DosingView, ...]
    renal: Markup
    adverse_effects: tuple[Markup, ...]
    interactions: tuple[Markup, ...]
    monitoring: tuple[Markup, ...]
    body_html: Markup
    toc: tuple[TocEntry, ...]
    references: tuple[ReferenceView, ...]
    cited_by: tuple[LinkView, ...]
    cite: CiteView
    meta: MetaView
    history: tuple[Revision, ...]


@dataclass(frozen=True, slots=True)
class PageView:
    slug: str
    title: str
    url: str
    canonical: str
    updated: dt.date
    body_html: Markup
    references: tuple[ReferenceView, ...]


def table_of_contents(html: str) -> tuple[TocEntry, ...]:
    """The body's second-level headings (our Markdown stage gives each an id)."""
    return tuple(TocEntry(ident, Markup(_TAG.sub("", title))) for ident, title in _H2.findall(html))


def reviewer_view(reviewer: Reviewer) -> ReviewerView:
    r = reviewer
    return ReviewerView(r.id, r.name, r.credentials, r.role, r.affiliation, r.disclosures,
                        f"board/#{r.id}")


def review_view(doc: Reviewed, board: Mapping[str, Reviewer], today: dt.date,
                evidence: dt.date | None = None) -> ReviewView:
    """Status stepper, dates and reviewers of a reviewed page."""
    status = doc.review.status
    current = STEPS.index(status)
    steps = tuple(StepView(s.label, "done" if i < current else
                           "current" if i == current else "todo")
                  for i, s in enumerate(STEPS))
    due = doc.review.next_review
    return ReviewView(
        status=status.value, status_label=status.label,
        approved=status is ReviewStatus.APPROVED, steps=steps,
        reviewers=tuple(reviewer_view(board[r]) for r in doc.review.reviewers if r in board),
        updated=doc.updated, reviewed=doc.review.reviewed, next_review=due,
        overdue=due is not None and due < today, evidence_current=evidence,
    )


def reference_anchor(key: str) -> str:
    """A stable, safe id for a reference on the references page (keys may hold `:/.`)."""
    return "source-" + _ANCHOR_UNSAFE.sub("-", key)


def backlink_links(number: int, backlinks: tuple[str, ...]) -> Markup:
    """One link back to each citation of reference `number`, numbered in page order.

    Built here rather than looped over in the template: a page has dozens of
    back-links, and in Jinja each costs several escape and attribute calls."""
    return Markup(" ".join(
        f'<a href="#{escape(ident)}" aria-label="Back to citation {index} of reference'
        f' {number} in the text">{index}</a>'
        for index, ident in enumerate(backlinks, 1)))


def reference_views(composed: ComposedPage, store: ReferenceStore) -> tuple[ReferenceView, ...]:
    views = []
    for cited in composed.references:
        ref = store.get(cited.key)
        views.append(ReferenceView(cited.number, cited.key, Markup(ref.html), ref.text, ref.kind,
                                   ref.kind_label, cited.backlinks, reference_anchor(cited.key),
                                   backlink_links(cited.number, cited.backlinks)))
    return tuple(views)


@dataclass(frozen=True, slots=True)
class ViewContext:
    """What every view builder needs besides the page itself."""

    base_url: str
    board: Mapping[str, Reviewer]
    store: ReferenceStore
    today: dt.date
    pages_by_slug: Mapping[str, Document]
    linked_from: Mapping[str, tuple[LinkView, ...]]  # target path -> pages linking to it
    site_title: str = ""
    publisher: str = ""
    language: str = "en"
    history: Mapping[str, tuple[Revision, ...]] = field(default_factory=dict)

    def citation(self, doc: Document) -> PageCitation:
        return PageCitation(doc.slug, doc.title, self.publisher, self.site_title,
                            self.base_url + doc.url, doc.updated, self.today, self.language)

    def extras(self, doc: Reviewed, composed: ComposedPage, description: str,
               audience: str) -> tuple[CiteView, MetaView]:
        """"Cite this page" and the machine-readable metadata of a reviewed page."""
        refs = [self.store.get(c.key) for c in composed.references]
        reviewers = [(self.board[r].name, self.board[r].credentials)
                     for r in doc.review.reviewers if r in self.board]
        facts = PageFacts(doc.title, description, self.base_url + doc.url, self.publisher,
                          self.site_title, doc.updated, doc.review.reviewed, reviewers,
                          audience, self.language, refs)
        cite = CiteView(vancouver(self.citation(doc)), CITE_FILES)
        meta = MetaView(description, tuple(highwire_tags(facts)), script_json(json_ld(facts)))
        return cite, meta

    def link(self, slug: str) -> LinkView | None:
        doc = self.pages_by_slug.get(slug)
        return None if doc is None else LinkView(doc.title, doc.url)


def plain_text(html: str, limit: int = 300) -> str:
    """Tag-free, whitespace-folded text for descriptions (entities stay escaped)."""
    text = " ".join(_TAG.sub("", _CITE_SUP.sub("", html)).split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def summary_view(doc: Summary, composed: ComposedPage, ctx: ViewContext) -> SummaryView:
    description = plain_text(composed.bottom_line[0][1]) if composed.bottom_line else doc.title
    cite, meta = ctx.extras(doc, composed, html_unescape(description), doc.audience)
    return SummaryView(
        slug=doc.slug, title=doc.title, url=doc.url, canonical=ctx.base_url + doc.url,
        review=review_view(doc, ctx.board, ctx.today, doc.evidence_current),
        audience=doc.audience, tags=doc.tags,
        bottom_line=tuple(BottomLineView(a, AUDIENCE_LABELS[a], Markup(h))
                          for a, h in composed.bottom_line),
        body_html=Markup(composed.body_html), toc=table_of_contents(composed.body_html),
        references=reference_views(composed, ctx.store),
        related=tuple(link for slug in doc.related if (link := ctx.link(slug)) is not None),
        cite=cite, meta=meta, history=ctx.history.get(doc.path, ()),
    )


def drug_view(doc: Drug, composed: ComposedPage, ctx: ViewContext) -> DrugView:
    field = composed.fields

    def html(key: str) -> Markup:
        return Markup(field.get(key, ""))

    def items(name: str, count: int) -> tuple[Markup, ...]:
        return tuple(html(f"{name}/{i}") for i in range(count))

    description = f"Drug monograph: {doc.title}. " + plain_text(field.get("class", ""))
    cite, meta = ctx.extras(doc, composed, html_unescape(description.strip()), doc.audience)
    dosing = tuple(DosingView(html(f"dosing/{i}/indication"), html(f"dosing/{i}/regimen"),
                              html(f"dosing/{i}/notes"), html(f"dosing/{i}/cite"))
                   for i in range(len(doc.dosing)))
    return DrugView(
        slug=doc.slug, title=doc.title, url=doc.url, canonical=ctx.base_url + doc.url,
        review=review_view(doc, ctx.board, ctx.today), brands=doc.brands,
        drug_class=html("class"), mechanism=html("mechanism"), routes=doc.routes,
        dosing=dosing, renal=html("renal"),
        adverse_effects=items("adverse_effects", len(doc.adverse_effects)),
        interactions=items("interactions", len(doc.interactions)),
        monitoring=items("monitoring", len(doc.monitoring)),
        body_html=Markup(composed.body_html), toc=table_of_contents(composed.body_html),
        references=reference_views(composed, ctx.store),
        cited_by=ctx.linked_from.get(doc.path, ()),
        cite=cite, meta=meta, history=ctx.history.get(doc.path, ()),
    )


def page_view(doc: Document, composed: ComposedPage, ctx: ViewContext) -> PageView:
    return PageView(doc.slug, doc.title, doc.url, ctx.base_url + doc.url, doc.updated,
                    Markup(composed.body_html), reference_views(composed, ctx.store))
