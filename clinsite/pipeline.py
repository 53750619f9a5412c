"""build(): the whole pipeline as a flat list of named steps.

Everything is loaded and checked before anything is written; pages are
rendered into a temporary folder that replaces the output only when the
build has succeeded (SPEC §7), so a failed build leaves site/ untouched.
"""

from __future__ import annotations

import gc
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from clinsite import cache, parallel, persist, search, stamp
from clinsite import config as config_mod
from clinsite import writer as writer_mod
from clinsite.compose import LinkTargets
from clinsite.content import check_symlinks, load_board, load_content
from clinsite.diagnostics import Diagnostic, Report, Severity
from clinsite.emit import Output, emit_listings
from clinsite.gitdates import LastCommitDates
from clinsite.listings import CitingIndex
from clinsite.markdown import PageEnv, make_markdown, render_markdown
from clinsite.models import Content, Document, Drug
from clinsite.parallel import PageRecord, Shared, default_jobs
from clinsite.references import ReferenceStore, load_references
from clinsite.render import (
    ListingMemo,
    Renderer,
    SiteView,
    TemplateFailure,
    generator,
    theme_assets,
)
from clinsite.resolve import (
    check_policy_page,
    check_related,
    check_reviewers,
    check_reviews_due,
    check_slugs,
    check_unused_references,
)
from clinsite.stamp import Stamp
from clinsite.views import LinkView, ViewContext
from clinsite.writer import MARKER, SiteWriter, UnsafeOutput, check_output_dir, recover

SOURCE_FOLDERS = ("content", "references", "templates")
# The files every page depends on besides the environment (`site_digest`): a change to one
# rebuilds all pages. Paths relative to the root.
SETTINGS_INPUTS = ("site.yaml", "content/board.yaml")
# An edit of a template that at most this many pages used is "small" (`site_wide`): `serve`
# builds it in its own process, without workers. Rendering that many pages one after the
# other costs about what starting another process, loading the caches there and forking
# workers does (≈ 1 s at N = 2,000).
FEW_PAGES = 100


