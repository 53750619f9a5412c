"""Site-wide listings for machines: sitemap.xml, feed.xml (Atom), robots.txt, api JSON.

Built from collected page metadata, never by re-reading rendered pages, so
their cost grows linearly with the number of pages.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass


# (xml.sax.saxutils has these, but importing it imports urllib.request, http.client and
# ssl: a twentieth of a second of every build's start-up.)
def escape(data: str) -> str:
    """Escape "&", "<" and ">" for XML text (as xml.sax.saxutils.escape)."""
    return data.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def quoteattr(data: str) -> str:
    """`data` escaped and quoted as an XML attribute value (as xml.sax.saxutils.quoteattr)."""
    data = escape(data).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' in data:
        if "'" in data:
            return '"{}"'.format(data.replace('"', "&quot;"))
        return f"'{data}'"
    return f'"{data}"'


@dataclass(frozen=True, slots=True)
class FeedEntry:
    title: str
    url: str  # absolute
    updated: dt.date
    summary: str  # plain text
    kind: str  # "summary", "drug" or "page"


@dataclass(frozen=True, slots=True)
class SummaryRecord:
    """One row of api/summaries.json."""

    slug: str
    title: str
    url: str
    updated: dt.date
    review_status: str
    reviewers: tuple[str, ...]
    reviewed: dt.date | None
    tags: tuple[str, ...]
    audience: str
    reference_dois: tuple[str, ...]


def rfc3339(day: dt.date) -> str:
    """Midnight UTC of `day`, as Atom wants (RFC 3339)."""
    return f"{day.isoformat()}T00:00:00Z"


def sitemap(entries: Sequence[FeedEntry], home: str, home_updated: dt.date | None) -> str:
    urls = [(home, home_updated)] + [(e.url, e.updated) for e in entries]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for url, updated in urls:
        lastmod = f"<lastmod>{updated.isoformat()}</lastmod>" if updated else ""
        lines.append(f"  <url><loc>{escape(url)}</loc>{lastmod}</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def atom_feed(entries: Sequence[FeedEntry], *, title: str, home: str, publisher: str,
              language: str) -> str:
    """The summaries, newest first (ties by URL, so the order is stable)."""
    items = sorted(entries, key=lambda e: (e.updated, e.url), reverse=True)
    updated = items[0].updated if items else dt.date(1970, 1, 1)
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang={quoteattr(language)}>',
             f"  <title>{escape(title)}</title>",
             f"  <id>{escape(home)}</id>",
             f"  <link rel=\"alternate\" href={quoteattr(home)}/>",
             f"  <link rel=\"self\" href={quoteattr(home + 'feed.xml')}/>",
             f"  <updated>{rfc3339(updated)}</updated>",
             f"  <author><name>{escape(publisher)}</name></author>"]
    for e in items:
        lines += ["  <entry>",
                  f"    <title>{escape(e.title)}</title>",
                  f"    <id>{escape(e.url)}</id>",
                  f"    <link rel=\"alternate\" href={quoteattr(e.url)}/>",
                  f"    <updated>{rfc3339(e.updated)}</updated>",
                  f"    <summary>{escape(e.summary)}</summary>",
                  "  </entry>"]
    lines.append("</feed>")
    return "\n".join(lines) + "\n"


def robots(home: str) -> str:
    return f"User-agent: *\nAllow: /\n\nSitemap: {home}sitemap.xml\n"


def summaries_json(records: Sequence[SummaryRecord], *, site: str, home: str) -> str:
    data = {
        "site": site,
        "url": home,
        "summaries": [
            {"slug": r.slug, "title": r.title, "url": r.url, "updated": r.updated.isoformat(),
             "review": {"status": r.review_status, "reviewers": list(r.reviewers),
                        "reviewed": r.reviewed.isoformat() if r.reviewed else None},
             "tags": list(r.tags), "audience": r.audience,
             "reference_dois": list(r.reference_dois)}
            for r in sorted(records, key=lambda r: r.slug)
        ],
    }
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"
