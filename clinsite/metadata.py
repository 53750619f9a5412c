"""Machine-readable page metadata: Highwire Press tags and schema.org JSON-LD.

Google Scholar and reference managers read `citation_*` meta tags; search
engines read `MedicalWebPage` JSON-LD. Both are built from the same values as
the visible page, so they cannot disagree with it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from clinsite.references import Reference

AUDIENCE_TYPES = {"clinician": ["Clinician"], "patient": ["Patient"],
                  "both": ["Clinician", "Patient"]}


@dataclass(frozen=True, slots=True)
class PageFacts:
    """What the metadata says about one page."""

    title: str
    description: str
    url: str  # absolute
    publisher: str
    site_title: str
    updated: dt.date
    reviewed: dt.date | None
    reviewers: Sequence[tuple[str, str]]  # (name, credentials)
    audience: str
    language: str
    references: Sequence[Reference]
    kind: str = "MedicalWebPage"


def doi_url(doi: str) -> str:
    return f"https://doi.org/{doi}"


def pubmed_url(pmid: str) -> str:
    return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"


def highwire_reference(ref: Reference) -> str:
    """One `citation_reference` value, in Google Scholar's `key=value; ...` form."""
    parts = [f"citation_title={ref.title}"]
    parts += [f"citation_author={name}" for name in ref.authors]
    if ref.container:
        key = "citation_journal_title" if ref.entry_type == "article" else "citation_publisher"
        parts.append(f"{key}={ref.container}")
    if ref.year:
        parts.append(f"citation_publication_date={ref.year}")
    if ref.doi:
        parts.append(f"citation_doi={ref.doi}")
    if ref.pmid:
        parts.append(f"citation_pmid={ref.pmid}")
    return "; ".join(p.replace(";", ",") for p in parts)


def highwire_tags(facts: PageFacts) -> list[tuple[str, str]]:
    """(name, content) pairs for `<meta name=... content=...>`."""
    date = facts.updated.strftime("%Y/%m/%d")
    tags = [
        ("citation_title", facts.title),
        ("citation_author", facts.publisher),
        ("citation_publication_date", date),
        ("citation_online_date", date),
        ("citation_publisher", facts.publisher),
        ("citation_public_url", facts.url),
        ("citation_language", facts.language),
    ]
    tags += [("citation_reference", highwire_reference(ref)) for ref in facts.references]
    return tags


def json_ld(facts: PageFacts) -> dict[str, Any]:
    """schema.org `MedicalWebPage` with its review, audience and citations."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": facts.kind,
        "name": facts.title,
        "headline": facts.title,
        "description": facts.description,
        "url": facts.url,
        "inLanguage": facts.language,
        "dateModified": facts.updated.isoformat(),
        "isPartOf": {"@type": "WebSite", "name": facts.site_title},
        "publisher": {"@type": "Organization", "name": facts.publisher},
        "about": {"@type": "Thing", "name": facts.title},
        "audience": [{"@type": "MedicalAudience", "audienceType": kind}
                     for kind in AUDIENCE_TYPES.get(facts.audience, ["Clinician"])],
    }
    if facts.reviewed is not None:
        data["lastReviewed"] = facts.reviewed.isoformat()
    if facts.reviewers:
        data["reviewedBy"] = [{"@type": "Person", "name": name, "honorificSuffix": creds}
                              for name, creds in facts.reviewers]
    if facts.references:
        data["citation"] = [_cited_work(ref) for ref in facts.references]
    return data


def _cited_work(ref: Reference) -> dict[str, Any]:
    work: dict[str, Any] = {
        "@type": "ScholarlyArticle" if ref.entry_type == "article" else "CreativeWork",
        "name": ref.title,
        "description": ref.text,
    }
    if ref.authors:
        work["author"] = [{"@type": "Person", "name": name} for name in ref.authors]
    if ref.year:
        work["datePublished"] = ref.year
    same_as = [doi_url(ref.doi)] if ref.doi else []
    if ref.pmid:
        same_as.append(pubmed_url(ref.pmid))
    if ref.url:
        same_as.append(ref.url)
    if same_as:
        work["sameAs"] = same_as
    return work


def script_json(data: object) -> Markup:
    """JSON safe inside `<script>`: `<`, `>` and `&` escaped, so content can never
    close the element, whatever it contains."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)