@dataclass(frozen=True, slots=True)
class BuildOptions:
    root: Path
    out: Path | None = None  # default: <root>/site
    strict: bool = False
    drafts: bool = False
    base_url: str | None = None
    write: bool = True  # False for `clinsite check`
    jobs: int | None = None  # worker processes; None: one per core
    cache: bool = True  # reuse unchanged pages of the previous output (`--no-cache`: don't)
    search: bool = True  # build the search index (`--no-search`: a faster edit loop)
    stamp: Stamp | None = None  # of the inputs, taken before reading them (default: at start)
    # Take and save the no-op stamp (clinsite.stamp), which `clinsite build` replays to say
    # "nothing changed" without loading anything. `serve` never replays one: it does not
    # walk the inputs for it (0.15 s at N = 10,000).
    stamped: bool = True
    # Keep what the build loaded referenced from the result (BuildResult.kept), for a caller
    # that ends the process next without freeing it (the CLI): freeing a large site's
    # objects one by one takes 0.2 s at N = 10,000.
    keep_loaded: bool = False
    # Where the build keeps its cache (default: <root>/.clinsite-cache). `serve` keeps its
    # own, so that its previews and `build`'s site/ do not undo each other's cache.
    cache_dir: Path | None = None

    @property
    def out_dir(self) -> Path:
        return self.out if self.out is not None else self.root / "site"

    @property
    def cache_folder(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.root / cache.CACHE_DIR


@dataclass(slots=True)
class BuildResult:
    report: Report
    pages: int = 0
    seconds: float = 0.0
    written: bool = False
    usage_error: str | None = None  # e.g. an unsafe --out: exit status 2
    kept: object = field(default=None, repr=False, compare=False)  # with
    # BuildOptions.keep_loaded: what the build loaded
    # Every folder of the committed output, when the writer knows them (for the stamp).
    folders: tuple[tuple[str, int, int], ...] | None = field(default=None, repr=False,
                                                             compare=False)

    @property
    def ok(self) -> bool:
        return self.usage_error is None and self.report.errors == 0


def build(options: BuildOptions, progress: Callable[[str], None] | None = None) -> BuildResult:
    """Load, check, render and (unless checking) write the site."""
    with persist.frozen_gc():  # (see _build: what is loaded is frozen once loaded)
        return _build(options, progress)


def _build(options: BuildOptions, progress: Callable[[str], None] | None) -> BuildResult:
    started = time.perf_counter()
    report = Report()
    result = BuildResult(report)
    root = options.root
    caching = options.cache and options.write  # read and write .clinsite-cache/
    if caching and options.stamped and options.stamp is None:
        options = replace(options, stamp=stamp.take(root, options.out_dir, stamp.build_options(
            options.strict, options.drafts, options.base_url, options.search)))
    # 1. Settings first: every later step needs base_url and the review interval.
    config, problems = config_mod.load_config(root, options.base_url)
    report.extend(problems)
    if config is None:
        return _finish(result, options, started)
    today = config_mod.today()
    # 2-4. Load every input; each loader reports all its problems.
    report.extend(check_symlinks(root, SOURCE_FOLDERS))
    board, problems = load_board(root)
    report.extend(problems)
    folder = options.cache_folder
    store, problems = load_references(root, folder if caching else None)
    report.extend(problems)
    git = LastCommitDates(root)
    parser = cache.load_front(folder) if caching else None
    loading = cache.digest(config, today, stamp.environment())  # what loading a file depends on
    documents = cache.load_documents(folder, loading) if caching else None
    content, problems = load_content(root, config, drafts=options.drafts, dates=git,
                                     parser=parser, documents=documents)
    report.extend(problems)
    if parser is not None:
        cache.save_front(folder, parser)
    if documents is not None:
        cache.save_documents(folder, loading, documents)
    # 5. Cross-file checks need everything loaded.
    report.extend(check_reviewers(content, board))
    report.extend(check_reviews_due(content, today))
    report.extend(check_slugs(content))
    report.extend(check_related(content))
    report.extend(check_policy_page(config, content,
                                    config.values.get("editorial_policy", (1, 1))))
    # 6. Everything the pages share: parser, disclaimer, page history, templates.
    md = make_markdown()
    targets = LinkTargets({doc.path: doc.url for doc in content.all()}, content.drafts)
    site = SiteView(config.title, config.publisher, config.language, config.base_url,
                    config.description, _disclaimer(md, config, root, report),
                    f"{config.editorial_policy}/" if config.editorial_policy else None,
                    generator(), tuple(sorted((p.title, p.url) for p in content.pages)),
                    options.search)
    ctx = ViewContext(config.base_url, board, store, today,
                      {doc.slug: doc for doc in (*content.summaries, *content.drugs)}, {},
                      config.title, config.publisher, config.language,
                      git.history([doc.path for doc in content.reviewed()]))
    renderer = Renderer(root, site, ctx, folder / cache.TEMPLATES if caching else None)
    plan = _plan(options, content, store, ctx, site_digest(root, options, content, today),
                 documents.sources() if documents is not None else {},
                 renderer.templates_digest)
    # The loaded content, references and caches live for the whole build: keep the cyclic
    # collector from walking them again and again (as often as every 700 allocations).
    gc.freeze()
    if caching:
        renderer.memo = ListingMemo(folder / cache.LISTINGS,
                                    plan.manifest.listings if plan.usable() else None, renderer)
    if plan.up_to_date(content):
        # Nothing any page depends on changed and the output is intact: report the
        # pages' diagnostics again and leave the output as it is.
        records = {path: entry.record for path, entry in plan.manifest.pages.items()}
        for record in sorted(records.values(), key=lambda r: r.path):
            report.extend(record.diagnostics)
        report.extend(check_unused_references(
            store, {ref.key for record in records.values() for ref in record.references}))
        result.written = not (report.errors or (options.strict and report.warnings))
        result.pages = plan.manifest.html_pages
        if options.keep_loaded:
            result.kept = (documents, content, store, plan, records)
        return _finish(result, options, started)
    writer = None
    if options.write:
        try:
            check_output_dir(root, options.out_dir, SOURCE_FOLDERS)
        except UnsafeOutput as exc:
            result.usage_error = str(exc)
            return _finish(result, options, started)
        recover(options.out_dir)
        writer = SiteWriter(options.out_dir, journal=folder / cache.JOURNAL,
                            remember=caching,
                            known=(plan.journal, plan.live_tree) if caching else None)
        writer.set_aside(search.VIEWS)  # (a recycled tree holds none, unless made by hand)
    output = Output(writer)
    indexer = search.Indexer(writer.tmp if writer is not None else Path(),
                             options.jobs or default_jobs(),
                             writer.set_aside if writer is not None else None)
    try:
        # 7. Every page, in parallel; pages go straight into the temporary output (a
        #    failed build discards it), and templates run even when content has errors,
        #    so their errors are reported in the same run.
        shared = Shared(md, {doc.path: doc for doc in content.all()}, store, targets, renderer,
                        writer, views=options.search)
        pages = [doc for doc in content.all() if not isinstance(doc, Drug)]
        records = plan.reuse(pages, writer)
        built = parallel.run(shared, [doc for doc in pages if doc.path not in records],
                             plan.keys, options.jobs or default_jobs(), progress)
        records.update((r.path, r) for r in built)
        fresh_paths = {r.path for r in built} | {doc.path for doc in content.drugs}
        citing: CitingIndex | None = None
        pending: cache.Pending | None = None
        # Drug pages list the summaries linking to them, so they come once links are known.
        renderer.ctx = replace(ctx, linked_from=linked_from(content, records))
        for drug in content.drugs:
            records[drug.path] = parallel.render_document(shared, drug)
        for record in sorted(records.values(), key=lambda r: r.path):
            report.extend(record.diagnostics)
        cited = {ref.key for record in records.values() for ref in record.references}
        report.extend(check_unused_references(store, cited))
        # 8. Search indexes the finished pages (Pagefind, in the background) while the
        #    listings and machine files are made from the pages' records.
        shards = search.assign_shards(indexed_pages(records)) if options.search else []
        if writer is not None and options.search and not (
                report.errors or (options.strict and report.warnings)):
            plan.start_search(shards, records, writer, indexer)
        if writer is not None:
            writer.set_aside(search.VIEWS)  # (every shard is staged: none is needed now)
        known = cache.load_citing(folder, plan.manifest) if plan.usable() else None
        try:
            citing = emit_listings(
                renderer, content, records, config, output, root,
                [search.shard_dir(i) + "/" for i, _ in enumerate(shards) if i],
                (known, fresh_paths) if known is not None else ())
        except TemplateFailure as exc:
            report.add(exc.diagnostic)
        # The manifest is made and pickled while Pagefind may still run; written once the
        # output is committed.
        if writer is not None and citing is not None and not (
                report.errors or (options.strict and report.warnings)):
            memo = renderer.memo
            pending = plan.prepare(records, output.pages + sum(
                1 for r in records.values() for o in r.outputs if o.endswith(".html")),
                frozenset(memo.used) if memo is not None else frozenset(),
                tuple(sorted(memo.names)) if memo is not None else (), citing)
        report.extend(indexer.wait())
        failing = bool(report.errors or (options.strict and report.warnings))
        if writer is not None and not report.errors and not failing:
            produced = writer.written | {rel for r in records.values() for rel in r.outputs}
            produced.update(plan.search_files)  # the reused shards' files
            fresh = {rel for r in built for rel in r.outputs  # (written by the workers,
                     if rel not in r.kept}  # but for the live files they kept)
            for index in indexer.indexed:  # the re-indexed shards' (their folders were cleared)
                fresh.update(_bundle_files(writer.tmp / search.shard_dir(index), writer.tmp))
            produced.update(fresh)
            writer.sweep(produced)
            writer.commit(fresh)
            result.written = True
            result.folders = writer.committed_folders
            # (The memo after the commit only: a memo key assumes the site-wide inputs of
            # the manifest in place, and a failed build must not replace the texts it names.)
            if renderer.memo is not None:
                renderer.memo.save()
            if pending is not None:
                pending.write(cache.tree_id(options.out_dir))
            writer.finish()  # (last: stopped there, a build has saved all it must)
    finally:
        indexer.wait()  # (after a failure too: Pagefind must not write into a removed tree)
        if writer is not None and not result.written:
            writer.abort()  # the previous output stays exactly as it was
    result.pages = sum(1 for r in records.values() for o in r.outputs if o.endswith(".html"))
    result.pages += output.pages
    if options.keep_loaded:
        result.kept = (documents, content, store, plan, records, renderer, shared)
    return _finish(result, options, started)


@dataclass(slots=True)
class _Plan:
    """Which pages the previous build's output already holds (see clinsite.cache). Made
    whole by `_plan`; `search_files` and `shard_digests` are filled in by `start_search`."""

    options: BuildOptions
    store: ReferenceStore
    manifest: cache.Manifest
    site: str
    sources: dict[str, str]  # path -> digest of the page's text and date
    keys: set[str]  # every reference key a page may cite
    refs: dict[str, str]  # key -> digest of its entry, for those keys
    context: dict[str, tuple[object, object]]  # path -> (related pages' titles and URLs,
    # history)
    deps: dict[str, str]  # path -> digest of what the page shows besides its source
    shared: str  # digest of the site's titles and URLs by slug, git history and assets (`_plan`)
    templates: Callable[[tuple[str, ...]], str]  # names -> digest of their sources now
    # Whether what the pages' dependency digests share (`shared`, and every template the
    # manifest's pages and listings used) is as the manifest has it
    same_shared: bool
    live: tuple[int, int] | None  # cache.tree_id of the output folder now
    journal: writer_mod.Journal | None  # the writer's record of the output trees
    live_tree: writer_mod.Tree | None  # its record of the output, if the output is intact
    search_files: set[str] = field(default_factory=set)  # reused search shards' files
    shard_digests: list[str] = field(default_factory=list)  # of each search shard's pages

    @property
    def previous(self) -> Path:
        return self.options.out_dir

    def usable(self) -> bool:
        return (self.options.cache and self.options.write and self.manifest.site == self.site
                and self.manifest.out == str(self.previous.resolve())
                and self.manifest.tree is not None and self.manifest.tree == self.live
                and self.live_tree is not None)  # (not changed by hand)

    def reuse(self, docs: list[Document], writer: SiteWriter | None) -> dict[str, PageRecord]:
        """Link the unchanged pages into the new output; their records, by path."""
        reused: dict[str, PageRecord] = {}
        if writer is None or not self.usable():
            return reused
        for doc in docs:
            entry = self.manifest.pages.get(doc.path)
            if entry is None or entry.source != self.sources[doc.path] or \
                    entry.deps != self.deps[doc.path]:
                continue
            outputs = entry.record.outputs
            if all(map(writer.holds, outputs)):
                pass  # the new tree already holds the live tree's copy
            elif cache.reusable(entry, self.sources[doc.path], self.deps[doc.path],
                                self.previous):
                cache.link_outputs(outputs, self.previous, writer)
            else:
                continue
            writer.written.update(outputs)
            reused[doc.path] = entry.record
        return reused

    def up_to_date(self, content: Content) -> bool:
        """True when the previous output is exactly what this build would write."""
        if not self.usable() or not self.same_shared or \
                set(self.manifest.pages) != set(self.sources):
            return False
        pages = self.manifest.pages
        if any(pages[doc.path].source != self.sources[doc.path] or
               pages[doc.path].deps != self.deps[doc.path] for doc in content.all()):
            return False  # (the usual answer, found without a `stat` a page)
        if not (self.previous / MARKER).is_file() or (
                self.options.search and not (self.previous / "pagefind").is_dir()):
            return False
        return all(cache.reusable(pages.get(doc.path), self.sources[doc.path],
                                  self.deps[doc.path], self.previous) for doc in content.all())

    def start_search(self, shards: list[list[str]], records: Mapping[str, PageRecord],
                     writer: SiteWriter, indexer: search.Indexer) -> None:
        """Link the previous build's copy of each search shard whose pages are unchanged;
        hand the others to `indexer`, which runs Pagefind while the build goes on."""
        digests = {rel: record.indexed_digest for record in records.values()
                   for rel in record.outputs[:1]}
        self.shard_digests = [cache.digest([(rel, digests[rel]) for rel in pages])
                              for pages in shards]
        previous = self.manifest.search if self.usable() else []
        held = _held_bundles(writer.mirror, len(shards)) if writer.mirror is not None else None
        for index, pages in enumerate(shards):
            bundle = self.previous / search.shard_dir(index)
            unchanged = len(previous) == len(shards) and \
                previous[index] == self.shard_digests[index]
            if unchanged and held is not None and \
                    f"{search.shard_dir(index)}/pagefind-entry.json" in held[index]:
                self.search_files.update(held[index])  # already in the new tree
            elif unchanged and (bundle / "pagefind-entry.json").is_file():
                files = sorted(_bundle_files(bundle, self.previous))
                cache.link_outputs(files, self.previous, writer)
                self.search_files.update(files)
            else:
                _clear_bundle(writer.tmp / search.shard_dir(index))  # (a recycled tree's)
                indexer.submit(index, pages)

    def prepare(self, records: Mapping[str, PageRecord], html_pages: int,
                listings: frozenset[str], listing_templates: tuple[str, ...],
                citing: CitingIndex) -> cache.Pending | None:
        """The manifest of this build, to be written once its output is committed (None
        without the cache)."""
        if not self.options.cache:
            return None
        pages = {}
        for path, record in records.items():
            if path not in self.sources:
                continue
            entry = self.manifest.pages.get(path)
            if entry is not None and entry.record is record and \
                    entry.source == self.sources[path] and entry.deps == self.deps[path]:
                pages[path] = entry  # reused: what it depends on was checked unchanged
            else:
                pages[path] = cache.Entry(self.sources[path], self.deps_after(record), record)
        refs = {key: (self.refs[key], ref) for key, ref in self.store.formatted().items()
                if key in self.refs}
        return cache.prepare(self.options.cache_folder, cache.Manifest(
            self.site, str(self.previous.resolve()), pages, self.shard_digests, refs,
            html_pages=html_pages, listings=listings, listing_templates=listing_templates,
            shared=_shared(self.shared, self.templates, pages.values(), listing_templates),
            citing=citing),
            self.manifest)

    def deps_after(self, record: PageRecord) -> str:
        return cache.page_deps(record, self.refs, *self.context[record.path],
                               self.templates(record.templates))



def _plan(options: BuildOptions, content: Content, store: ReferenceStore, ctx: ViewContext,
          site: str, known: Mapping[str, str],
          templates: Callable[[tuple[str, ...]], str]) -> _Plan:
    """Digest every page's inputs and decide against the previous manifest. `known`: the
    source digests the document cache already has, by path; `templates`: the digest of the
    sources of templates, by their names (Renderer.templates_digest)."""
    manifest = cache.load(options.cache_folder) if options.cache and options.write \
        else cache.Manifest()
    paths = {doc.path for doc in content.all()}
    sources = {doc.path: known.get(doc.path) or cache.source_digest(doc)
               for doc in content.all()}
    new_text = [doc for doc in content.all() if (entry := manifest.pages.get(doc.path)) is None
                or entry.source != sources[doc.path]]
    # The references any page may cite: those the unchanged pages cited last time, and
    # every `@key` in the text of new and changed pages.
    keys = {ref.key for entry in manifest.pages.values() for ref in entry.record.references}
    keys.update(cited_candidates(new_text))
    refs = {key: store.digest(key) for key in keys if key in store}
    # References formatted by an earlier build, whose entries have not changed since.
    store.preload({key: ref for key, (known, ref) in manifest.references.items()
                   if refs.get(key) == known})
    # A page's dependency digest takes the titles and URLs of its related pages, its git
    # history and the templates it used from elsewhere: when neither the site's pages by
    # slug, nor its history, nor any template a page used changed since the last build, nor
    # the entry of any reference a page cites, the page's digest is the manifest's, and is
    # not made again (one digest of the site instead of one a page).
    shared = cache.digest(sorted((slug, doc.title, doc.url)
                                 for slug, doc in ctx.pages_by_slug.items()),
                          sorted(ctx.history.items()), assets_digest(options.root))
    same_shared = manifest.shared == _shared(shared, templates, manifest.pages.values(),
                                             manifest.listing_templates)
    before = manifest.references
    changed = {key for key in keys
               if (was := before.get(key)) is None or was[0] != refs.get(key)}
    context: dict[str, tuple[object, object]] = {}
    deps: dict[str, str] = {}
    for doc in content.all():
        related = [(slug, ctx.pages_by_slug[slug].title, ctx.pages_by_slug[slug].url)
                   for slug in getattr(doc, "related", ()) if slug in ctx.pages_by_slug]
        context[doc.path] = (related, ctx.history.get(doc.path, ()))
        entry = manifest.pages.get(doc.path)
        if entry is None or not paths.issuperset(entry.record.links):
            deps[doc.path] = ""
        elif same_shared and entry.deps and \
                changed.isdisjoint([ref.key for ref in entry.record.references]):
            deps[doc.path] = entry.deps
        else:
            deps[doc.path] = cache.page_deps(entry.record, refs, *context[doc.path],
                                             templates(entry.record.templates))
    journal = writer_mod.read_journal(options.cache_folder / cache.JOURNAL,
                                      options.out_dir) if options.cache and options.write else None
    return _Plan(options, store, manifest, site, sources, keys, refs, context, deps, shared,
                 templates, same_shared, cache.tree_id(options.out_dir), journal,
                 writer_mod.live_tree(journal, options.out_dir))


def _shared(site: str, templates: Callable[[tuple[str, ...]], str],
            entries: Iterable[cache.Entry], listing_templates: tuple[str, ...]) -> str:
    """What a manifest keeps as the inputs its pages' dependency digests and its listings
    share: `site` (`_plan`) and the sources of every template its pages (`entries`) and
    listings used."""
    used = {entry.record.templates for entry in entries}  # (a few tuples, shared by many)
    used.add(listing_templates)
    return cache.digest(site, templates(tuple(sorted({name for names in used for name in names}))))


def assets_digest(root: Path) -> str:
    """The theme's and the site's assets (paths and bytes): no page depends on them, but a
    build that changes one must not be taken for one where nothing changed."""
    return cache.digest(*(part for rel, source in theme_assets(root)
                          for part in (rel, source.read_bytes())))


def site_digest(root: Path, options: BuildOptions, content: Content, today: object) -> str:
    """Everything every page depends on: a change rebuilds all pages."""
    def read(rel: str) -> bytes:
        path = root / rel
        return path.read_bytes() if path.is_file() else b""

    files = [read(rel) for rel in SETTINGS_INPUTS]
    plain = sorted((page.title, page.url) for page in content.pages)
    return cache.digest(*files, today, options.base_url, options.drafts, options.search, plain,
                        stamp.environment())


def site_wide(changed: Iterable[str], cache_folder: Path) -> bool:
    """Whether a build after these changes (paths relative to the root) may render many
    pages: after an edit of the settings, which every page depends on, or of a template
    that more than FEW_PAGES pages used in the build `cache_folder` remembers (any template,
    when it remembers none). `serve` builds such a change in a process of its own, with
    workers. An asset (under templates/assets/) counts the pages that included it as a
    template, usually none."""
    paths = list(changed)
    if any(path in SETTINGS_INPUTS or path == "templates" for path in paths):
        return True
    names = {path[len("templates/"):] for path in paths if path.startswith("templates/")}
    if not names:
        return False
    manifest = cache.load(cache_folder)
    if not manifest.pages:
        return True
    using: dict[tuple[str, ...], bool] = {}  # (the records share a few tuples of names)
    pages = 0
    for entry in manifest.pages.values():
        used = entry.record.templates
        if used not in using:  # a name, or a folder of templates (a folder deleted)
            using[used] = any(name == edited or name.startswith(edited + "/")
                              for name in used for edited in names)
        pages += using[used]
    return pages > FEW_PAGES


_CANDIDATE_KEY = re.compile(r"@([A-Za-z0-9_][A-Za-z0-9_:.#$%&+?<>~/-]*)")


def cited_candidates(docs: Iterable[Document]) -> set[str]:
    """Every `@key` that may be a citation (a cheap superset), so the references
    can be formatted once, in parallel, before the pages are built."""
    found: set[str] = set()
    for doc in docs:
        for match in _CANDIDATE_KEY.finditer(doc.text):
            key = match.group(1)
            found.add(key)
            found.add(key.rstrip(":.#$%&+?<>~/-"))
    return found


def indexed_pages(records: Mapping[str, PageRecord]) -> list[str]:
    """The pages the search index holds: every document page (listings are not indexed)."""
    return sorted(record.outputs[0] for record in records.values() if record.outputs)


def _bundle_files(bundle: Path, out: Path) -> list[str]:
    """A search shard's files, relative to `out` (the primary's without the other shards)."""
    found = []
    for path in bundle.rglob("*"):
        rel = path.relative_to(bundle)
        if path.is_file() and not rel.parts[0].startswith("shard-"):
            found.append(path.relative_to(out).as_posix())
    return found


def _held_bundles(files: Iterable[str], shards: int) -> list[set[str]]:
    """The files of each search shard among `files` (relative to the output)."""
    held: list[set[str]] = [set() for _ in range(shards)]
    primary = search.shard_dir(0) + "/"
    for rel in files:
        if not rel.startswith(primary):
            continue
        first, nested, _ = rel[len(primary):].partition("/")
        index = 0
        if nested and first.startswith("shard-"):
            suffix = first[len("shard-"):]
            index = int(suffix) if suffix.isdigit() else -1
        if 0 <= index < shards:
            held[index].add(rel)
    return held


def _clear_bundle(bundle: Path) -> None:
    """Remove a search shard's own files (not the other shards' folders inside the
    primary) before Pagefind writes it afresh."""
    if bundle.is_symlink():
        bundle.unlink()
        return
    if not bundle.is_dir():
        return
    for path in bundle.iterdir():
        if path.is_dir() and not path.is_symlink():
            if not path.name.startswith("shard-"):
                shutil.rmtree(path)
        else:
            path.unlink()


def linked_from(content: Content,
                records: Mapping[str, PageRecord]) -> dict[str, tuple[LinkView, ...]]:
    """For each page, the summaries that link to it or list it as related."""
    by_slug = {doc.slug: doc.path for doc in content.all()}
    found: dict[str, set[tuple[str, str]]] = {}
    for doc in content.summaries:
        targets = set(records[doc.path].links)
        targets.update(by_slug[slug] for slug in doc.related if slug in by_slug)
        for target in targets - {doc.path}:
            found.setdefault(target, set()).add((doc.title, doc.url))
    return {path: tuple(LinkView(t, u) for t, u in sorted(links)) for path, links in found.items()}


def _disclaimer(md: object, config: config_mod.SiteConfig, root: Path, report: Report) -> str:
    """The site-wide disclaimer, rendered once (it may not cite)."""
    from clinsite.citations import CitationRegistry

    env = PageEnv(registry=CitationRegistry(frozenset()), describe=lambda key: key,
                  resolve_link=lambda href: None, check_uncited=False)
    rendered = render_markdown(md, config.disclaimer, env)  # type: ignore[arg-type]
    text = (root / config_mod.CONFIG_FILE).read_text(encoding="utf-8-sig", errors="replace")
    start = config.values.get("disclaimer", (1, 1))
    lines = config.disclaimer.split("\n")
    for problem in rendered.problems:
        line_text = lines[problem.line0] if problem.line0 < len(lines) else ""
        needle = line_text[problem.col0:problem.col0 + 24]
        line, col = _find_after(text, needle, start) if needle else start
        message = problem.message
        if problem.code == "unknown-citation":
            key = message.split("'")[1] if "'" in message else ""
            message = f"the disclaimer cannot cite references ('{key}' is cited)"
        report.add(Diagnostic("site.yaml", line, col, Severity(problem.severity), problem.code,
                              f"in the disclaimer: {message}"))
    return rendered.html


def _find_after(text: str, needle: str, start: tuple[int, int]) -> tuple[int, int]:
    """1-based position of `needle` in `text` at or after line/col `start`."""
    lines = text.replace("\r\n", "\n").split("\n")
    offset = sum(len(line) + 1 for line in lines[: start[0] - 1]) + start[1] - 1
    flat = "\n".join(lines)
    found = flat.find(needle, offset)
    if found < 0:
        return start
    return flat.count("\n", 0, found) + 1, found - flat.rfind("\n", 0, found)


def _finish(result: BuildResult, options: BuildOptions, started: float) -> BuildResult:
    if options.strict:
        result.report = result.report.strict()
    if options.write and result.written and result.ok and options.stamp is not None:
        stamp.save(options.cache_folder, options.out_dir, options.stamp,
                   tuple(result.report.sorted()), result.pages, result.folders)
    elif options.write and (result.written or not options.cache):
        stamp.forget(options.cache_folder)
    result.seconds = time.perf_counter() - started
    return result
