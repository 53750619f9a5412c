"""Works -> new entries appended to references/*.bib, refusing what the store already holds.

A record is refused when the store (or an earlier record of the same import) has its
DOI, its PMID, or its key with the same title; a different work whose key happens to
be taken gets a letter suffix instead (``smith2020trial``, ``smith2020triala``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from clinsite.diagnostics import Diagnostic, warning
from clinsite.identifiers import PMCID, PMID, is_web_url, normalize_doi
from clinsite.references import ReferenceStore, load_references
from clinsite.refs.bibtex import base_key, entry_text, unique_key
from clinsite.refs.csl import parse_csl_json
from clinsite.refs.medline import parse_medline
from clinsite.refs.model import Work
from clinsite.refs.ris import parse_ris

FORMATS = ("ris", "csl-json", "pubmed")
DEFAULT_TARGET = "imported.bib"
HEADER = ("% References brought in with `clinsite refs import` / `clinsite refs add`.\n"
          "% Check each entry against its source before citing it.\n")
_READERS = {"ris": parse_ris, "csl-json": parse_csl_json, "pubmed": parse_medline}
_SUFFIXES = {".ris": "ris", ".json": "csl-json", ".nbib": "pubmed", ".medline": "pubmed"}


class ImportFailure(Exception):
    """The import cannot run at all; `status` is the exit status (1 or 2)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class NewEntry:
    key: str
    work: Work
    text: str


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What an import adds, and a diagnostic (at the record) for each record refused."""

    entries: tuple[NewEntry, ...]
    refused: tuple[Diagnostic, ...]


def detect_format(text: str, name: str) -> str | None:
    """``ris``, ``csl-json`` or ``pubmed``, from the content first, then the file name."""
    start = text.lstrip("\ufeff \t\r\n")
    if start.startswith(("[", "{")):
        return "csl-json"
    if re.search(r"^TY  - ", text, re.MULTILINE):
        return "ris"
    if re.search(r"^PMID- ", text, re.MULTILINE):
        return "pubmed"
    return _SUFFIXES.get(Path(name).suffix.lower())


def read_works(file: Path, fmt: str = "auto") -> tuple[list[Work], list[Diagnostic]]:
    """Read an export file; ImportFailure if it cannot be read or its format is unknown."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ImportFailure(f"cannot read {file}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise ImportFailure(f"{file} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                            f"{exc.start}); export it again as UTF-8") from None
    chosen = detect_format(text, file.name) if fmt == "auto" else fmt
    if chosen is None:
        raise ImportFailure(f"cannot tell the format of {file}: expected RIS ('TY  - '), "
                            "CSL-JSON ('[{...}]') or PubMed/MEDLINE ('PMID- '); "
                            "use --from to say which", 2)
    return _READERS[chosen](text, str(file))


@dataclass(slots=True)
class KnownReferences:
    """Keys, DOIs, PMIDs and titles already taken: the store's, then this import's."""

    where: dict[str, str] = field(default_factory=dict)  # folded key -> "key (file:line)"
    titles: dict[str, str] = field(default_factory=dict)  # folded key -> comparable title
    dois: dict[str, str] = field(default_factory=dict)  # lower-case DOI -> folded key
    pmids: dict[str, str] = field(default_factory=dict)  # PMID -> folded key

    @classmethod
    def from_store(cls, store: ReferenceStore) -> KnownReferences:
        known = cls()
        for key in store:
            reference = store.get(key)
            path, line, _ = store.location(key)
            known.add(key, f"{path}:{line}", reference.title, reference.doi, reference.pmid)
        return known

    def add(self, key: str, where: str, title: str, doi: str | None, pmid: str | None) -> None:
        folded = key.casefold()
        self.where[folded] = f"'{key}' ({where})"
        self.titles[folded] = _comparable(title)
        if doi:
            self.dois.setdefault(doi.lower(), folded)
        if pmid:
            self.pmids.setdefault(pmid, folded)

    def duplicate(self, work: Work, key: str) -> str | None:
        """Why `work` is already known (a message), or None if it is new."""
        doi, pmid = work.fields.get("doi"), work.fields.get("pmid")
        if doi and doi.lower() in self.dois:
            return f"its DOI {doi} is already in {self.where[self.dois[doi.lower()]]}"
        if pmid and pmid in self.pmids:
            return f"its PMID {pmid} is already in {self.where[self.pmids[pmid]]}"
        folded = key.casefold()
        if folded in self.titles and self.titles[folded] == _comparable(work.title):
            return f"the key and title are already in {self.where[folded]}"
        return None


