"""Reference store: ``references/*.bib`` -> `ReferenceStore` (+ key -> file:line:col).

Stage: loading. Each file is decoded here and scanned (`clinsite.bibscan`: raw
entries with positions); each entry is checked here and formatted
(`clinsite.vancouver`) only when first cited.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clinsite import persist
from clinsite.content import link_problem
from clinsite.diagnostics import Diagnostic, did_you_mean, error, warning
from clinsite.identifiers import PMCID, PMID, is_web_url, latex_to_text, normalize_doi

if TYPE_CHECKING:
    from pybtex.database import Entry, Person

    from clinsite.bibscan import Positions, RawEntry

# pybtex (and clinsite.vancouver, built on it) is imported where it is used: a build whose
# references are all formatted already (clinsite.cache) never needs it, and importing it
# takes a tenth of a second.

KIND_LABELS: Mapping[str, str] = {
    "guideline": "Guideline",
    "research": "Research",
    "review": "Review",
    "label": "Drug label",
    "book": "Book",
    "web": "Web page",
}
_BOOK_TYPES = ("book", "inbook", "incollection", "inproceedings", "proceedings")
_WEB_TYPES = ("misc", "online", "manual", "electronic")
DEFAULT_KINDS: Mapping[str, str] = {
    **dict.fromkeys(_BOOK_TYPES, "book"),
    **dict.fromkeys(_WEB_TYPES, "web"),
}

# Fields each type needs for a usable Vancouver citation; a tuple means "any of".
_REQUIRED: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "article": (("author",), ("title",), ("journal",), ("year",)),
    "book": (("author", "editor"), ("title",), ("publisher",), ("year",)),
    "inbook": (("author", "editor"), ("title",), ("publisher",), ("year",)),
    "incollection": (("author",), ("title",), ("booktitle",), ("publisher",), ("year",)),
    "inproceedings": (("author",), ("title",), ("booktitle",), ("year",)),
    "proceedings": (("title",), ("year",)),
    "techreport": (("author",), ("title",), ("institution",), ("year",)),
    "phdthesis": (("author",), ("title",), ("school",), ("year",)),
    "mastersthesis": (("author",), ("title",), ("school",), ("year",)),
    "unpublished": (("author",), ("title",)),
    "online": (("title",), ("url",)),
}
_PERSON_ROLES = ("author", "editor")
_CONTAINER_FIELDS = ("journal", "booktitle", "publisher", "organization", "institution", "school")
_URLDATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Reference:
    """One formatted reference, ready for templates; identifiers are validated or None."""

    key: str
    kind: str
    kind_label: str
    text: str
    html: str
    doi: str | None
    pmid: str | None
    pmcid: str | None
    url: str | None
    title: str
    year: str | None
    authors: tuple[str, ...]
    container: str | None
    entry_type: str
    path: str
    line: int


@dataclass(frozen=True, slots=True)
class _Record:
    """A checked entry, not yet formatted (most builds cite only part of the store)."""

    key: str
    entry_type: str
    fields: Mapping[str, str]
    persons: Mapping[str, str]  # role -> BibTeX name list; parsed only when formatted
    kind: str
    path: str
    line: int
    col: int

    def entry(self) -> Entry:
        """The pybtex entry (names parsed now: that is most of the cost of loading)."""
        from pybtex.bibtex.utils import split_name_list
        from pybtex.database import Entry

        entry = Entry(self.entry_type, fields=self.fields)
        entry.key = self.key
        for role, value in self.persons.items():
            for name in split_name_list(value):
                entry.add_person(_person(name), role)
        return entry


@lru_cache(maxsize=16384)
def _person(name: str) -> Person:
    """A parsed name, shared between entries (never mutated): authors recur."""
    from pybtex.database import Person
    from pybtex.exceptions import PybtexError

    try:
        return Person(name)
    except PybtexError:  # already reported by the loader; never a traceback
        return Person(last=name)


class ReferenceStore:
    """Every loaded entry by key; formats an entry on first `get` and keeps the result."""

    __slots__ = ("_cache", "_digests", "_records")

    def __init__(self, records: Mapping[str, _Record]) -> None:
        self._records: dict[str, _Record] = dict(records)
        self._cache: dict[str, Reference] = {}
        self._digests: dict[str, str] = {}

    def __getstate__(self) -> dict[str, dict[str, Any]]:
        # Formatted references are not kept; digests are (an edit build needs every
        # cited entry's, and the pickled store is only remade when a .bib file changes).
        return {"_records": self._records, "_digests": self._digests}

    def __setstate__(self, state: dict[str, dict[str, Any]]) -> None:
        self._records = state["_records"]
        self._digests = state.get("_digests", {})
        self._cache = {}

    def __contains__(self, key: object) -> bool:
        return key in self._records

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._records)

    def keys(self) -> list[str]:
        """Every key, sorted."""
        return sorted(self._records)

    def location(self, key: str) -> tuple[str, int, int]:
        """Root-relative path, line and column of the key's definition."""
        record = self._records[key]
        return record.path, record.line, record.col

    def close_matches(self, key: str) -> str:
        """`` (did you mean 'x'?)`` for a mistyped key, or an empty string."""
        return did_you_mean(key, self._records)

    def digest(self, key: str) -> str:
        """A hash of everything the entry's formatting depends on (for the build cache)."""
        known = self._digests.get(key)
        if known is not None:
            return known
        r = self._records[key]
        data = repr((r.entry_type, sorted(r.fields.items()), sorted(r.persons.items()), r.kind,
                     r.path, r.line))
        made = self._digests[key] = hashlib.blake2b(data.encode(), digest_size=12).hexdigest()
        return made

    def formatted(self) -> dict[str, Reference]:
        """Every reference formatted so far, by key."""
        return dict(self._cache)

    def is_formatted(self, key: str) -> bool:
        return key in self._cache

    def preload(self, formatted: Mapping[str, Reference]) -> None:
        """Take references formatted elsewhere (by worker processes)."""
        self._cache.update(formatted)

    def get(self, key: str) -> Reference:
        """The formatted reference (KeyError for an unknown key); formatted once."""
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = _make_reference(self._records[key])
        return cached


