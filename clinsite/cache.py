"""The incremental-build cache: which pages can be reused from the previous output.

A page is reused when nothing it depends on changed: its own source, the
site-wide inputs (clinsite version, site.yaml, board, templates and theme,
"today", the Python and installed packages), the entries of the references it
cites, the titles of the pages it lists as related, and its git history. Reused
pages are linked from the previous output into the new one, so the output is
still swapped in whole. The cache lives in `<root>/.clinsite-cache/` (`clinsite serve`
keeps its own in `.clinsite-cache/serve/`); deleting it (or `--no-cache`) gives a clean
build, never a different one. The functions here take the cache folder itself.
"""

from __future__ import annotations

import copyreg
import dataclasses
import hashlib
import os
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from clinsite import __version__, persist
from clinsite.content import DocumentCache, LoadedFile
from clinsite.diagnostics import Diagnostic
from clinsite.frontmatter import Entries, ParseCache
from clinsite.listings import CitingIndex
from clinsite.models import Document, Drug, Page, Review, Summary
from clinsite.parallel import PageRecord
from clinsite.references import Reference
from clinsite.writer import SiteWriter

CACHE_DIR = ".clinsite-cache"
_MANIFEST = "manifest.pickle"
_FRONT = "front-matter"  # clinsite.frontmatter.ParseCache, in buckets
_DOCUMENTS = "documents"  # clinsite.content.DocumentCache, in buckets
JOURNAL = "output-trees.pickle"  # clinsite.writer's journal of the output trees
LISTINGS = "listings"  # clinsite.render.ListingMemo's texts, a file each
TEMPLATES = "templates"  # Jinja's compiled templates (clinsite.render._BytecodeCache)
_FORMAT = 17  # (16: a page's record names the templates it used; 17: and the
# outputs it kept)


def _pickle_by_constructor(*classes: type) -> None:
    """Pickle these frozen dataclasses as a constructor call: loading the manifest's tens
    of thousands of records is then about three times faster than through the generic
    slots-dataclass state (which looks up the fields for every object)."""
    for cls in classes:
        fields = dataclasses.fields(cls)
        if any(not f.init for f in fields):
            continue
        names = tuple(f.name for f in fields)

        def reduce(obj: object, cls: type = cls, names: tuple[str, ...] = names) -> object:
            return cls, tuple(getattr(obj, name) for name in names)

        copyreg.pickle(cls, reduce)  # type: ignore[arg-type]


_pickle_by_constructor(PageRecord, Diagnostic)


def digest(*parts: object) -> str:
    """A short, stable hash of `parts` (their reprs; bytes as they are)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def source_digest(doc: Document) -> str:
    """What a page's own file gives it: its text and its date (which may come from git)."""
    return digest(doc.text.encode(), doc.updated)


@dataclass(frozen=True, slots=True)
class Entry:
    source: str  # digest of the file's text
    deps: str  # digest of what else the page shows
    record: PageRecord


_pickle_by_constructor(Entry, Reference)


@dataclass(slots=True)
class Manifest:
    site: str = ""  # digest of the site-wide inputs
    out: str = ""  # the output folder these pages were written to
    pages: dict[str, Entry] = field(default_factory=dict)
    search: list[str] = field(default_factory=list)  # digest of each search shard's pages
    references: dict[str, tuple[str, Reference]] = field(default_factory=dict)  # key: (digest, ref)
    html_pages: int = 0  # pages the build wrote (what a no-op build reports)
    listings: frozenset[str] = frozenset()  # the keys clinsite.render.ListingMemo kept
    listing_templates: tuple[str, ...] = ()  # the templates those listings' renders loaded
    parts: dict[str, str] = field(default_factory=dict)  # part -> its file (see `save`)
    # The output folder's (mtime_ns, inode) once these pages were committed: the manifest
    # describes that tree only (not one a --no-cache build, or a build killed before it
    # saved its manifest, put in its place: the marker file written at each commit changes
    # the folder's mtime).
    tree: tuple[int, int] | None = None
    shared: str = ""  # what the pages' dependency digests took from elsewhere (pipeline._plan)
    citing: CitingIndex | None = None  # which pages cite each reference (listings.py)
    version: str = __version__
    format: int = _FORMAT


# The manifest is stored as a small head (manifest.pickle) and parts in manifest/: the
# pages in _PAGE_PARTS parts by a hash of their path, and the formatted references. A
# build rewrites only the parts that changed, each under a new name, then replaces the
# head (which names its parts) in one step, then deletes the parts no head names: a
# build killed at any point leaves a complete manifest, the old one or the new.
_PARTS = "manifest"
_CITING = "citing"
_PAGE_PARTS = 16


def _part_of(path: str) -> str:
    return f"pages-{hashlib.blake2b(path.encode(), digest_size=2).digest()[0] % _PAGE_PARTS:02d}"