def _comparable(title: str) -> str:
    return "".join(ch for ch in title.casefold() if ch.isalnum())


def validated(work: Work, source: str) -> tuple[Work, list[Diagnostic]]:
    """The work without identifiers that are not valid (each one reported)."""
    fields = dict(work.fields)
    problems = []
    for name in ("doi", "pmid", "pmcid", "url", "urldate"):
        if name not in fields:
            continue
        value = _valid_identifier(name, fields[name])
        if value is None:
            problems.append(warning(source, work.line, 1, "invalid-identifier",
                                    f"invalid {name} '{fields[name]}' left out"))
            del fields[name]
            if name == "url":
                fields.pop("urldate", None)
        else:
            fields[name] = value
    return dataclasses.replace(work, fields=fields), problems


def _valid_identifier(name: str, value: str) -> str | None:
    if name == "urldate":
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            return None
    if name == "doi":
        return normalize_doi(value)
    if name == "url":
        return value if is_web_url(value) else None
    return value if (PMID if name == "pmid" else PMCID).fullmatch(value) else None


def plan_import(works: Iterable[Work], known: KnownReferences, source: str,
                target: str) -> tuple[ImportPlan, list[Diagnostic]]:
    """Keys for the new works and refusals for the known ones (`known` is updated)."""
    entries: list[NewEntry] = []
    refused: list[Diagnostic] = []
    problems: list[Diagnostic] = []
    for raw in works:
        work, found = validated(raw, source)
        problems.extend(found)
        base = base_key(work)
        reason = known.duplicate(work, base)
        if reason is not None:
            refused.append(warning(source, work.line, 1, "duplicate-reference",
                                   f"not imported: '{_short(work.title)}': {reason}"))
            continue
        key = unique_key(base, known.where)
        known.add(key, target, work.title, work.fields.get("doi"), work.fields.get("pmid"))
        entries.append(NewEntry(key, work, entry_text(work, key)))
    return ImportPlan(tuple(entries), tuple(refused)), problems


def _short(title: str, limit: int = 60) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def target_file(root: Path, to: Path | None) -> Path:
    """Where new entries go: references/imported.bib, or --to (a .bib file in references/)."""
    folder = root / "references"
    if to is None:
        return folder / DEFAULT_TARGET
    target = folder / to.name if to.parent == Path() else to
    if target.suffix != ".bib":
        raise ImportFailure(f"--to {to}: the file must end in .bib", 2)
    if target.resolve().parent != folder.resolve():
        raise ImportFailure(f"--to {to}: the file must be directly in {folder} "
                            "(only references/*.bib is loaded)", 2)
    return target


def append_entries(target: Path, entries: Iterable[NewEntry]) -> None:
    """Append entries to `target` (created with a header); replaced in one rename."""
    texts = [entry.text for entry in entries]
    if not texts:
        return
    try:
        old = target.read_bytes().decode("utf-8") if target.exists() else HEADER
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailure(f"cannot read {target} to append to it: {exc}") from None
    gap = "" if not old or old.endswith("\n\n") else "\n" if old.endswith("\n") else "\n\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        temporary.write_bytes((old + gap + "\n".join(texts)).encode("utf-8"))
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ImportFailure(f"cannot write {target}: {exc.strerror}") from None


def import_works(root: Path, works: list[Work], source: str,
                 to: Path | None) -> tuple[ImportPlan, list[Diagnostic], Path]:
    """Plan against the store under `root`, append the new entries, say what happened."""
    target = target_file(root, to)
    store, _ = load_references(root)  # the store's own problems are `refs check`'s job
    rel = target.relative_to(root).as_posix() if target.is_relative_to(root) else str(target)
    plan, problems = plan_import(works, KnownReferences.from_store(store), source, rel)
    append_entries(target, plan.entries)
    return plan, problems, target
