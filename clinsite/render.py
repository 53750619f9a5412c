"""View models + Jinja templates -> HTML text (stage 5 of the pipeline).

The templates see only `*View` values built here, never the loaders' models,
so a theme can be changed without knowing the pipeline. The built-in theme
lives in clinsite/theme/; a file of the same name in the site's templates/
folder overrides it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import jinja2

from clinsite import __version__
from clinsite.compose import ComposedPage, root_prefix
from clinsite.diagnostics import Diagnostic, error
from clinsite.models import Document, Reviewer, ReviewStatus, Summary
from clinsite.references import ReferenceStore

THEME = Path(__file__).parent / "theme"
STEPS = (ReviewStatus.SUBMITTED, ReviewStatus.UNDER_REVIEW, ReviewStatus.APPROVED)
AUDIENCE_LABELS = {"clinician": "For clinicians", "patient": "For patients", "all": ""}


@dataclass(frozen=True, slots=True)
class SiteView:
    title: str
    publisher: str
    language: str
    base_url: str
    description: str
    disclaimer_html: str
    policy_url: str | None  # site-relative
    generator: str


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
class ReferenceView:
    number: int
    key: str
    html: str
    text: str
    kind: str
    kind_label: str
    backlinks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BottomLineView:
    audience: str
    label: str
    html: str


@dataclass(frozen=True, slots=True)
class SummaryView:
    slug: str
    title: str
    url: str
    canonical: str
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
    audience: str
    tags: tuple[str, ...]
    bottom_line: tuple[BottomLineView, ...]
    body_html: str
    references: tuple[ReferenceView, ...]


@dataclass(frozen=True, slots=True)
class PageView:
    slug: str
    title: str
    url: str
    canonical: str
    updated: dt.date
    body_html: str
    references: tuple[ReferenceView, ...]


@dataclass(frozen=True, slots=True)
class ListingView:
    title: str
    url: str
    status: str
    status_label: str
    updated: dt.date
    tags: tuple[str, ...]


class TemplateFailure(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.format())
        self.diagnostic = diagnostic


def human_date(value: dt.date | None) -> str:
    """``21 November 2026``: unambiguous in every locale."""
    return "" if value is None else f"{value.day} {value.strftime('%B %Y')}"


def make_environment(root: Path) -> jinja2.Environment:
    """The Jinja environment: site overrides first, then the built-in theme."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(root / "templates"), str(THEME / "templates")]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = human_date
    env.filters["iso"] = lambda d: "" if d is None else d.isoformat()
    return env


def template_diagnostic(exc: BaseException, root: Path) -> Diagnostic:
    """A template error as a diagnostic at the template file and line."""
    name = getattr(exc, "filename", None) or getattr(exc, "name", None)
    line = getattr(exc, "lineno", None)
    if not name or not line:
        name, line = _template_frame(exc.__traceback__)
    return error(_display_path(name, root), line or 0, 1 if line else 0, "template-error",
                 f"template error: {exc}")


def _template_frame(tb: TracebackType | None) -> tuple[str, int]:
    found = ("templates", 0)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".html", ".xml", ".txt")):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _display_path(name: str, root: Path) -> str:
    path = Path(name)
    for base, label in ((root.resolve(), ""), (THEME.parent.parent, "")):
        try:
            return label + path.resolve().relative_to(base).as_posix()
        except ValueError:
            continue
    return path.as_posix()


