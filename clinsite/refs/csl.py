"""CSL-JSON (Zotero's export, Crossref's answers) -> `Work` values.

Zotero writes a list of CSL items; Crossref's REST API answers one work in nearly the
same vocabulary, with some values as one-element lists. Both are read here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from clinsite.diagnostics import Diagnostic, error
from clinsite.refs.model import (
    MONTHS,
    Name,
    Work,
    clean,
    clean_abbreviation,
    clean_title,
    month_name,
    page_range,
)

# CSL and Crossref type -> (BibTeX entry type, kind or None for the type's default).
_TYPES: Mapping[str, tuple[str, str | None]] = {
    "article-journal": ("article", "research"), "journal-article": ("article", "research"),
    "article": ("article", "research"), "article-magazine": ("article", "research"),
    "article-newspaper": ("article", "research"), "review": ("article", "review"),
    "book": ("book", "book"), "monograph": ("book", "book"), "edited-book": ("book", "book"),
    "reference-book": ("book", "book"),
    "chapter": ("incollection", "book"), "book-chapter": ("incollection", "book"),
    "entry-encyclopedia": ("incollection", "book"), "reference-entry": ("incollection", "book"),
    "paper-conference": ("inproceedings", "research"),
    "proceedings-article": ("inproceedings", "research"),
    "report": ("techreport", None), "thesis": ("phdthesis", "research"),
    "dissertation": ("phdthesis", "research"),
    "webpage": ("misc", "web"), "post-weblog": ("misc", "web"), "post": ("misc", "web"),
}
_PMID = re.compile(r"\bPMID:\s*([0-9]+)", re.IGNORECASE)
_PMCID = re.compile(r"\bPMCID:\s*(PMC[0-9]+)", re.IGNORECASE)
_DOI_URL = re.compile(r"https?://(dx\.)?doi\.org/", re.IGNORECASE)


def parse_csl_json(text: str, path: str) -> tuple[list[Work], list[Diagnostic]]:
    """Every item of a CSL-JSON file (a list of items, or one item)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [error(path, exc.lineno, exc.colno, "json-syntax",
                          f"not valid JSON: {exc.msg}")]
    except RecursionError:
        return [], [error(path, 1, 1, "json-syntax", "JSON nested too deeply to read")]
    problems: list[Diagnostic] = []
    works = []
    for line, item in _items(text):
        if not isinstance(item, dict):
            problems.append(error(path, line, 1, "csl-item",
                                  "each CSL-JSON item must be an object {...}"))
            continue
        work = work_from_item(item, line, path, problems)
        if work is not None:
            works.append(work)
    return works, problems


def _items(text: str) -> Iterator[tuple[int, Any]]:
    """The items of a JSON list (or one object) with the line each starts on."""
    decoder = json.JSONDecoder()
    index = _skip_space(text, 0)
    if not text.startswith("[", index):
        yield text.count("\n", 0, index) + 1, decoder.raw_decode(text, index)[0]
        return
    index = _skip_space(text, index + 1)
    while index < len(text) and text[index] != "]":
        item, end = decoder.raw_decode(text, index)
        yield text.count("\n", 0, index) + 1, item
        index = _skip_space(text, end)
        if text.startswith(",", index):
            index = _skip_space(text, index + 1)


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n\ufeff":
        index += 1
    return index


