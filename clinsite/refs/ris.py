"""RIS text (Zotero, EndNote, Mendeley, journal sites) -> `Work` values.

A record runs from ``TY  - `` to ``ER  - ``; each line is ``XX  - value``. Lines that
are not tagged continue the previous value (long abstracts are wrapped that way).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from clinsite.diagnostics import Diagnostic, error, warning
from clinsite.refs.model import (
    Work,
    clean,
    clean_abbreviation,
    clean_title,
    find_year,
    month_name,
    page_range,
    split_name,
)

_LINE = re.compile(r"([A-Z][A-Z0-9])  -(?: (.*))?")
_DATE = re.compile(r"([0-9]{4})/([0-9]{1,2})?/([0-9]{1,2})?")
_PMID = re.compile(r"\bPMID:?\s*([0-9]+)", re.IGNORECASE)
_PMCID = re.compile(r"\bPMCID:?\s*(PMC[0-9]+)", re.IGNORECASE)
# RIS type -> (BibTeX entry type, kind or None for the entry type's default).
_TYPES: Mapping[str, tuple[str, str | None]] = {
    "JOUR": ("article", "research"), "JFULL": ("article", "research"),
    "MGZN": ("article", "research"), "EJOUR": ("article", "research"),
    "NEWS": ("article", "research"),
    "BOOK": ("book", "book"), "EBOOK": ("book", "book"), "EDBOOK": ("book", "book"),
    "CHAP": ("incollection", "book"), "ECHAP": ("incollection", "book"),
    "CONF": ("inproceedings", "research"), "CPAPER": ("inproceedings", "research"),
    "RPRT": ("techreport", None), "GOVDOC": ("techreport", None),
    "THES": ("phdthesis", "research"),
    "ELEC": ("misc", "web"), "WEB": ("misc", "web"), "BLOG": ("misc", "web"),
}

Tags = list[tuple[str, str]]


def parse_ris(text: str, path: str) -> tuple[list[Work], list[Diagnostic]]:
    """Every record of a RIS file, with a diagnostic for each one that cannot be used."""
    problems: list[Diagnostic] = []
    records: list[tuple[int, Tags]] = []
    current: tuple[int, Tags] | None = None
    junk = False
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip()
        match = _LINE.fullmatch(line)
        if match is None:
            if line.strip() and current is not None and current[1]:
                tag, value = current[1][-1]
                current[1][-1] = (tag, f"{value} {line.strip()}")
            elif line.strip() and not junk:  # one report per run of stray lines
                problems.append(error(path, number, 1, "ris-syntax",
                                      "expected a RIS line such as 'TY  - JOUR' (two letters, "
                                      "two spaces, a hyphen and a space)"))
            junk = bool(line.strip()) and (current is None or not current[1])
            continue
        junk = False
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY":
            if current is not None:
                problems.append(_unclosed(path, current[0]))
                records.append(current)
            current = (number, [(tag, value)])
        elif current is None:
            problems.append(error(path, number, 1, "ris-syntax",
                                  f"'{tag}' line outside a record; a record starts with "
                                  "'TY  - ' and ends with 'ER  - '"))
        elif tag == "ER":
            records.append(current)
            current = None
        else:
            current[1].append((tag, value))
    if current is not None:
        problems.append(_unclosed(path, current[0]))
        records.append(current)
    works = [work for line, tags in records
             if (work := _work(line, tags, path, problems)) is not None]
    return works, problems


def _unclosed(path: str, line: int) -> Diagnostic:
    return warning(path, line, 1, "ris-syntax", "record has no 'ER  - ' line; read to the "
                   "next 'TY  - ' or the end of the file")


def _work(line: int, tags: Tags, path: str, problems: list[Diagnostic]) -> Work | None:
    values: dict[str, list[str]] = {}
    for tag, value in tags:
        if value:
            values.setdefault(tag, []).append(value)

    def first(*names: str) -> str | None:
        return next((values[name][0] for name in names if name in values), None)

    ris_type = (first("TY") or "").upper()
    entry_type, kind = _TYPES.get(ris_type, ("misc", None))
    title = first("TI", "T1", "CT")
    if not title:
        problems.append(error(path, line, 1, "missing-title",
                              "record has no title (TI or T1); not imported"))
        return None
    fields: dict[str, str] = {"title": clean_title(title)}
    container = first("T2", "JF", "BT", "JO", "JA", "J2")
    abbreviation = first("J2", "JA", "JO") if entry_type == "article" else None
    if entry_type == "article" and (abbreviation or container):
        fields["journal"] = clean_abbreviation(abbreviation) if abbreviation else clean(container)
    elif entry_type in ("incollection", "inproceedings") and container:
        fields["booktitle"] = clean(container)
    _dates(first("PY", "Y1", "DA"), first("DA", "PY", "Y1"), fields)
    _copy(fields, {"volume": first("VL"), "number": first("IS"), "edition": first("ET"),
                   "publisher": first("PB"), "address": first("CY")})
    if entry_type == "techreport" and "publisher" in fields:
        fields["institution"] = fields.pop("publisher")
    if entry_type == "phdthesis" and "publisher" in fields:
        fields["school"] = fields.pop("publisher")
    start, end = first("SP"), first("EP")
    if start:
        fields["pages"] = page_range(f"{start}-{end}" if end and end != start else start)
    _identifiers(values, fields)
    kind = _kind(first("M3") or "", kind)
    authors = tuple(split_name(v) for tag in ("AU", "A1") for v in values.get(tag, []))
    editors = tuple(split_name(v) for tag in ("A2", "ED") for v in values.get(tag, []))
    if entry_type == "article":
        editors = ()  # A2 of a journal article is not an editor of anything we print
    return Work(entry_type, kind, authors, fields, line, editors)


def _dates(year_source: str | None, date_source: str | None, fields: dict[str, str]) -> None:
    year = find_year(year_source or "") or find_year(date_source or "")
    if year:
        fields["year"] = year
    for source in (date_source, year_source):
        match = _DATE.match(source or "")
        if match and match.group(2) and (month := month_name(match.group(2))):
            fields["month"] = month
            return


def _identifiers(values: dict[str, list[str]], fields: dict[str, str]) -> None:
    doi = next(iter(values.get("DO", [])), None)
    if doi:
        fields["doi"] = doi.strip()
    url = next(iter(values.get("UR", [])), None) or next(iter(values.get("L2", [])), None)
    if url:
        fields["url"] = url.strip()
    notes = " ".join(v for tag in ("N1", "M1", "AN", "C7") for v in values.get(tag, []))
    databases = " ".join(values.get("DB", []) + values.get("DP", [])).lower()
    pmid = _PMID.search(notes)
    accession = next(iter(values.get("AN", [])), "")
    if pmid:
        fields["pmid"] = pmid.group(1)
    elif accession.isdigit() and ("pubmed" in databases or "medline" in databases):
        fields["pmid"] = accession
    pmcid = _PMCID.search(notes)
    if pmcid:
        fields["pmcid"] = pmcid.group(1).upper()
    access = next(iter(values.get("Y2", [])), "")
    match = _DATE.match(access)
    if "url" in fields and match and match.group(2) and match.group(3):
        fields["urldate"] = f"{match.group(1)}-{int(match.group(2)):02d}-{int(match.group(3)):02d}"


def _kind(type_of_work: str, default: str | None) -> str | None:
    text = type_of_work.lower()
    if "guideline" in text:
        return "guideline"
    if "review" in text:
        return "review"
    return default


def _copy(fields: dict[str, str], values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value and clean(value):
            fields[name] = clean(value)