def _make_reference(record: _Record) -> Reference:
    from clinsite.vancouver import display_names, format_entry

    entry, fields = record.entry(), record.fields
    formatted = format_entry(entry)
    container = next((fields[name] for name in _CONTAINER_FIELDS if name in fields), None)
    return Reference(
        key=record.key,
        kind=record.kind,
        kind_label=KIND_LABELS[record.kind],
        text=formatted.text,
        html=formatted.html,
        doi=fields.get("doi"),
        pmid=fields.get("pmid"),
        pmcid=fields.get("pmcid"),
        url=fields.get("url"),
        title=latex_to_text(fields.get("title", "")),
        year=latex_to_text(fields["year"]) if "year" in fields else None,
        authors=display_names(entry, "author")[0],
        container=latex_to_text(container) if container else None,
        entry_type=entry.type,
        path=record.path,
        line=record.line,
    )


_STORE_FORMAT = b"store 2"  # the pickled store's layout (2: with the entries' digests)


def load_references(root: Path, cache_dir: Path | None = None,
                    ) -> tuple[ReferenceStore, list[Diagnostic]]:
    """Load every ``references/*.bib`` (sorted by name) into one store, with all problems.

    With `cache_dir`, the parsed store is kept there and reused while no .bib file
    changed (parsing is most of the cost of a build that changed no reference); and each
    file's entries are kept too, so a changed file is parsed again alone."""
    real_root = root.resolve()
    paths = [path for path in sorted((root / "references").glob("*.bib"))
             if not path.is_symlink() or link_problem(path, real_root) is None]
    if cache_dir is None:
        return _parse_all(root, paths)
    key = hashlib.blake2b(digest_size=16)
    for path in paths:
        key.update(path.name.encode() + b"\0")
        try:
            key.update(path.read_bytes() + b"\0")
        except OSError:
            return _parse_all(root, paths)
    key.update(_STORE_FORMAT)
    cached = cache_dir / f"references-{key.hexdigest()}.pickle"
    try:
        store, problems = persist.load(cached)
        if isinstance(store, ReferenceStore):
            return store, problems
    except Exception:  # (a damaged cache file can raise almost anything: never an error)
        pass
    store, problems = _parse_all(root, paths, cache_dir / _FILES)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in cache_dir.glob("references-*.pickle"):
            old.unlink()
        kept = ReferenceStore(store._records)
        for name in kept._records:
            kept.digest(name)
        persist.dump(cached, (kept, problems))
    except OSError:
        pass  # a cache that cannot be written is only slower
    return store, problems


_FILES = "references-files"  # each .bib file's parse, by its path, bytes and @strings before


