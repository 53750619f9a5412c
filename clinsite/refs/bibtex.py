"""A `Work` -> a BibTeX entry in the store's house style, and its `firstauthorYEARword` key.

Values are LaTeX-escaped (so ``&`` or ``%`` in a title cannot break the file), titles
are wrapped in an extra pair of braces (so other BibTeX tools keep their case), and
identifiers are written verbatim, as biblatex and our loader expect them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection

from clinsite.refs.model import Name, Work
from clinsite.scaffold import ascii_fold

FIELD_ORDER = ("author", "editor", "title", "booktitle", "journal", "edition", "publisher",
               "institution", "school", "address", "year", "month", "volume", "number",
               "pages", "doi", "pmid", "pmcid", "url", "urldate", "kind")
VERBATIM = frozenset({"doi", "pmid", "pmcid", "url", "urldate"})
_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%",
            "$": r"\$", "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}",
            "^": r"\textasciicircum{}"}
_SPECIAL = re.compile(r"[\\{}&%$#_~^]")
_WORD = re.compile(r"[A-Za-z0-9]+")
# Words skipped when choosing the key's title word.
STOPWORDS = frozenset((
    "a", "an", "the", "of", "on", "in", "at", "to", "for", "from", "by", "with", "without",
    "and", "or", "but", "nor", "not", "no", "is", "are", "was", "were", "be", "been", "being",
    "do", "does", "did", "can", "could", "should", "would", "will", "may", "might", "must",
    "shall", "what", "which", "who", "whom", "whose", "how", "why", "when", "where", "whether",
    "this", "that", "these", "those", "there", "its", "it", "their", "our", "your", "my",
    "his", "her", "as", "into", "onto", "via", "vs", "versus", "among", "between", "after",
    "before", "than", "over", "under", "about", "against", "during", "within", "per", "new",
))
_SUFFIX_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def latex_escape(text: str) -> str:
    """Escape the characters LaTeX treats specially; other Unicode stays as it is (UTF-8)."""
    return _SPECIAL.sub(lambda m: _ESCAPES[m.group()], text)


def _name(name: Name) -> str:
    if name.literal:
        return "{" + latex_escape(name.family) + "}"  # an organisation: never split
    family = latex_escape(name.family)
    if " and " in f" {name.family.lower()} " or "," in name.family:
        family = "{" + family + "}"
    if not name.given:
        return "{" + family + "}" if " " in family else family
    return f"{family}, {latex_escape(name.given)}"


def _value(field: str, value: str) -> str:
    if field == "month":
        return value  # a month macro (feb), as BibTeX styles expect
    if field in VERBATIM:
        return "{" + re.sub(r"[{}\\\s]", "", value) + "}"
    if field == "title":
        return "{{" + latex_escape(value) + "}}"
    return "{" + latex_escape(value) + "}"


def entry_text(work: Work, key: str) -> str:
    """The BibTeX entry for `work` under `key`, ending with a newline."""
    values: dict[str, str] = {name: value for name, value in work.fields.items() if value}
    if work.authors:
        values["author"] = " and ".join(_name(n) for n in work.authors)
    if work.editors:
        values["editor"] = " and ".join(_name(n) for n in work.editors)
    if work.kind:
        values["kind"] = work.kind
    names = [name for name in FIELD_ORDER if name in values]
    width = max(len(name) for name in names)
    lines = [f"  {name.ljust(width)} = {_field(name, values)}" for name in names]
    return f"@{work.entry_type}{{{key},\n" + ",\n".join(lines) + "\n}\n"


def _field(name: str, values: dict[str, str]) -> str:
    if name in ("author", "editor"):
        return "{" + values[name] + "}"  # names are escaped one by one
    return _value(name, values[name])


def _fold_word(text: str) -> str:
    return "".join(_WORD.findall(ascii_fold(text))).lower()


def base_key(work: Work) -> str:
    """``piret2011resistance``: first author's surname, year, first significant title word."""
    people = work.authors or work.editors
    surname = ""
    if people:
        first = people[0]
        surname = _fold_word(first.family.split()[0] if first.literal else first.family)
    year = work.fields.get("year", "nd")
    words = [w.lower() for w in _WORD.findall(ascii_fold(work.title))]
    word = next((w for w in words if w not in STOPWORDS and not w.isdigit()), "")
    return f"{surname or 'anon'}{year}{word[:24]}"


def unique_key(base: str, taken: Collection[str]) -> str:
    """`base`, or `base` + a, b, ... z, then aa, ab, ...: the first not in `taken` (folded)."""
    if base.casefold() not in taken:
        return base
    for length in itertools.count(1):
        for letters in itertools.product(_SUFFIX_LETTERS, repeat=length):
            candidate = base + "".join(letters)
            if candidate.casefold() not in taken:
                return candidate
    raise AssertionError("unreachable")  # pragma: no cover
