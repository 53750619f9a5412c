"""PubMed's MEDLINE text (the .nbib "Citation manager" export, efetch rettype=medline)
-> `Work` values.

Each line is a tag padded to four characters, ``- `` and a value; continuation lines
start with six spaces; a record starts at ``PMID- ``.
"""

from __future__ import annotations

import re

from clinsite.diagnostics import Diagnostic, error
from clinsite.refs.model import (
    Name,
    Work,
    clean,
    clean_abbreviation,
    clean_title,
    find_year,
    month_name,
    page_range,
    split_name,
)

_LINE = re.compile(r"([A-Z][A-Z0-9]{0,3}) *- (.*)")
_TAGGED_ID = re.compile(r"(\S+)\s*\[(doi|pii)\]")
_GUIDELINE = ("practice guideline", "guideline")
_REVIEW = ("review", "systematic review")

Tags = list[tuple[str, str]]


def parse_medline(text: str, path: str) -> tuple[list[Work], list[Diagnostic]]:
    """Every record of a MEDLINE file, with a diagnostic for each one that cannot be used."""
    problems: list[Diagnostic] = []
    records: list[tuple[int, Tags]] = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.startswith("      ") and records and records[-1][1]:
            tags = records[-1][1]
            tags[-1] = (tags[-1][0], f"{tags[-1][1]} {line.strip()}")
            continue
        match = _LINE.fullmatch(line)
        if match is None or len(line) < 6 or line[4:6] != "- ":
            problems.append(error(path, number, 1, "medline-syntax",
                                  "expected a MEDLINE line such as 'TI  - Title' (a tag padded "
                                  "to four characters, a hyphen and a space)"))
            continue
        tag, value = match.group(1), match.group(2).strip()
        if tag == "PMID":
            records.append((number, []))
        elif not records:
            problems.append(error(path, number, 1, "medline-syntax",
                                  f"'{tag}' line before the first 'PMID- ' line"))
            continue
        records[-1][1].append((tag, value))
    works = [work for line, tags in records
             if (work := _work(line, tags, path, problems)) is not None]
    return works, problems


def _work(line: int, tags: Tags, path: str, problems: list[Diagnostic]) -> Work | None:
    values: dict[str, list[str]] = {}
    for tag, value in tags:
        if value:
            values.setdefault(tag, []).append(value)

    def first(name: str) -> str | None:
        return next(iter(values.get(name, [])), None)

    book_title = first("BTI")
    title = first("TI") or book_title
    if not title:
        problems.append(error(path, line, 1, "missing-title",
                              "record has no title (TI); not imported"))
        return None
    entry_type = "book" if book_title and not first("TI") else "article"
    fields: dict[str, str] = {"title": clean_title(title)}
    journal = first("TA") or first("JT")
    if entry_type == "article" and journal:
        fields["journal"] = clean_abbreviation(journal) if first("TA") else clean(journal)
    date = first("DP") or ""
    year = find_year(date)
    if year:
        fields["year"] = year
        words = date.split()
        month = month_name(words[1][:3]) if len(words) > 1 else None
        if month:
            fields["month"] = month
    for name, tag in (("volume", "VI"), ("number", "IP"), ("publisher", "PB"),
                      ("address", "PL" if entry_type == "book" else "")):
        found = first(tag) if tag else None
        if found:
            fields[name] = clean(found)
    pages = first("PG")
    if pages:
        fields["pages"] = page_range(pages)
    for value in values.get("LID", []) + values.get("AID", []):
        match = _TAGGED_ID.fullmatch(value.strip())
        if match and match.group(2) == "doi":
            fields.setdefault("doi", match.group(1))
    for name, tag in (("pmid", "PMID"), ("pmcid", "PMC")):
        identifier = first(tag)
        if identifier:
            fields[name] = identifier.split()[0]
    return Work(entry_type, _kind(values.get("PT", []), entry_type), _authors(values),
                fields, line)


def _authors(values: dict[str, list[str]]) -> tuple[Name, ...]:
    """Full names (FAU) when given, else ``Piret J`` (AU); then group authors (CN)."""
    people = [split_name(v) for v in values.get("FAU", [])]
    if not people:
        for short in values.get("AU", []):
            family, _, initials = short.rpartition(" ")
            people.append(Name(family, initials) if family else Name(short))
    return (*people, *(Name(clean(v), literal=True) for v in values.get("CN", [])))


def _kind(publication_types: list[str], entry_type: str) -> str:
    types = {t.strip().lower() for t in publication_types}
    if types & set(_GUIDELINE):
        return "guideline"
    if types & set(_REVIEW):
        return "review"
    return "book" if entry_type == "book" else "research"