def _parse_all(root: Path, paths: list[Path], kept: Path | None = None,
               ) -> tuple[ReferenceStore, list[Diagnostic]]:
    """Parse `paths` in order into one store. With `kept` (a folder), a file whose
    path, bytes and the @string table before it are as when it was last parsed is
    taken from there (its entries, problems and the table after it)."""
    records: dict[str, _Record] = {}
    first_by_folded_key: dict[str, _Record] = {}
    problems: list[Diagnostic] = []
    # @string carries across files, as in BibTeX: a file's parse depends on the table the
    # files before it left, known here as their items and a digest of those.
    table: list[tuple[str, str]] | None = None  # None: BibTeX's month names alone
    state = b"month names"
    used: set[str] = set()
    for path in paths:  # (symlinks out of the root: refused, and reported, elsewhere)
        rel = path.relative_to(root).as_posix()
        parsed, data, name = None, None, ""
        if kept is not None:
            try:
                data = path.read_bytes()
            except OSError:
                data = None
            if data is not None:  # (unreadable: _parse_file reports it)
                name = hashlib.blake2b(b"\0".join((rel.encode(), state, _STORE_FORMAT, data)),
                                       digest_size=16).hexdigest()
                used.add(name)
                parsed = _read_parsed(kept / name)
        if parsed is None:
            parsed = _parse_file(path, rel, table)
            if kept is not None and data is not None:
                with contextlib.suppress(OSError):  # (a cache: only slower unwritten)
                    persist.dump(kept / name, parsed)
        file_records, file_problems, table, state = parsed
        problems.extend(file_problems)
        for record in file_records:
            folded = record.key.casefold()
            first = first_by_folded_key.get(folded)
            if first is None:
                first_by_folded_key[folded] = records[record.key] = record
            else:
                problems.append(_duplicate(record, first))
    if kept is not None and kept.is_dir():
        for stale in kept.iterdir():
            if stale.name not in used:
                stale.unlink(missing_ok=True)
    return ReferenceStore(records), problems


_Parsed = tuple[list["_Record"], list[Diagnostic], list[tuple[str, str]] | None, bytes]


def _parse_file(path: Path, rel: str, table: list[tuple[str, str]] | None) -> _Parsed:
    """One file's entries and problems, given the @string table before it; and the table
    after it (its items and their digest)."""
    from clinsite.bibscan import string_macros

    macros = string_macros()
    if table is not None:
        macros.update(table)
    problems: list[Diagnostic] = []
    records = _load_file(path, rel, macros, problems)
    after = [(str(name), str(value)) for name, value in macros.items()]
    return records, problems, after, hashlib.blake2b(repr(after).encode(),
                                                     digest_size=16).digest()


def _read_parsed(path: Path) -> _Parsed | None:
    try:
        parsed = persist.load(path)
    except Exception:  # (a damaged cache file can raise almost anything: never an error)
        return None
    if not (isinstance(parsed, tuple) and len(parsed) == 4 and isinstance(parsed[0], list)
            and all(isinstance(record, _Record) for record in parsed[0])):
        return None
    return parsed


def _duplicate(record: _Record, first: _Record) -> Diagnostic:
    where = f"{first.path}:{first.line}"
    if first.key != record.key:  # BibTeX compares keys case-insensitively
        where += f" as '{first.key}'; keys differing only in case are the same in BibTeX"
    message = f"duplicate reference key '{record.key}' (first defined at {where})"
    return error(record.path, record.line, record.col, "duplicate-reference", message)


def _load_file(path: Path, rel: str, macros: Any, problems: list[Diagnostic]) -> list[_Record]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(error(rel, 1, 1, "read-error", f"cannot read file: {exc.strerror}"))
        return []
    text = _decode(data, rel, problems)
    from clinsite.bibscan import BibScanner, Positions

    positions = Positions(text)
    scanner = BibScanner(text, macros)
    records = []
    for raw in scanner.entries():
        checker = _EntryChecker(raw, rel, positions, problems)
        records.append(checker.record())
    for pos, message in scanner.problems:
        problems.append(error(rel, *positions.at(pos), "bibtex-syntax", message))
    return records


