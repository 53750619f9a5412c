"""The content models: what the loaders produce and every later stage reads.

Frozen values only; content.py builds them from files, compose.py and
render.py read them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from clinsite.frontmatter import YamlDoc, YamlPath


class ReviewStatus(StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under-review"
    APPROVED = "approved"

    @property
    def label(self) -> str:
        return {"submitted": "Submitted", "under-review": "Under review",
                "approved": "Approved"}[self.value]


@dataclass(frozen=True, slots=True)
class Review:
    status: ReviewStatus
    reviewers: tuple[str, ...] = ()
    reviewed: dt.date | None = None
    next_review: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """What every content file has: where it is, its title and its Markdown body."""

    section: str
    slug: str
    path: str
    title: str
    updated: dt.date
    body: str
    body_line: int
    text: str = field(repr=False)
    front: YamlDoc = field(repr=False)
    front_offset: int = 4  # index of the front matter's first character in `text`

    @property
    def url(self) -> str:
        """Site-relative URL (no leading slash), e.g. ``summaries/x/``."""
        return f"{self.slug}/" if self.section == "pages" else f"{self.section}/{self.slug}/"

    def locate(self, path: YamlPath, needle: str, occurrence: int = 0) -> tuple[int, int]:
        """File position of the n-th `needle` inside the YAML value at `path`."""
        start, end = self.front.spans.get(path, (0, 0))
        start += self.front_offset
        end += self.front_offset
        index = start - 1
        for _ in range(occurrence + 1):
            index = self.text.find(needle, index + 1, end)
            if index < 0:
                return self.front.pos(path)
        return offset_to_position(self.text, index)


@dataclass(frozen=True, slots=True)
class Reviewed(Document):
    """A document the advisory board reviews: summaries and drug monographs."""

    review: Review = Review(ReviewStatus.SUBMITTED)


@dataclass(frozen=True, slots=True)
class Summary(Reviewed):
    summary: tuple[tuple[str, str], ...] = ()  # (audience or "all", Markdown)
    evidence_current: dt.date | None = None
    audience: str = "clinician"
    tags: tuple[str, ...] = ()
    related: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DosingRow:
    """One line of a drug's dosing table; text fields are inline Markdown."""

    indication: str
    regimen: str
    notes: str | None = None
    cite: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Drug(Reviewed):
    """A drug monograph: structured front matter (SPEC §2) plus a Markdown body."""

    brands: tuple[str, ...] = ()
    drug_class: str | None = None
    mechanism: str | None = None
    routes: tuple[str, ...] = ()
    dosing: tuple[DosingRow, ...] = ()
    renal: str | None = None
    adverse_effects: tuple[str, ...] = ()
    interactions: tuple[str, ...] = ()
    monitoring: tuple[str, ...] = ()
    audience: str = "clinician"


@dataclass(frozen=True, slots=True)
class Page(Document):
    pass


@dataclass(frozen=True, slots=True)
class Reviewer:
    id: str
    name: str
    credentials: str
    role: str
    affiliation: str
    disclosures: str


@dataclass(frozen=True, slots=True)
class Content:
    summaries: tuple[Summary, ...]
    pages: tuple[Page, ...]
    drugs: tuple[Drug, ...] = ()
    drafts: frozenset[str] = frozenset()  # source paths of drafts left out of this build

    def all(self) -> tuple[Document, ...]:
        return (*self.summaries, *self.drugs, *self.pages)

    def reviewed(self) -> tuple[Reviewed, ...]:
        return (*self.summaries, *self.drugs)


def offset_to_position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, col) of a character index."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1