def _grouped(pages: Mapping[str, Entry]) -> dict[str, dict[str, Entry]]:
    grouped: dict[str, dict[str, Entry]] = {}
    for path, entry in pages.items():
        grouped.setdefault(_part_of(path), {})[path] = entry
    return grouped


def load(folder: Path) -> Manifest:
    """The previous build's manifest, or an empty one (never an error: it is a cache).
    Its citing index is read when asked for (`load_citing`): the listings need it, while
    the search index runs, not the planning before. `folder`: the cache folder."""
    try:
        manifest = persist.load(folder / _MANIFEST)
        if not isinstance(manifest, Manifest) or manifest.format != _FORMAT or \
                manifest.version != __version__:
            return Manifest()
        for part, name in manifest.parts.items():
            if part == _CITING:
                continue
            values = persist.load(folder / _PARTS / name, shared=True)
            if part == "references":
                manifest.references = values
            else:
                manifest.pages.update(values)
    except Exception:  # (a damaged cache file can raise almost anything: never an error)
        return Manifest()
    return manifest


def load_citing(folder: Path, manifest: Manifest) -> CitingIndex | None:
    """The manifest's citing index (read once, then kept in it), or None."""
    if manifest.citing is None and _CITING in manifest.parts:
        try:
            loaded = persist.load(folder / _PARTS / manifest.parts[_CITING], shared=True)
        except Exception:  # (as in `load`)
            loaded = None
        manifest.citing = loaded if isinstance(loaded, CitingIndex) else None
    return manifest.citing


@dataclass(slots=True)
class Pending:
    """A manifest ready to be written (`prepare`): its changed parts already pickled, so
    that the work is done while the search index runs and only the writing is left for
    after the output is committed."""

    folder: Path  # the cache folder
    head: Manifest
    data: dict[str, bytes]  # file name in manifest/ -> pickled part
    values: dict[str, object]  # file name in manifest/ -> the part (for persist.keeping)

    def write(self, tree: tuple[int, int] | None) -> None:
        """Write the changed parts, then the head (naming them, with the output folder's
        `tree`), then delete the parts no head names."""
        for name, data in self.data.items():
            _write(self.folder, f"{_PARTS}/{name}", data, self.values[name])
        _dump(self.folder, _MANIFEST, dataclasses.replace(self.head, tree=tree))
        kept = set(self.head.parts.values())
        for stale in (self.folder / _PARTS).iterdir():
            if stale.name not in kept:
                stale.unlink(missing_ok=True)


def prepare(folder: Path, manifest: Manifest, previous: Manifest | None = None) -> Pending:
    """`manifest` ready to be written, pickling only the parts that differ from
    `previous` (the manifest this build loaded)."""
    grouped = _grouped(manifest.pages)
    before = _grouped(previous.pages) if previous is not None else {}
    contents: dict[str, object] = {**grouped, "references": manifest.references,
                                   _CITING: manifest.citing}
    parts: dict[str, str] = {}
    data: dict[str, bytes] = {}
    kept: dict[str, object] = {}
    for part, values in contents.items():
        if previous is not None and part in previous.parts:
            if part == "references":
                same = values == previous.references
            elif part == _CITING:
                same = values is previous.citing  # (the same object when nothing changed)
            else:  # the same entry objects (reused ones are), no more, no less
                old = before.get(part, {})
                same = old.keys() == grouped[part].keys() and \
                    all(old[path] is entry for path, entry in grouped[part].items())
            if same:
                parts[part] = previous.parts[part]
                continue
        parts[part] = f"{part}-{os.urandom(8).hex()}.pickle"
        data[parts[part]] = pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL)
        kept[parts[part]] = values
    head = dataclasses.replace(manifest, pages={}, references={}, citing=None, parts=parts)
    return Pending(folder, head, data, kept)


def ensure_folder(folder: Path) -> None:
    """Make the cache `folder` if needed, with a .gitignore that keeps all of it out of git."""
    folder.mkdir(parents=True, exist_ok=True)
    gitignore = folder / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("*\n")


def _dump(folder: Path, name: str, value: object, *, shared: bool = False) -> None:
    """Pickle `value` to `name` in the cache `folder`; `shared`: its readers never change
    it (see persist.keeping)."""
    ensure_folder(folder)
    persist.dump(folder / name, value, shared=shared)


def _write(folder: Path, name: str, data: bytes, value: object) -> None:
    """Write `data`, the pickle of `value` (which its readers never change), to `name` in
    the cache `folder`."""
    ensure_folder(folder)
    persist.write(folder / name, data, value)


