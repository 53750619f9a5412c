"""The Vancouver (NLM *Citing Medicine*) reference style, as a pybtex formatting style.

Stage: reference formatting. A pybtex `Entry` goes in; a `FormattedReference`
(plain text and HTML) comes out. The reference store calls `format_entry` once
per cited entry; everything here is pure.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from pybtex.backends import html as html_backend
from pybtex.backends import plaintext as plaintext_backend
from pybtex.database import Entry, Person
from pybtex.richtext import BaseText, HRef, String, Text
from pybtex.style import FormattedEntry
from pybtex.style.formatting import BaseStyle, toplevel
from pybtex.style.template import (
    FieldIsMissing,
    Node,
    field,
    first_of,
    join,
    node,
    optional,
    sentence,
    words,
)

from clinsite.identifiers import MONTHS, identifier_link, is_web_url, latex_to_text

MAX_AUTHORS = 6


@dataclass(frozen=True, slots=True)
class FormattedReference:
    """One entry in Vancouver style: `text` is plain, `html` is escaped with links."""

    text: str
    html: str


# --- names, dates and pages as plain text ---


def is_others(person: Person) -> bool:
    """True for BibTeX's ``and others`` pseudo-author."""
    return person.last_names == ["others"] and not person.first_names


def _initials(given_name: str) -> str:
    """``Jean-Pierre`` -> ``JP``, ``A.`` -> ``A``: NLM initials, no periods or spaces."""
    parts = re.split(r"[-\u2010\u2011]", latex_to_text(given_name))
    firsts = (next((c for c in part if c.isalnum()), "") for part in parts)
    return "".join(firsts).upper()


def format_person(person: Person) -> str:
    """``Surname Initials Suffix`` (``van der Berg J``, ``Smith J Jr``); a {corporate} name."""
    surname = tuple(person.prelast_names + person.last_names)
    given = tuple(person.first_names + person.middle_names)
    return _vancouver_name(surname, given, tuple(person.lineage_names))


@lru_cache(maxsize=16384)
def _vancouver_name(
    surname: tuple[str, ...], given: tuple[str, ...], lineage: tuple[str, ...]
) -> str:
    """Cached: the same authors recur across a reference store."""
    parts = (
        " ".join(latex_to_text(p) for p in surname),
        "".join(_initials(n) for n in given),
        " ".join(latex_to_text(p) for p in lineage),
    )
    return " ".join(part for part in parts if part)


def display_names(entry: Entry, role: str = "author") -> tuple[tuple[str, ...], bool]:
    """Every named person of `role`, formatted, and whether the list ends in ``and others``."""
    persons = entry.persons.get(role, [])
    named = tuple(format_person(p) for p in persons if not is_others(p))
    return tuple(name for name in named if name), any(is_others(p) for p in persons)


def month_abbreviation(value: str) -> str:
    """``feb``/``February``/``2`` -> ``Feb``; anything else (``Jul-Aug``) as written."""
    text = latex_to_text(value)
    if text.isdigit() and 1 <= int(text) <= 12:
        return MONTHS[int(text) - 1]
    key = text[:3].capitalize()
    full = re.fullmatch(r"[A-Za-z]+\.?", text)
    return key if full and key in MONTHS else text


def cited_date(value: str) -> str:
    """``2026-11-21`` -> ``2026 Nov 21`` (NLM's date order); other values as written."""
    match = re.fullmatch(r"([0-9]{4})(?:-([0-9]{1,2})(?:-([0-9]{1,2}))?)?", value.strip())
    if not match or (match[2] and not 1 <= int(match[2]) <= 12):
        return latex_to_text(value)
    year, month, day = match.groups()
    parts = [year, MONTHS[int(month) - 1] if month else "", str(int(day)) if day else ""]
    return " ".join(part for part in parts if part)


_RANGE = re.compile(r"([A-Za-z]*)([0-9]+)\s*(?:-+|\u2013|\u2014)\s*([A-Za-z]*)([0-9]+)")
_DASHES = re.compile(r"\s*(?:-+|\u2013|\u2014)\s*")