def _decode(data: bytes, rel: str, problems: list[Diagnostic]) -> str:
    """UTF-8 text with one newline convention; a bad byte is reported and replaced."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line_start = before.rfind(b"\n") + 1
        line = before.count(b"\n") + 1
        col = len(before[line_start:].decode("utf-8")) + 1
        message = f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        problems.append(error(rel, line, col, "encoding", message))
        text = data.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


@dataclass(slots=True)
class _EntryChecker:
    """Turns one raw entry into a pybtex `Entry` and a `_Record`, reporting its problems."""

    raw: RawEntry
    path: str
    positions: Positions
    problems: list[Diagnostic]
    fields: dict[str, str] = field(default_factory=dict)
    value_pos: dict[str, int] = field(default_factory=dict)

    def record(self) -> _Record:
        self._collect_fields()
        entry_type = self.raw.type.lower()
        persons = {
            role: self._names(role, self.fields.pop(role))
            for role in _PERSON_ROLES
            if role in self.fields
        }
        self._check_required(entry_type, persons)
        for name in ("doi", "pmid", "pmcid", "url", "urldate"):
            self._check_identifier(name)
        kind = self._kind(entry_type)
        line, col = self.positions.at(self.raw.key_pos)
        return _Record(
            self.raw.key, self.raw.type, self.fields, persons, kind, self.path, line, col
        )

    def _report(self, pos: int, code: str, message: str, *, is_error: bool = True) -> None:
        make = error if is_error else warning
        self.problems.append(make(self.path, *self.positions.at(pos), code, message))

    def _collect_fields(self) -> None:
        for raw in self.raw.fields:
            name = raw.name.lower()
            if name in self.value_pos:
                message = f"field '{name}' given twice in entry '{self.raw.key}'; first value used"
                self._report(raw.name_pos, "duplicate-field", message, is_error=False)
                continue
            self.value_pos[name] = raw.value_pos
            if raw.value.strip():
                self.fields[name] = raw.value.strip()

    def _check_identifier(self, name: str) -> None:
        value = self.fields.get(name)
        if value is None:
            return
        checked = _clean_identifier(name, value)
        if checked is None:
            del self.fields[name]  # a bad value is never printed or linked
            expected = _EXPECTED[name]
            message = f"invalid {name} '{value}' in entry '{self.raw.key}': expected {expected}"
            self._report(self.value_pos[name], "invalid-reference-field", message)
        else:
            self.fields[name] = checked

    def _kind(self, entry_type: str) -> str:
        default = DEFAULT_KINDS.get(entry_type, "research")
        value = self.fields.pop("kind", None)
        if value is None or value.lower() in KIND_LABELS:
            return value.lower() if value else default
        hint = did_you_mean(value.lower(), KIND_LABELS)
        message = (
            f"unknown kind '{value}' in entry '{self.raw.key}'{hint}; "
            f"expected one of {', '.join(KIND_LABELS)}"
        )
        self._report(self.value_pos["kind"], "invalid-reference-field", message)
        return default

    def _check_required(self, entry_type: str, persons: Mapping[str, str]) -> None:
        present = self.fields.keys() | persons.keys()
        wanted = _REQUIRED.get(entry_type, (("title",),))
        missing = [" or ".join(names) for names in wanted if not present & set(names)]
        if missing:
            message = f"reference '{self.raw.key}' (@{entry_type}) is missing {', '.join(missing)}"
            self._report(self.raw.key_pos, "incomplete-reference", message, is_error=False)

    def _names(self, role: str, value: str) -> str:
        """The name list, with ``Last, Jr, First, extra`` reported (pybtex would raise)."""
        if "{" not in value and all(part.count(",") < 3 for part in _AND.split(value)):
            return value  # the common case, without pybtex's slow brace-aware split
        from pybtex.bibtex.utils import split_name_list, split_tex_string

        names = []
        for name in split_name_list(value):
            parts = split_tex_string(name, ",")
            if len(parts) > 3:
                message = (
                    f"{role} name '{name}' in entry '{self.raw.key}' has too many commas; "
                    "write 'Last, First' or 'Last, Jr, First'"
                )
                self._report(self.value_pos[role], "invalid-reference-field", message)
                name = ", ".join([*parts[:2], " ".join(parts[2:])])
            names.append(name)
        return " and ".join(names)


def _clean_identifier(name: str, value: str) -> str | None:
    """The value to keep (a DOI without its ``https://doi.org/``), or None if it is invalid."""
    if name == "doi":
        return normalize_doi(value)
    if name == "urldate":
        return value if _URLDATE.fullmatch(value) and _is_date(value) else None
    if name == "url":
        return value if is_web_url(value) else None
    return value if (PMID if name == "pmid" else PMCID).fullmatch(value) else None


def _is_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


_EXPECTED = {
    "doi": "a DOI such as 10.1128/AAC.00615-10",
    "pmid": "a PubMed id of digits only, such as 21078929",
    "pmcid": "a PubMed Central id such as PMC3028810",
    "url": "an http:// or https:// address",
    "urldate": "a date as YYYY-MM-DD",
}