def load_front(folder: Path) -> ParseCache:
    """The front matter earlier builds parsed, in buckets read when first needed (empty
    if none, stale or unreadable)."""
    def read(index: int) -> Entries:
        try:
            version, entries = persist.load(folder / _FRONT / f"{index:02d}.pickle")
        except Exception:  # (a damaged cache file can raise almost anything: never an error)
            return {}
        usable = version == (__version__, _FORMAT) and isinstance(entries, dict)
        return entries if usable else {}

    return ParseCache(read, _bucket)


def save_front(folder: Path, parser: ParseCache) -> None:
    """Rewrite the front-matter buckets whose entries changed."""
    for index, entries in parser.to_save().items():
        _dump(folder, f"{_FRONT}/{index:02d}.pickle", ((__version__, _FORMAT), entries))


# The document cache is kept in buckets (by a hash of the path), so that an edit
# rewrites one bucket rather than every document's text.
_DOCUMENT_BUCKETS = 16


def _bucket(rel: str) -> int:
    return hashlib.blake2b(rel.encode(), digest_size=2).digest()[0] % _DOCUMENT_BUCKETS


def load_documents(folder: Path, context: str) -> DocumentCache:
    """The content files earlier builds loaded with the same settings (`context`)."""
    entries: dict[str, tuple[tuple[int, ...], int, LoadedFile]] = {}
    for index in range(_DOCUMENT_BUCKETS):
        try:
            version, saved_context, bucket = persist.load(
                folder / _DOCUMENTS / f"{index:02d}.pickle", shared=True)
        except Exception:  # (a damaged cache file can raise almost anything: never an error)
            continue
        if version == (__version__, _FORMAT) and saved_context == context and \
                isinstance(bucket, dict):
            entries.update(bucket)
    return DocumentCache(entries)


def save_documents(folder: Path, context: str, documents: DocumentCache) -> None:
    """Rewrite the buckets holding a file this build (re)loaded or no longer has."""
    buckets = {_bucket(rel) for rel in documents.dirty()}
    if not buckets:
        return
    grouped: dict[int, dict[str, tuple[tuple[int, ...], int, LoadedFile]]] = {
        index: {} for index in buckets}
    for rel, entry in documents.used.items():
        index = _bucket(rel)
        if index in grouped:
            grouped[index][rel] = entry
    for index, bucket in grouped.items():
        _dump(folder, f"{_DOCUMENTS}/{index:02d}.pickle", ((__version__, _FORMAT), context, bucket),
              shared=True)


def _rebuild_document(cls: type, values: tuple[object, ...], body_length: int) -> object:
    """A Document from its pickled fields (its body is the end of its text)."""
    names = _DOCUMENT_FIELDS[cls]
    fields = dict(zip(names, values, strict=True))
    text = fields["text"]
    assert isinstance(text, str)
    fields["body"] = text[len(text) - body_length:] if body_length else ""
    return cls(**fields)


def _pickle_documents(*classes: type) -> None:
    """Pickle documents without their body, which is the end of their text (halves the
    document cache)."""
    for cls in classes:
        names = tuple(f.name for f in dataclasses.fields(cls) if f.name != "body")
        _DOCUMENT_FIELDS[cls] = names

        def reduce(obj: Document, cls: type = cls, names: tuple[str, ...] = names) -> object:
            if not obj.text.endswith(obj.body):
                return cls, tuple(getattr(obj, f.name) for f in dataclasses.fields(cls))
            return _rebuild_document, (cls, tuple(getattr(obj, name) for name in names),
                                       len(obj.body))

        copyreg.pickle(cls, reduce)  # type: ignore[arg-type]


_DOCUMENT_FIELDS: dict[type, tuple[str, ...]] = {}
_pickle_documents(Summary, Drug, Page)
_pickle_by_constructor(LoadedFile, Review)


def tree_id(out: Path) -> tuple[int, int] | None:
    """What identifies the tree now in `out` (see Manifest.tree)."""
    try:
        st = os.stat(out)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_ino


def reusable(entry: Entry | None, source: str, deps: str, previous_out: Path) -> bool:
    """Whether a page's files in the previous output are exactly what a build would write."""
    if entry is None or entry.source != source or entry.deps != deps:
        return False
    return all((previous_out / rel).is_file() for rel in entry.record.outputs)


def link_outputs(outputs: Iterable[str], previous_out: Path, writer: SiteWriter) -> None:
    """Hard-link (or copy) reused files into the writer's new output."""
    old = str(previous_out)
    for rel in outputs:
        writer.link(rel, os.path.join(old, rel))


def page_deps(record: PageRecord, ref_digests: Mapping[str, str], related: object,
              history: object, templates: str) -> str:
    """Digest of what a page shows besides its own source and the site-wide inputs.
    `templates`: the digest of the templates its last render loaded (Renderer.templates_digest)."""
    refs = "\0".join([f"{ref.key}\1{ref_digests.get(ref.key, '?')}" for ref in record.references])
    return digest(refs.encode(), related, history, record.links, templates)