def _shorten_range(pages: str) -> str:
    match = _RANGE.fullmatch(pages.strip())
    if not match:
        return _DASHES.sub("-", latex_to_text(pages))
    prefix, first, prefix2, last = match.groups()
    if (prefix2 and prefix2 != prefix) or len(first) != len(last):
        return f"{prefix}{first}-{prefix2}{last}"
    if first == last:
        return f"{prefix}{first}"
    same = next(i for i, (a, b) in enumerate(zip(first, last, strict=True)) if a != b)
    return f"{prefix}{first}-{last[same:]}"


def shorten_pages(pages: str) -> str:
    """NLM page ranges: ``459--472`` -> ``459-72``, ``e123--e130`` -> ``e123-30``."""
    return ", ".join(_shorten_range(part) for part in pages.split(",") if part.strip())


def edition_text(value: str) -> str:
    """``2`` -> ``2nd`` (NLM numbers editions); other values (``Revised``) as written."""
    text = latex_to_text(value)
    if not text.isdigit():
        return text
    ending = {1: "st", 2: "nd", 3: "rd"}.get(int(text) % 10, "th")
    return f"{text}{'th' if 10 <= int(text) % 100 <= 20 else ending}"


# --- template nodes (typed alias: pybtex has no annotations) ---

_node: Callable[[Callable[..., Text]], Node] = node


def _field_value(entry: Entry, name: str) -> str:
    value: str = entry.fields.get(name, "")
    return value.strip()


def _present(entry: Entry, name: str) -> str:
    """The non-blank value of a field, or FieldIsMissing (which `optional` catches)."""
    value = _field_value(entry, name)
    if not value:
        raise FieldIsMissing(name, entry)
    return value


def latex(name: str, convert: Callable[[str], str] = latex_to_text) -> Node:
    """`field(name)` rendered through `convert`; a blank value counts as missing."""

    def apply(value: str) -> Text:
        if not value.strip():
            raise FieldIsMissing(name, None)
        return Text(convert(value))

    return field(name, raw=True, apply_func=apply)


@_node
def first_field(children: list[Any], context: dict[str, Any], *names: str) -> Text:
    """The first present field among `names` (e.g. organization, publisher, institution)."""
    entry = context["entry"]
    value = next((value for name in names if (value := _field_value(entry, name))), None)
    if value is None:
        raise FieldIsMissing(names[0], entry)
    return Text(latex_to_text(value))


@_node
def when(children: list[Any], context: dict[str, Any], name: str) -> Text:
    """`children` if the entry has field `name` (``[Internet]`` only with a web URL)."""
    value = _present(context["entry"], name)
    if name == "url" and not is_web_url(value):
        raise FieldIsMissing(name, context["entry"])
    return join[children].format_data(context)


@_node
def person_list(children: list[Any], context: dict[str, Any], role: str) -> Text:
    """``Piret J, Boivin G``; six names at most, then ``et al``."""
    entry = context["entry"]
    names, others = display_names(entry, role)
    if not names:
        raise FieldIsMissing(role, entry)
    more = others or len(names) > MAX_AUTHORS
    return Text(", ".join(names[:MAX_AUTHORS] + (("et al",) if more else ())))


@_node
def editor_list(children: list[Any], context: dict[str, Any]) -> Text:
    """``Smith J, Doe A, editors`` (``editor`` for a single named editor)."""
    names, others = display_names(context["entry"], "editor")
    word = "editor" if len(names) == 1 and not others else "editors"
    return join(sep=", ")[person_list("editor"), word].format_data(context)


