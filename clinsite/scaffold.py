"""`clinsite new`: a title -> a new content file with the right front matter.

Writes a skeleton an editor fills in. It passes `clinsite check` with only the
warnings that name what is left to do (no reviewer yet, claims without citations),
so `--strict` in CI keeps an unfinished skeleton from being published.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from clinsite.config import today
from clinsite.content import RESERVED_SLUGS, SECTIONS, SLUG

Kind = Literal["summary", "drug", "page"]
FOLDERS: dict[Kind, str] = {"summary": "summaries", "drug": "drugs", "page": "pages"}
MAX_SLUG = 60
# Letters NFKD does not split into a base letter and an accent.
_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe",
                       "Œ": "OE", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th",
                       "Þ": "Th", "ð": "d", "Ð": "D", "ı": "i"})
_NON_SLUG = re.compile(r"[^a-z0-9]+")


class ScaffoldError(Exception):
    """`clinsite new` cannot write the file; `status` is the exit status (1 or 2)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Scaffold:
    """A file to create: where (relative to the root) and what."""

    kind: Kind
    slug: str
    rel: str
    text: str


def ascii_fold(text: str) -> str:
    """`text` with accents dropped and letters such as ß spelt in ASCII; others removed."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def slugify(title: str, max_length: int = MAX_SLUG) -> str:
    """A URL slug from a title: ASCII, lowercase words joined by '-', cut at a word end."""
    slug = _NON_SLUG.sub("-", ascii_fold(title).lower()).strip("-")
    if len(slug) > max_length:
        cut = slug[: max_length + 1]
        slug = cut[: cut.rfind("-")] if "-" in cut else slug[:max_length]
    return slug.strip("-")


def plan(root: Path, kind: Kind, title: str) -> Scaffold:
    """The file `clinsite new KIND TITLE` writes; ScaffoldError if it cannot be written."""
    title = " ".join(title.split())
    if not title:
        raise ScaffoldError("the title is empty; give the question or name in quotes", 2)
    slug = slugify(title)
    if not SLUG.fullmatch(slug):
        raise ScaffoldError(f"cannot make a file name from '{title}': it needs letters or "
                            "digits (accents are dropped, other scripts are not transliterated)",
                            2)
    if kind == "page" and slug in RESERVED_SLUGS:
        raise ScaffoldError(f"'{slug}' is a URL the site itself uses; choose another title", 2)
    rel = f"content/{FOLDERS[kind]}/{slug}.md"
    for section in SECTIONS:  # slugs are unique across sections (duplicate-slug)
        existing = f"content/{section}/{slug}.md"
        if (root / existing).exists():
            what = "already exists" if existing == rel else "already uses that slug"
            raise ScaffoldError(f"{existing} {what}; refusing to overwrite it "
                                "(edit it, or choose a different title)")
    text = _TEMPLATES[kind].format(title=_yaml_string(title), today=today().isoformat())
    return Scaffold(kind, slug, rel, text)


def create(root: Path, kind: Kind, title: str) -> Path:
    """Write the skeleton file and return its path (root joined with the relative path)."""
    scaffold = plan(root, kind, title)
    target = root / scaffold.rel
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with target.open("x", encoding="utf-8", newline="\n") as file:  # "x": never overwrite
            file.write(scaffold.text)
    except FileExistsError:
        raise ScaffoldError(f"{scaffold.rel} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise ScaffoldError(f"cannot write {scaffold.rel}: {exc.strerror}") from None
    return target


def _yaml_string(text: str) -> str:
    """A double-quoted YAML scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


_CITE_HELP = """\
# Cite every clinical statement with a key from references/*.bib, in pandoc
# syntax: [@key], [@key1; @key2] or [@key, p. 12]. For example:
#   Valacyclovir is converted to acyclovir in the body [@smith2019valacyclovir].
# Bring references in with `clinsite refs import FILE` or `clinsite refs add --doi X`.
"""

_REVIEW = """\
review:
  status: submitted          # submitted -> under-review -> approved
  reviewers: []              # ids from content/board.yaml, e.g. [a-example]
  # reviewed: YYYY-MM-DD     # required once approved: date of the completed review
"""

_TEMPLATES: dict[Kind, str] = {
    "summary": "---\n" + _CITE_HELP + """\
title: {title}
summary: >-
  Write the bottom-line answer here, in one or two sentences, with citations.
updated: {today}
""" + _REVIEW + """\
# evidence_current: YYYY-MM-DD   # literature searched through this date
# audience: clinician        # clinician, patient or both (default: site.yaml)
tags: []                     # lowercase words, e.g. [herpes-simplex, antivirals]
related: []                  # slugs of related summaries or drugs
---

## Answer

Write the detailed answer here and cite each statement.
""",
    "drug": "---\n" + _CITE_HELP + """\
# In a dosing row, list the keys instead: cite: [smith2019valacyclovir]
# The title is the generic name; brands are listed below it.
title: {title}
brands: []                   # brand names, e.g. [Valtrex]
class: Drug class.
mechanism: How the drug works, with a citation.
routes: []                   # e.g. [oral, intravenous]
dosing:
  - indication: Indication
    regimen: Dose, route, frequency and duration
    notes: Timing, adjustments or cautions (optional).
    cite: []
renal: Dose adjustment in renal impairment, with a citation.
adverse_effects:
  - An adverse effect, with a citation.
interactions:
  - An interaction, with a citation.
monitoring:
  - What to monitor, with a citation.
updated: {today}
""" + _REVIEW + """\
---

Write any further clinical detail here and cite each statement.
""",
    "page": """\
---
title: {title}
updated: {today}
---

Write the page here. Link to other content by its source path, such as
`../summaries/some-question.md`.
""",
}
