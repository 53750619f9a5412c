"""A DOI or PMID -> a `Work`, asked of Crossref or NCBI E-utilities (`clinsite refs add`).

The only module that goes on the network. The services' addresses can be changed with
CLINSITE_CROSSREF_URL and CLINSITE_EUTILS_URL (tests point them at a local server);
every failure becomes one `FetchError` sentence, never a traceback.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request

from clinsite import __version__
from clinsite.diagnostics import Diagnostic
from clinsite.refs.csl import work_from_item
from clinsite.refs.medline import parse_medline
from clinsite.refs.model import Work

CROSSREF_URL = "https://api.crossref.org"
EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
TIMEOUT = 20.0
USER_AGENT = f"clinsite/{__version__} (reference import)"


class FetchError(Exception):
    """The record could not be fetched; the message says why and what to do."""


def crossref_url() -> str:
    return os.environ.get("CLINSITE_CROSSREF_URL", CROSSREF_URL).rstrip("/")


def eutils_url() -> str:
    return os.environ.get("CLINSITE_EUTILS_URL", EUTILS_URL).rstrip("/")


def fetch_doi(doi: str) -> Work:
    """The Crossref record of `doi` (a bare DOI such as ``10.1128/AAC.00615-10``)."""
    url = f"{crossref_url()}/works/{urllib.parse.quote(doi, safe='')}"
    data = _get(url, "application/json", "Crossref", f"DOI {doi}")
    try:
        answer = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FetchError(f"Crossref's answer for DOI {doi} is not valid JSON ({exc})") from None
    message = answer.get("message") if isinstance(answer, dict) else None
    if isinstance(answer, dict) and "message" not in answer and "title" in answer:
        message = answer  # plain CSL-JSON (content negotiation at doi.org)
    if not isinstance(message, dict):
        raise FetchError(f"Crossref's answer for DOI {doi} has no record in it")
    problems: list[Diagnostic] = []
    work = work_from_item(message, 1, url, problems)
    if work is None:
        raise FetchError(f"Crossref's record for DOI {doi} has no title; add it by hand")
    if "doi" not in work.fields:
        work = Work(work.entry_type, work.kind, work.authors, {**work.fields, "doi": doi},
                    work.line, work.editors)
    return work


def fetch_pmid(pmid: str) -> Work:
    """The PubMed record of `pmid`, in MEDLINE format, from E-utilities efetch."""
    query = urllib.parse.urlencode({"db": "pubmed", "id": pmid, "rettype": "medline",
                                    "retmode": "text", "tool": "clinsite"})
    url = f"{eutils_url()}/efetch.fcgi?{query}"
    data = _get(url, "text/plain", "PubMed (NCBI E-utilities)", f"PMID {pmid}")
    works, _ = parse_medline(data.decode("utf-8", errors="replace").replace("\r\n", "\n"), url)
    found = [work for work in works if work.fields.get("pmid") == pmid]
    if not found:
        raise FetchError(f"PubMed has no record with PMID {pmid}")
    return found[0]


def _get(url: str, accept: str, service: str, what: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": USER_AGENT})
    host = urllib.parse.urlsplit(url).netloc
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise FetchError(f"{service} has no record of {what}") from None
        raise FetchError(f"{service} answered HTTP {exc.code} ({exc.reason}) for {what}; "
                         "try again later") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"cannot reach {service} at {host} ({reason}); are you offline? "
                         "Export the record and use 'clinsite refs import FILE' instead"
                         ) from None
    except (OSError, ValueError) as exc:
        raise FetchError(f"cannot fetch {what} from {service}: {exc}") from None