@_node
def journal_details(children: list[Any], context: dict[str, Any]) -> Text:
    """``2011 Feb;55(2):459-72.``: each part only when present (``2022;206:115322.``).

    One node rather than nested `join`/`optional`: this runs for every article
    and pybtex's generic nodes cost ~10x more here.
    """
    entry = context["entry"]
    year, month = _field_value(entry, "year"), _field_value(entry, "month")
    issue = _field_value(entry, "number") or _field_value(entry, "issue")
    pages = _field_value(entry, "pages")
    date = " ".join(p for p in (latex_to_text(year), month and month_abbreviation(month)) if p)
    volume = latex_to_text(_field_value(entry, "volume"))
    volume_issue = volume + (f"({latex_to_text(issue)})" if issue else "")
    head = ";".join(p for p in (date, volume_issue) if p)
    text = ":".join(p for p in (head, pages and shorten_pages(pages)) if p)
    return Text(text if text.endswith(".") else f"{text}.") if text else Text()


@_node
def identifiers(children: list[Any], context: dict[str, Any]) -> Text:
    """``doi: 10.x/y. PMID: 123; PMCID: PMC456.`` (PubMed's order), linked when valid."""
    entry = context["entry"]
    doi, pmid, pmcid = (_field_value(entry, name) for name in ("doi", "pmid", "pmcid"))
    parts: list[str | BaseText] = []
    if doi:
        parts += ["doi: ", _identifier("doi", doi), ". " if pmid or pmcid else "."]
    if pmid:
        parts += ["PMID: ", _identifier("pmid", pmid), "; " if pmcid else "."]
    if pmcid:
        parts += ["PMCID: ", _identifier("pmcid", pmcid), "."]
    return Text(*parts)  # one Text: pybtex's rich text is costly to build piecewise


@_node
def link(children: list[Any], context: dict[str, Any], name: str) -> Text:
    """The value of an identifier field, linked when it is valid, plain text otherwise."""
    return Text(_identifier(name, _present(context["entry"], name)))


def _identifier(name: str, value: str) -> BaseText:
    """The value, linked to its record when valid (only https links are ever built)."""
    target = identifier_link(name, value)
    return HRef(target.url, String(target.text)) if target else String(value)


# --- module-level fragments and templates ---

authors = optional[sentence[person_list("author")]]
editors = optional[sentence[editor_list]]
internet = optional[when("url")["[Internet]"]]
title = optional[sentence[latex("title")]]
web_title = optional[sentence(sep=" ")[latex("title"), internet]]
pages = latex("pages", shorten_pages)
cited = optional[when("url")["[cited ", latex("urldate", cited_date), "]"]]
edition = optional[sentence[words[latex("edition", edition_text), "ed"]]]
chapter_pages = optional[sentence[words["p.", pages]]]
report_number = optional[sentence[words["Report No.:", latex("number")]]]
available_from = optional[words["Available from:", link("url")]]


def publication(*publisher_fields: str) -> Node:
    """``Place: Publisher; Year [cited YYYY Mon D].``: each part only when present.

    The publisher is the first of `publisher_fields`, then organization and institution.
    """
    names = (*publisher_fields, "organization", "institution", "publisher")
    publisher = optional[first_field(*dict.fromkeys(names))]
    place_publisher = join(sep=": ")[optional[latex("address")], publisher]
    # NLM puts the date after the publisher's semicolon; with no year, the cited
    # date stands there alone ("Clinigen; [cited 2026 Nov 21].").
    date = join(sep=" ")[optional[latex("year")], cited]
    return sentence[join(sep="; ")[place_publisher, date]]


def in_container(container: str) -> Node:
    """``In: Smith J, editors. Book title [Internet].`` for chapters and conference papers."""
    book = sentence(sep=" ")[latex(container), internet]
    return optional[words["In:", join(sep=" ")[editors, book]]]


def medium_title(kind: str) -> Node:
    """``Title [dissertation]``, or ``[dissertation on the Internet]`` with a URL."""
    medium = first_of[optional[when("url")[f"[{kind} on the Internet]"]], f"[{kind}]"]
    return optional[sentence(sep=" ")[latex("title"), medium]]


def _template(*blocks: Node) -> Node:
    """An NLM reference: the blocks, then ``doi: ... PMID: ...`` and ``Available from: URL``."""
    return toplevel[(*blocks, identifiers, available_from)]


