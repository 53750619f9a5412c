"""Identifiers and BibTeX text shared by the reference store and the Vancouver style.

Stage: helpers (pure). A field value goes in; a validated identifier (DOI, PMID,
PMCID, web URL) or the value as plain text comes out.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# --- identifiers: which values may become links ---

_DOI = re.compile(r"10\.[0-9]{4,9}/\S+")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
PMID = re.compile(r"[0-9]+")  # use with fullmatch
PMCID = re.compile(r"PMC[0-9]+")
_URL_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f]")


def normalize_doi(value: str) -> str | None:
    """The bare DOI (``10.x/y``) of a DOI or doi.org URL, or None if it is not one."""
    doi = _DOI_PREFIX.sub("", value.strip())
    return doi if _DOI.fullmatch(doi) else None


def is_web_url(value: str) -> bool:
    """True for an absolute http(s) URL: the only URLs we ever turn into links."""
    if _URL_FORBIDDEN.search(value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


@dataclass(frozen=True, slots=True)
class Link:
    """Where a valid identifier points, and the text shown for it."""

    url: str
    text: str


def identifier_link(name: str, value: str) -> Link | None:
    """The link of a valid ``doi``/``pmid``/``pmcid``/``url`` value; None if never linked."""
    if name == "doi" and (doi := normalize_doi(value)):
        return Link("https://doi.org/" + quote(doi, safe="/:;()[]._-~!$&'*+,=@"), doi)
    if name == "pmid" and PMID.fullmatch(value):
        return Link(f"https://pubmed.ncbi.nlm.nih.gov/{value}/", value)
    if name == "pmcid" and PMCID.fullmatch(value):
        return Link(f"https://www.ncbi.nlm.nih.gov/pmc/articles/{value}/", value)
    return Link(value, value) if name == "url" and is_web_url(value) else None


# --- LaTeX as plain text ---

_NEEDS_CODEC = re.compile(r"[\\$~]|--|``|''")
_FORMAT_COMMAND = re.compile(
    r"\\(?:emph|text(?:it|bf|sc|rm|sf|tt|up|md|sl|normal|superscript|subscript)"
    r"|math(?:rm|it|bf)|mbox|url|NoCaseChange)\s*(?=\{)"
    r"|\\(?:em|it|bf|sc|rm|sl|sf|tt|upshape|itshape)\b\s*"
)
_BRACE = re.compile(r"(?<!\\)[{}]")


@lru_cache(maxsize=8192)
def latex_to_text(value: str) -> str:
    """Render a BibTeX field as plain text: accents decoded, braces dropped, case kept."""
    words = value.split()
    if _NEEDS_CODEC.search(value):
        words = [_decode_word(w) for w in _FORMAT_COMMAND.sub("", value).split()]
    text = _BRACE.sub("", " ".join(words)).replace("\\{", "{").replace("\\}", "}")
    return " ".join(text.replace("\xa0", " ").split())


@lru_cache(maxsize=8192)
def _decode_word(word: str) -> str:
    """latexcodec, one word at a time: it costs ~8 us per character, so plain words skip it."""
    if not _NEEDS_CODEC.search(word):
        return word
    import latexcodec  # noqa: F401  (registers the "ulatex" codec; imported when first needed)

    try:
        return str(codecs.decode(word, "ulatex"))  # type: ignore[call-overload]
    except (UnicodeError, ValueError):
        return word  # e.g. a lone backslash: show it as written
