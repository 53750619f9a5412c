"""A page's own citation -> Vancouver text, BibTeX, RIS and CSL-JSON (part of render).

"Cite this page" offers the same record four ways so readers can paste it or
import it into Zotero, EndNote or Mendeley. Pure functions of `PageCitation`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass

from clinsite.identifiers import MONTHS

_BIBTEX_SPECIAL = re.compile(r"([&%$#_{}~^\\])")


@dataclass(frozen=True, slots=True)
class PageCitation:
    """What identifies one published page."""

    slug: str
    title: str
    publisher: str
    site_title: str
    url: str  # absolute
    updated: dt.date
    cited: dt.date  # the build's "today"
    language: str = "en"


def nlm_date(day: dt.date) -> str:
    """``2026 Nov 21``, NLM's date form."""
    return f"{day.year} {MONTHS[day.month - 1]} {day.day}"


def vancouver(c: PageCitation) -> str:
    """NLM *Citing Medicine* for a part of a web site, with dates updated and cited."""
    title = f"{c.title.rstrip('.')} [Internet]."
    return (f"{c.publisher}. {title} {c.publisher}; {c.updated.year} "
            f"[updated {nlm_date(c.updated)}; cited {nlm_date(c.cited)}]. "
            f"Available from: {c.url}")


def _bibtex_escape(text: str) -> str:
    return _BIBTEX_SPECIAL.sub(lambda m: "\\" + m.group(1) if m.group(1) not in "~^\\"
                               else {"~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                                     "\\": r"\textbackslash{}"}[m.group(1)], text)


def bibtex_key(c: PageCitation) -> str:
    ascii_name = unicodedata.normalize("NFKD", c.publisher).encode("ascii", "ignore").decode()
    word = re.sub(r"[^a-z0-9]", "", ascii_name.lower().split(" ")[0]) or "page"
    return f"{word}{c.updated.year}{c.slug.replace('-', '')[:30]}"


def bibtex(c: PageCitation) -> str:
    """A `@misc` entry (BibLaTeX readers also take `@online`; @misc imports everywhere)."""
    fields = [
        ("author", "{" + _bibtex_escape(c.publisher) + "}"),
        ("title", "{" + _bibtex_escape(c.title) + "}"),
        ("organization", _bibtex_escape(c.publisher)),
        ("howpublished", _bibtex_escape(c.site_title)),
        ("year", str(c.updated.year)),
        ("month", MONTHS[c.updated.month - 1].lower()),
        ("url", c.url),
        ("urldate", c.cited.isoformat()),
        ("note", f"Last updated {c.updated.isoformat()}"),
        ("language", c.language),
    ]
    body = ",\n".join(f"  {name} = {value if name == 'month' else '{' + value + '}'}"
                      for name, value in fields)
    return f"@misc{{{bibtex_key(c)},\n{body}\n}}\n"


def ris(c: PageCitation) -> str:
    """An RIS record (`TY  - ELEC` ... `ER  -`), CRLF line ends as the format wants."""
    lines = [
        ("TY", "ELEC"), ("TI", c.title), ("AU", c.publisher), ("A2", c.site_title),
        ("PB", c.publisher), ("PY", str(c.updated.year)),
        ("DA", c.updated.strftime("%Y/%m/%d")), ("Y2", c.cited.strftime("%Y/%m/%d")),
        ("UR", c.url), ("LA", c.language), ("ER", ""),
    ]
    return "".join(f"{tag}  - {_one_line(value)}\r\n" for tag, value in lines)


def _one_line(value: str) -> str:
    """RIS has one field a line: a line break in a value must not start a new field."""
    return " ".join(value.split())


def csl_json(c: PageCitation) -> str:
    """A one-item CSL-JSON array, the form Zotero and citeproc read."""
    item = {
        "id": bibtex_key(c),
        "type": "webpage",
        "title": c.title,
        "author": [{"literal": c.publisher}],
        "publisher": c.publisher,
        "container-title": c.site_title,
        "URL": c.url,
        "language": c.language,
        "issued": {"date-parts": [[c.updated.year, c.updated.month, c.updated.day]]},
        "accessed": {"date-parts": [[c.cited.year, c.cited.month, c.cited.day]]},
    }
    return safe_json(json.dumps([item], ensure_ascii=False, indent=2)) + "\n"


def safe_json(text: str) -> str:
    """JSON with `<`, `>` and `&` escaped: the same data, never sniffable as HTML."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