journal = optional[sentence[latex("journal")]]
ARTICLE = _template(authors, title, journal, journal_details)
BOOK = _template(first_of[authors, editors], web_title, edition, publication("publisher"))
BOOK_PART = _template(authors, web_title, edition, publication("publisher"), chapter_pages)
CHAPTER = _template(
    authors, title, in_container("booktitle"), edition, publication("publisher"), chapter_pages
)
REPORT = _template(authors, web_title, publication("institution", "publisher"), report_number)
WEB = _template(authors, web_title, publication("organization", "publisher", "institution"))
UNPUBLISHED = _template(
    authors, medium_title("unpublished manuscript"), optional[sentence[latex("year")]]
)
PHD_THESIS = _template(authors, medium_title("dissertation"), publication("school"))
MASTERS_THESIS = _template(authors, medium_title("master's thesis"), publication("school"))


class VancouverStyle(BaseStyle):  # type: ignore[misc]  # pybtex is untyped
    """NLM Citing Medicine: no case changes, six authors then et al, short page ranges."""

    default_name_style = "plain"

    def get_article_template(self, e: Entry) -> Node:
        return ARTICLE

    def get_book_template(self, e: Entry) -> Node:
        return BOOK

    def get_incollection_template(self, e: Entry) -> Node:
        return CHAPTER

    def get_inbook_template(self, e: Entry) -> Node:
        """biblatex-style @inbook (with a booktitle) is a chapter; BibTeX's is part of a book."""
        return CHAPTER if e.fields.get("booktitle", "").strip() else BOOK_PART

    def get_techreport_template(self, e: Entry) -> Node:
        return REPORT

    def get_phdthesis_template(self, e: Entry) -> Node:
        return PHD_THESIS

    def get_mastersthesis_template(self, e: Entry) -> Node:
        return MASTERS_THESIS

    def get_unpublished_template(self, e: Entry) -> Node:
        return UNPUBLISHED

    def get_misc_template(self, e: Entry) -> Node:
        """Guidelines, drug labels and web pages: NLM's format for web documents."""
        return WEB

    get_proceedings_template = get_book_template
    get_inproceedings_template = get_conference_template = get_incollection_template
    get_report_template = get_techreport_template
    get_online_template = get_manual_template = get_electronic_template = get_misc_template

    def template_for(self, entry: Entry) -> Node:
        """The template of the entry's type; any other type is formatted as @misc."""
        get_template = getattr(self, f"get_{entry.type}_template", self.get_misc_template)
        template: Node = get_template(entry)
        return template

    def format_entry(self, label: str, entry: Entry, bib_data: Any = None) -> FormattedEntry:
        """pybtex's entry point, with the @misc fallback for unknown types."""
        context = {"entry": entry, "style": self, "bib_data": bib_data}
        return FormattedEntry(entry.key, self.template_for(entry).format_data(context), label)


class _HtmlBackend(html_backend.Backend):  # type: ignore[misc]
    """pybtex's HTML backend without ``bibtex-protected`` spans and with escaped URLs."""

    symbols = MappingProxyType({"ndash": "\u2013", "newblock": " ", "nbsp": "&nbsp;"})

    def format_str(self, text: str) -> str:
        return html.escape(text, quote=False)

    def format_protected(self, text: str) -> str:
        return text

    def format_href(self, url: str, text: str, external: bool = False) -> str:
        if not is_web_url(url):
            return text
        return f'<a href="{html.escape(url, quote=True)}">{text}</a>' if text else ""


_STYLE = VancouverStyle()
_HTML = _HtmlBackend()
_TEXT = plaintext_backend.Backend()


def format_entry(entry: Entry) -> FormattedReference:
    """Format one entry in Vancouver style, as plain text and as HTML."""
    context = {"entry": entry, "style": _STYLE, "bib_data": None}
    rich = _STYLE.template_for(entry).format_data(context)
    if not rich:  # nothing printable (the store warns): show the key rather than nothing
        return FormattedReference(text=entry.key, html=html.escape(entry.key))
    return FormattedReference(text=rich.render(_TEXT), html=rich.render(_HTML))
