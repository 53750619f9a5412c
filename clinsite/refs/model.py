"""The value every reader produces: one bibliographic record in BibTeX's vocabulary.

Readers map their format's fields straight onto BibTeX field names, so `bibtex.py`
needs to know nothing about RIS, CSL-JSON or MEDLINE.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_YEAR = re.compile(r"(?<![0-9])([12][0-9]{3})(?![0-9])")


@dataclass(frozen=True, slots=True)
class Name:
    """A person (family and given names) or an organisation (`literal`)."""

    family: str
    given: str = ""
    literal: bool = False


@dataclass(frozen=True, slots=True)
class Work:
    """One record read from an export: BibTeX entry type, kind, names and fields.

    `fields` uses BibTeX names (title, journal, year, month, volume, number, pages,
    doi, pmid, ...) with plain-text values; `line` is where the record starts.
    """

    entry_type: str
    kind: str | None
    authors: tuple[Name, ...]
    fields: Mapping[str, str]
    line: int
    editors: tuple[Name, ...] = field(default=())

    @property
    def title(self) -> str:
        return self.fields.get("title", "")


def clean(value: object) -> str:
    """Plain text with single spaces: markup some exports put in titles removed."""
    text = html.unescape(_TAG.sub("", str(value))) if "<" in str(value) else str(value)
    return " ".join(text.split())


def clean_title(value: object) -> str:
    """A title without the full stop MEDLINE and others end it with (the style adds one)."""
    text = clean(value)
    return text[:-1] if text.endswith(".") and not text.endswith("..") else text


def clean_abbreviation(value: object) -> str:
    """A journal abbreviation in NLM form: ``Antimicrob. Agents Chemother.`` -> no periods."""
    return " ".join(clean(value).replace(".", " ").split())


def find_year(text: str) -> str | None:
    """The first four-digit year in a date string such as ``2011 Feb 15`` or ``2011/02//``."""
    match = _YEAR.search(text)
    return match.group(1) if match else None


def month_name(value: object) -> str | None:
    """``feb`` for 2, ``"02"``, ``"Feb"`` or ``"February"``; None otherwise."""
    text = str(value).strip().lower()
    if text.isdigit() and 1 <= int(text) <= 12:
        return MONTHS[int(text) - 1]
    return text[:3] if text[:3] in MONTHS and text.isalpha() else None


def page_range(value: str) -> str:
    """BibTeX page range: ``459-72`` -> ``459--472`` (MEDLINE shortens the last page)."""
    text = clean(value).replace("\u2013", "-").replace("\u2014", "-")
    parts = [part.strip() for part in re.split(r"-+", text)]
    if len(parts) != 2 or not all(parts):
        return text
    first, last = parts
    if first.isdigit() and last.isdigit() and len(last) < len(first):
        last = first[: len(first) - len(last)] + last
    return f"{first}--{last}"


def split_name(text: str) -> Name:
    """``Piret, Jocelyne`` -> a person; a name without a comma is an organisation."""
    text = clean(text)
    if "," not in text:
        return Name(text, literal=True)
    family, given = text.split(",", 1)
    return Name(family.strip(), given.strip())
