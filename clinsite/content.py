"""content/ -> Summary, Page and Reviewer models (stage 2 of the pipeline).

Reads every content file, validates its front matter against SPEC §2 and
keeps the positions needed to point later diagnostics (citations, links,
reviewer ids) at the exact text in the file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from clinsite import gitdates
from clinsite.config import AUDIENCES, SiteConfig, today
from clinsite.diagnostics import Diagnostic, error
from clinsite.drugs import drug_from_front
from clinsite.frontmatter import (
    ParseCache,
    YamlDoc,
    decode_source,
    parse_yaml,
    split_front_matter,
)
from clinsite.models import (
    Content,
    Document,
    Drug,
    Page,
    Review,
    Reviewer,
    ReviewStatus,
    Summary,
)
from clinsite.schema import Fields

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
TAG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SECTIONS = ("summaries", "drugs", "pages")
# Top-level URLs the generator itself uses; a plain page may not take them.
RESERVED_SLUGS = frozenset({"summaries", "drugs", "board", "references", "tags", "search",
                            "api", "assets", "index", "404", "feed", "sitemap", "robots"})
SUMMARY_KEYS = ("title", "summary", "updated", "review", "evidence_current", "audience",
                "tags", "related", "draft")
REVIEW_KEYS = ("status", "reviewers", "reviewed", "next_review")
PAGE_KEYS = ("title", "updated", "draft")
BOARD_KEYS = ("id", "name", "credentials", "role", "affiliation", "disclosures")


class _Common(TypedDict):
    """The fields every Document takes from its file, whatever its section."""

    section: str
    slug: str
    path: str
    body: str
    body_line: int
    text: str
    front: YamlDoc
    front_offset: int


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole months, clamped to the month's last day."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for candidate in (31, 30, 29, 28):
        if day.day <= candidate:
            try:
                return dt.date(year, month, min(day.day, candidate))
            except ValueError:
                continue
    return dt.date(year, month, 28)


def check_symlinks(root: Path, folders: tuple[str, ...]) -> list[Diagnostic]:
    """Symbolic links in the source folders that lead outside the site root are refused:
    a build must never publish (or template from) a file from elsewhere on the machine.
    (Walked with os.scandir, whose entries know a link without a `stat`: this runs over
    every source file of every build.)"""
    real_root = root.resolve()
    found: list[Diagnostic] = []
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        pending = [str(base)]
        while pending:
            try:
                with os.scandir(pending.pop()) as listing:
                    entries = list(listing)
            except OSError:
                continue
            for entry in entries:
                if entry.is_symlink():
                    path = Path(entry.path)
                    problem = link_problem(path, real_root)
                    if problem is not None:
                        found.append(error(path.relative_to(root).as_posix(), 1, 1,
                                           "unsafe-symlink", problem))
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
    return sorted(found)


def link_problem(link: Path, real_root: Path) -> str | None:
    """Why symbolic link `link` is refused (it ends outside `real_root`, or goes round in
    a loop, which Path.resolve reports by raising), or None."""
    try:
        inside = link.resolve().is_relative_to(real_root)
    except (RuntimeError, OSError):
        return "symbolic link goes round in a loop; refused"
    return None if inside else "symbolic link points outside the site root; refused"


def source_files(root: Path, folder: str) -> tuple[list[tuple[str, str]], list[Diagnostic]]:
    """The `.md` files of one content folder, sorted, with symlinks out of the root refused:
    (root-relative path, path to open) each."""
    base = root / "content" / folder
    if not base.is_dir():
        return [], []
    found: list[tuple[str, str]] = []
    diags: list[Diagnostic] = []
    real_root: Path | None = None
    with os.scandir(base) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        name = entry.name
        rel = f"content/{folder}/{name}"
        linked = entry.is_symlink()
        if name.startswith(".") or (not linked and entry.is_dir(follow_symlinks=False)):
            continue
        if linked:
            real_root = real_root or root.resolve()
            if link_problem(Path(entry.path), real_root) is not None:
                continue  # reported once by check_symlinks
        if not name.endswith(".md"):
            continue
        stem = name[:-3]
        if not SLUG.fullmatch(stem):
            diags.append(error(rel, 1, 1, "invalid-slug",
                               f"file name '{stem}' is not a valid slug: use lowercase "
                               "letters, digits and single hyphens (e.g. 'cold-sore-treatment')"))
            continue
        found.append((rel, entry.path))
    return found, diags


def read_front(rel: str, raw: bytes, parser: ParseCache | None = None,
               ) -> tuple[YamlDoc, str, int, str] | Diagnostic:
    """Decode, split and parse a content file: (front matter, body, body line, text)."""
    source = decode_source(rel, raw)
    if isinstance(source, Diagnostic):
        return source
    split = split_front_matter(source)
    if isinstance(split, Diagnostic):
        return split
    doc = (parser.parse if parser is not None else parse_yaml)(rel, split.front, split.front_line)
    if isinstance(doc, Diagnostic):
        return doc
    if not isinstance(doc.data, dict):
        return error(rel, split.front_line, 1, "front-matter-not-mapping",
                     "front matter must be a mapping of fields (key: value)")
    return doc, split.body, split.body_line, source.text


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """What loading one content file gave, as kept between builds (DocumentCache)."""

    item: Document | None
    problems: tuple[Diagnostic, ...]
    draft: bool
    git_date: tuple[dt.date | None] | None  # (the git date it took,) if it took one
    source: str = ""  # clinsite.cache.source_digest of the document ("" without one)


class DocumentCache:
    """Loaded content files by their stat (size, mtime, inode, ctime), kept between
    builds (clinsite.cache saves it, keyed on the settings and clinsite's version): a
    file whose stat did not change is neither read nor parsed again. As in the no-op
    stamp (clinsite.stamp), a file modified within two seconds of being read is never
    trusted later: a second write in the same clock tick could keep its stat."""

    RACY_NS = 2_000_000_000

    def __init__(self, entries: dict[str, tuple[tuple[int, ...], int, LoadedFile]] | None
                 = None) -> None:
        self.entries = entries or {}
        self.used: dict[str, tuple[tuple[int, ...], int, LoadedFile]] = {}
        self.changed: set[str] = set()

    def get(self, rel: str, stat: tuple[int, ...], dates: gitdates.LastCommitDates
            ) -> LoadedFile | None:
        found = self.entries.get(rel)
        if found is None or found[0] != stat or max(stat[1], stat[3]) >= found[1] - self.RACY_NS:
            return None
        loaded = found[2]
        if loaded.git_date is not None and dates.get(rel) != loaded.git_date[0]:
            return None
        self.used[rel] = found
        return loaded

    def put(self, rel: str, stat: tuple[int, ...], read_at: int, loaded: LoadedFile) -> None:
        self.used[rel] = (stat, read_at, loaded)
        self.changed.add(rel)

    def sources(self) -> dict[str, str]:
        """The source digest of every document this build has from or through the cache."""
        return {rel: entry[2].source for rel, entry in self.used.items() if entry[2].source}

    def dirty(self) -> set[str]:
        """The paths whose entries this build added, replaced or dropped."""
        return self.changed | (self.entries.keys() - self.used.keys())


def load_content(root: Path, config: SiteConfig, *, drafts: bool = False,
                 dates: gitdates.LastCommitDates | None = None,
                 parser: ParseCache | None = None,
                 documents: DocumentCache | None = None) -> tuple[Content, list[Diagnostic]]:
    """Read content/summaries, content/drugs and content/pages (front matter through
    `parser`, which remembers what earlier builds parsed; unchanged files from
    `documents`, which remembers what earlier builds loaded)."""
    diags: list[Diagnostic] = []
    dates = dates or gitdates.LastCommitDates(root)
    found: dict[str, list[Document]] = {section: [] for section in SECTIONS}
    left_out: set[str] = set()
    for section in SECTIONS:
        files, problems = source_files(root, section)
        diags.extend(problems)
        for rel, file in files:
            loaded = None
            if documents is not None:
                try:
                    st = os.stat(file)
                except OSError:
                    stat = None
                else:
                    stat = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
                    loaded = documents.get(rel, stat, dates)
                    if loaded is not None and parser is not None:
                        parser.keep(rel)
            if loaded is None:
                read_at = time.time_ns()
                loaded = _load_file(section, rel, Path(file), config, dates, parser)
                if documents is not None and stat is not None:
                    documents.put(rel, stat, read_at, loaded)
            diags.extend(loaded.problems)
            if loaded.item is not None and (drafts or not loaded.draft):
                found[section].append(loaded.item)
            elif loaded.item is not None:
                left_out.add(rel)
    summaries = tuple(d for d in found["summaries"] if isinstance(d, Summary))
    drugs = tuple(d for d in found["drugs"] if isinstance(d, Drug))
    pages = tuple(d for d in found["pages"] if isinstance(d, Page))
    return Content(summaries, pages, drugs, frozenset(left_out)), diags


def _load_file(section: str, rel: str, file: Path, config: SiteConfig,
               dates: gitdates.LastCommitDates, parser: ParseCache | None) -> LoadedFile:
    """Read, parse and check one content file."""
    try:
        raw = file.read_bytes()
    except OSError as exc:  # e.g. a dangling symbolic link
        return LoadedFile(None, (error(rel, 1, 1, "read-error",
                                       f"cannot read file: {exc.strerror or exc}"),), False, None)
    read = read_front(rel, raw, parser)
    if isinstance(read, Diagnostic):
        return LoadedFile(None, (read,), False, None)
    doc, body, body_line, text = read
    diags = list(doc.problems)
    fields = Fields(doc, (), diags)
    updated = _updated(fields, rel, dates)
    git_date = None if "updated" in fields.data else (updated,)
    common = _Common(section=section, slug=file.stem, path=rel, body=body,
                     body_line=body_line, text=text, front=doc,
                     front_offset=text.index("\n") + 1)
    item: Document | None
    if section == "summaries":
        item = _summary(fields, common, updated, config)
    elif section == "drugs":
        item = drug_from_front(fields, common, updated, _review(fields, config))
    else:
        item = _page(fields, common, updated)
    draft = item is not None and fields.boolean("draft")
    from clinsite.cache import source_digest  # (clinsite.cache imports this module)

    return LoadedFile(item, tuple(diags), draft, git_date,
                      source_digest(item) if item is not None else "")


def _updated(fields: Fields, rel: str, dates: gitdates.LastCommitDates) -> dt.date | None:
    if "updated" in fields.data:
        return fields.date("updated", required=True)
    found = dates.get(rel)
    if found is None:
        fields.missing("updated", " (and the file has no git history to take the date from)")
    return found


def _title(fields: Fields) -> str | None:
    return fields.text("title", required=True)


def _page(fields: Fields, common: _Common, updated: dt.date | None) -> Page | None:
    fields.check_keys(PAGE_KEYS, "page front-matter")
    title = _title(fields)
    slug = common["slug"]
    if slug in RESERVED_SLUGS:
        fields.diags.append(error(common["path"], 1, 1, "reserved-slug",
                                  f"page slug '{slug}' is used by the site itself; "
                                  "rename the file"))
        return None
    if title is None or updated is None:
        return None
    return Page(title=title, updated=updated, **common)


def _summary(fields: Fields, common: _Common, updated: dt.date | None,
             config: SiteConfig) -> Summary | None:
    fields.check_keys(SUMMARY_KEYS, "summary front-matter")
    title = _title(fields)
    bottom_line = _bottom_line(fields)
    review = _review(fields, config)
    audience = fields.choice("audience", AUDIENCES, config.default_audience) or "clinician"
    evidence = fields.date("evidence_current")
    tags = fields.words("tags", TAG, "a tag (lowercase letters, digits and hyphens)")
    related = fields.words("related", SLUG, "a page slug")
    if title is None or updated is None or review is None or not bottom_line:
        return None
    return Summary(title=title, updated=updated, summary=bottom_line, review=review,
                   evidence_current=evidence, audience=audience, tags=tags, related=related,
                   **common)


def _bottom_line(fields: Fields) -> tuple[tuple[str, str], ...]:
    value = fields.data.get("summary")
    if isinstance(value, dict):
        sub = fields.sub("summary")
        assert sub is not None
        sub.check_keys(("clinician", "patient"), "summary")
        parts = [(aud, text) for aud in ("clinician", "patient")
                 if (text := sub.text(aud)) is not None]
        if not parts:
            fields.diags.append(fields.doc.error(("summary",), "missing-field",
                                                 "'summary' needs a 'clinician' or 'patient' text"))
        return tuple(parts)
    text = fields.text("summary", required=True)
    return (("all", text),) if text else ()


def _review(fields: Fields, config: SiteConfig) -> Review | None:
    sub = fields.sub("review")
    if sub is None:
        if "review" not in fields.data or fields.data["review"] is None:
            fields.missing("review", " (at least 'review: {status: submitted}')")
        return None
    sub.check_keys(REVIEW_KEYS, "review")
    status = sub.choice("status", [s.value for s in ReviewStatus], required=True)
    reviewers = sub.words("reviewers", SLUG, "a reviewer id from content/board.yaml")
    reviewed = sub.date("reviewed")
    next_review = sub.date("next_review")
    if status is None:
        return None
    if status == ReviewStatus.APPROVED:
        if not reviewers:
            _approved_needs(sub, "reviewers")
        if reviewed is None:
            _approved_needs(sub, "reviewed")
    if reviewed is not None and reviewed > today():
        line, col = sub.position("reviewed")
        sub.diags.append(error(sub.doc.path, line, col, "invalid-date",
                               f"'reviewed' is after today ({today().isoformat()}): write the "
                               "date the review was completed"))
    if next_review is None and reviewed is not None:
        next_review = add_months(reviewed, config.review_interval_months)
    return Review(ReviewStatus(status), reviewers, reviewed, next_review)


def _approved_needs(sub: Fields, key: str) -> None:
    line, col = sub.position("status")
    sub.diags.append(error(sub.doc.path, line, col, "approved-incomplete",
                           f"an approved summary needs 'review.{key}'"))


def load_board(root: Path) -> tuple[dict[str, Reviewer], list[Diagnostic]]:
    """Read content/board.yaml: the advisory board whose ids reviews refer to."""
    rel = "content/board.yaml"
    file = root / rel
    if not file.is_file():
        return {}, []
    source = decode_source(rel, file.read_bytes())
    if isinstance(source, Diagnostic):
        return {}, [source]
    doc = parse_yaml(rel, source.text)
    if isinstance(doc, Diagnostic):
        return {}, [doc]
    diags = list(doc.problems)
    if doc.data is None:
        return {}, diags
    if not isinstance(doc.data, list):
        return {}, [*diags, doc.error((), "wrong-type",
                                      "board.yaml must be a list of reviewers (- id: ...)")]
    board: dict[str, Reviewer] = {}
    for index in range(len(doc.data)):
        fields = Fields(doc, (index,), diags)
        if not fields.ok:
            diags.append(doc.error((index,), "wrong-type", "each board entry must be a mapping"))
            continue
        fields.check_keys(BOARD_KEYS, "board")
        values = {key: fields.text(key, required=key != "affiliation") for key in BOARD_KEYS}
        ident = values["id"]
        if ident is not None and not SLUG.fullmatch(ident):
            diags.append(doc.error((index, "id"), "invalid-value",
                                   f"reviewer id '{ident}' must be lowercase words joined by '-'"))
            continue
        if ident in board:
            diags.append(doc.error((index, "id"), "duplicate-reviewer",
                                   f"reviewer id '{ident}' is used twice"))
            continue
        if any(values[k] is None for k in BOARD_KEYS if k != "affiliation") or ident is None:
            continue
        board[ident] = Reviewer(**{k: v or "" for k, v in values.items()})
    return board, diags