def work_from_item(item: Mapping[str, Any], line: int, path: str,
                   problems: list[Diagnostic]) -> Work | None:
    """One CSL (or Crossref) item as a Work; None, with a diagnostic, if it has no title."""
    entry_type, kind = _TYPES.get(str(item.get("type", "")), ("misc", None))
    title = _text(item.get("title"))
    if not title:
        problems.append(error(path, line, 1, "missing-title",
                              "item has no 'title'; not imported"))
        return None
    fields: dict[str, str] = {"title": clean_title(title)}
    container = _text(item.get("container-title"))
    short = (_text(item.get("container-title-short")) or _text(item.get("journalAbbreviation"))
             or _text(item.get("short-container-title")))
    if entry_type == "article" and (short or container):
        fields["journal"] = clean_abbreviation(short) if short else clean(container)
    elif entry_type in ("incollection", "inproceedings") and container:
        fields["booktitle"] = clean(container)
    issued = next((item[k] for k in ("issued", "published-print", "published-online")
                   if isinstance(item.get(k), dict)), None)
    year, month, _ = _date(issued)
    if year:
        fields["year"] = year
    if month:
        fields["month"] = month
    publisher = None if entry_type == "article" else _text(item.get("publisher"))
    owner = {"techreport": "institution", "phdthesis": "school"}.get(entry_type, "publisher")
    for name, value in ((owner, publisher), ("address", _text(item.get("publisher-place"))),
                        ("volume", _text(item.get("volume"))),
                        ("number", _text(item.get("issue")) or _text(item.get("number"))),
                        ("edition", _text(item.get("edition")))):
        if value and clean(value):
            fields[name] = clean(value)
    pages = _text(item.get("page"))
    if pages:
        fields["pages"] = page_range(pages)
    _identifiers(item, fields)
    genre = (_text(item.get("genre")) or "").lower()
    kind = "guideline" if "guideline" in genre else "review" if "review" in genre else kind
    return Work(entry_type, kind, _names(item.get("author")), fields, line,
                _names(item.get("editor")))


def _identifiers(item: Mapping[str, Any], fields: dict[str, str]) -> None:
    note = _text(item.get("note")) or ""
    doi = _text(item.get("DOI"))
    if doi:
        fields["doi"] = doi.strip()
    pmid = _text(item.get("PMID")) or (m.group(1) if (m := _PMID.search(note)) else None)
    if pmid:
        fields["pmid"] = pmid.strip()
    pmcid = _text(item.get("PMCID")) or (m.group(1) if (m := _PMCID.search(note)) else None)
    if pmcid:
        fields["pmcid"] = pmcid.strip().upper()
    url = _text(item.get("URL"))
    if url and not (doi and _DOI_URL.match(url)):  # Crossref's URL is the DOI link again
        fields["url"] = url.strip()
        accessed = item.get("accessed")
        year, month, day = _date(accessed if isinstance(accessed, dict) else None)
        if year and month and day:
            fields["urldate"] = f"{year}-{_month_number(month):02d}-{int(day):02d}"


def _text(value: Any) -> str | None:
    """A CSL string; Crossref gives some as lists of one string; numbers become text."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int, float)):
        text = clean(value)
        return text or None
    return None


def _names(value: Any) -> tuple[Name, ...]:
    if not isinstance(value, list):
        return ()
    names = []
    for person in value:
        if not isinstance(person, dict):
            continue
        literal = _text(person.get("literal")) or _text(person.get("name"))
        family = _text(person.get("family"))
        if family:
            particle = _text(person.get("non-dropping-particle"))
            family = f"{particle} {family}" if particle else family
            given = " ".join(filter(None, (_text(person.get("given")),
                                           _text(person.get("dropping-particle")))))
            suffix = _text(person.get("suffix"))
            names.append(Name(family, f"{given}, {suffix}" if suffix else given))
        elif literal:
            names.append(Name(literal, literal=True))
    return tuple(names)


def _date(value: Mapping[str, Any] | None) -> tuple[str | None, str | None, str | None]:
    """(year, month name, day) of a CSL date: ``{"date-parts": [[2011, 2, 15]]}``."""
    if not value:
        return None, None, None
    parts = value.get("date-parts")
    if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
        first = [str(p) for p in parts[0] if isinstance(p, (int, str)) and str(p).strip()]
        year = first[0] if first and re.fullmatch(r"[0-9]{4}", first[0]) else None
        month = month_name(first[1]) if len(first) > 1 else None
        day = first[2] if len(first) > 2 and first[2].isdigit() else None
        return year, month, day
    raw = _text(value.get("raw")) or _text(value.get("literal")) or ""
    match = re.search(r"\b([0-9]{4})(?:-([0-9]{2}))?(?:-([0-9]{2}))?", raw)
    if not match:
        return None, None, None
    month = month_name(match.group(2)) if match.group(2) else None
    return match.group(1), month, match.group(3)


def _month_number(name: str) -> int:
    return MONTHS.index(name) + 1