class Renderer:
    """Builds view models and renders them with the site's templates."""

    def __init__(self, root: Path, site: SiteView, board: Mapping[str, Reviewer],
                 store: ReferenceStore, today: dt.date) -> None:
        self.root = root
        self.env = make_environment(root)
        self.site = site
        self.board = board
        self.store = store
        self.today = today

    def render(self, template: str, url: str, *, root: str | None = None,
               **context: object) -> str:
        """Render `template` for the page published at site-relative `url`."""
        try:
            tpl = self.env.get_template(template)
            return tpl.render(site=self.site, root=root or root_prefix(url), page_url=url,
                              **context)
        except jinja2.TemplateError as exc:
            raise TemplateFailure(template_diagnostic(exc, self.root)) from exc
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise TemplateFailure(template_diagnostic(exc, self.root)) from exc

    def references(self, composed: ComposedPage) -> tuple[ReferenceView, ...]:
        views = []
        for cited in composed.references:
            ref = self.store.get(cited.key)
            views.append(ReferenceView(cited.number, cited.key, ref.html, ref.text, ref.kind,
                                       ref.kind_label, cited.backlinks))
        return tuple(views)

    def reviewer(self, ident: str) -> ReviewerView:
        r = self.board[ident]
        return ReviewerView(r.id, r.name, r.credentials, r.role, r.affiliation, r.disclosures,
                            f"board/#{r.id}")

    def summary_view(self, doc: Summary, composed: ComposedPage) -> SummaryView:
        status = doc.review.status
        current = STEPS.index(status)
        steps = tuple(StepView(s.label, "done" if i < current else
                               "current" if i == current else "todo")
                      for i, s in enumerate(STEPS))
        next_review = doc.review.next_review
        return SummaryView(
            slug=doc.slug, title=doc.title, url=doc.url, canonical=self.site.base_url + doc.url,
            status=status.value, status_label=status.label,
            approved=status is ReviewStatus.APPROVED, steps=steps,
            reviewers=tuple(self.reviewer(r) for r in doc.review.reviewers if r in self.board),
            updated=doc.updated, reviewed=doc.review.reviewed, next_review=next_review,
            overdue=next_review is not None and next_review < self.today,
            evidence_current=doc.evidence_current, audience=doc.audience, tags=doc.tags,
            bottom_line=tuple(BottomLineView(a, AUDIENCE_LABELS[a], h)
                              for a, h in composed.bottom_line),
            body_html=composed.body_html, references=self.references(composed),
        )

    def render_summary(self, doc: Summary, composed: ComposedPage) -> str:
        return self.render("summary.html", doc.url, page=self.summary_view(doc, composed))

    def render_page(self, doc: Document, composed: ComposedPage) -> str:
        view = PageView(doc.slug, doc.title, doc.url, self.site.base_url + doc.url, doc.updated,
                        composed.body_html, self.references(composed))
        return self.render("page.html", doc.url, page=view)

    def render_home(self, summaries: Iterable[Summary]) -> str:
        items = sorted((ListingView(s.title, s.url, s.review.status.value,
                                    s.review.status.label, s.updated, s.tags)
                        for s in summaries), key=lambda v: (v.title.lower(), v.url))
        recent = sorted(items, key=lambda v: (v.updated, v.url), reverse=True)[:10]
        return self.render("home.html", "", summaries=items, recent=recent,
                           canonical=self.site.base_url)

    def render_board(self) -> str:
        members = tuple(self.reviewer(i) for i in sorted(self.board))
        return self.render("board.html", "board/", members=members,
                           canonical=self.site.base_url + "board/")

    def render_not_found(self) -> str:
        # 404.html is served at any depth, so its links are absolute paths.
        base_path = self.site.base_url.split("://", 1)[-1].partition("/")[2]
        return self.render("404.html", "", root="/" + base_path, canonical=self.site.base_url)


def theme_assets(root: Path) -> list[tuple[str, Path]]:
    """(output path, source) of every asset: the theme's, then the site's overrides."""
    chosen: dict[str, Path] = {}
    for base in (THEME / "assets", root / "templates" / "assets"):
        if base.is_dir():
            for file in sorted(base.rglob("*")):
                if file.is_file() and not file.name.startswith("."):
                    chosen["assets/" + file.relative_to(base).as_posix()] = file
    return sorted(chosen.items())


def generator() -> str:
    return f"clinsite {__version__}"

