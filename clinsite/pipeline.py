"""build(): the whole pipeline as a flat list of named steps.

Everything is loaded and checked before anything is written; pages are
rendered into a temporary folder that replaces the output only when the
build has succeeded (SPEC §7), so a failed build leaves site/ untouched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from clinsite import config as config_mod
from clinsite import parallel
from clinsite.compose import LinkTargets
from clinsite.content import check_symlinks, load_board, load_content
from clinsite.diagnostics import Diagnostic, Report, Severity
from clinsite.emit import Output, emit_listings
from clinsite.gitdates import LastCommitDates
from clinsite.markdown import PageEnv, make_markdown, render_markdown
from clinsite.models import Content, Drug
from clinsite.parallel import PageRecord, Shared, default_jobs
from clinsite.references import load_references
from clinsite.render import Renderer, SiteView, TemplateFailure, generator
from clinsite.resolve import (
    check_policy_page,
    check_related,
    check_reviewers,
    check_reviews_due,
    check_slugs,
    check_unused_references,
)
from clinsite.search import index_site
from clinsite.views import LinkView, ViewContext
from clinsite.writer import SiteWriter, UnsafeOutput, check_output_dir, recover

SOURCE_FOLDERS = ("content", "references", "templates")


@dataclass(frozen=True, slots=True)
class BuildOptions:
    root: Path
    out: Path | None = None  # default: <root>/site
    strict: bool = False
    drafts: bool = False
    base_url: str | None = None
    write: bool = True  # False for `clinsite check`
    jobs: int | None = None  # worker processes; None: one per core

    @property
    def out_dir(self) -> Path:
        return self.out if self.out is not None else self.root / "site"


@dataclass(slots=True)
class BuildResult:
    report: Report
    pages: int = 0
    seconds: float = 0.0
    written: bool = False
    usage_error: str | None = None  # e.g. an unsafe --out: exit status 2

    @property
    def ok(self) -> bool:
        return self.usage_error is None and self.report.errors == 0


def build(options: BuildOptions, progress: Callable[[str], None] | None = None) -> BuildResult:
    """Load, check, render and (unless checking) write the site."""
    started = time.perf_counter()
    report = Report()
    result = BuildResult(report)
    root = options.root
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
    store, problems = load_references(root)
    report.extend(problems)
    git = LastCommitDates(root)
    content, problems = load_content(root, config, drafts=options.drafts, dates=git)
    report.extend(problems)
    # 5. Cross-file checks need everything loaded.
    report.extend(check_reviewers(content, board))
    report.extend(check_reviews_due(content, today))
    report.extend(check_slugs(content))
    report.extend(check_related(content))
    report.extend(check_policy_page(config, content, config.lines.get("editorial_policy", 1)))
    # 6. Everything the pages share: parser, disclaimer, page history, templates.
    md = make_markdown()
    targets = LinkTargets({doc.path: doc.url for doc in content.all()})
    site = SiteView(config.title, config.publisher, config.language, config.base_url,
                    config.description, _disclaimer(md, config, report),
                    f"{config.editorial_policy}/" if config.editorial_policy else None,
                    generator(), tuple(sorted((p.title, p.url) for p in content.pages)))
    ctx = ViewContext(config.base_url, board, store, today,
                      {doc.slug: doc for doc in (*content.summaries, *content.drugs)}, {},
                      config.title, config.publisher, config.language,
                      git.history([doc.path for doc in content.reviewed()]))
    renderer = Renderer(root, site, ctx)
    writer = None
    if options.write:
        try:
            check_output_dir(root, options.out_dir, SOURCE_FOLDERS)
        except UnsafeOutput as exc:
            result.usage_error = str(exc)
            return _finish(result, options, started)
        recover(options.out_dir)
        writer = SiteWriter(options.out_dir)
    output = Output(writer)
    try:
        # 7. Every page, in parallel; pages go straight into the temporary output (a
        #    failed build discards it), and templates run even when content has errors,
        #    so their errors are reported in the same run.
        shared = Shared(md, {doc.path: doc for doc in content.all()}, store, targets, renderer,
                        writer)
        pages = [doc for doc in content.all() if not isinstance(doc, Drug)]
        records = {r.path: r for r in parallel.run(shared, pages, cited_candidates(content),
                                                   options.jobs or default_jobs(), progress)}
        # Drug pages list the summaries linking to them, so they come once links are known.
        renderer.ctx = replace(ctx, linked_from=linked_from(content, records))
        for drug in content.drugs:
            records[drug.path] = parallel.render_document(shared, drug)
        for record in sorted(records.values(), key=lambda r: r.path):
            report.extend(record.diagnostics)
        cited = {ref.key for record in records.values() for ref in record.references}
        report.extend(check_unused_references(store, cited))
        # 8. Listings and machine files, from the pages' records.
        try:
            emit_listings(renderer, content, records, config, output, root)
        except TemplateFailure as exc:
            report.add(exc.diagnostic)
        failing = bool(report.errors or (options.strict and report.warnings))
        if writer is not None and not failing:
            # Search indexes the finished pages, before they replace the old site.
            report.extend(d for d in [index_site(writer.tmp)] if d is not None)
        if writer is not None and not report.errors and not failing:
            writer.commit()
            result.written = True
    finally:
        if writer is not None and not result.written:
            writer.abort()  # the previous output stays exactly as it was
    result.pages = sum(1 for r in records.values() for o in r.outputs if o.endswith(".html"))
    result.pages += output.pages
    return _finish(result, options, started)


_CANDIDATE_KEY = re.compile(r"@([A-Za-z0-9_][A-Za-z0-9_:.#$%&+?<>~/-]*)")


def cited_candidates(content: Content) -> set[str]:
    """Every `@key` that may be a citation (a cheap superset), so the references
    can be formatted once, in parallel, before the pages are built."""
    found: set[str] = set()
    for doc in content.all():
        for match in _CANDIDATE_KEY.finditer(doc.text):
            key = match.group(1)
            found.add(key)
            found.add(key.rstrip(":.#$%&+?<>~/-"))
    return found


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


def _disclaimer(md: object, config: config_mod.SiteConfig, report: Report) -> str:
    """The site-wide disclaimer, rendered once (it may not cite)."""
    from clinsite.citations import CitationRegistry

    env = PageEnv(registry=CitationRegistry(frozenset()), describe=lambda key: key,
                  resolve_link=lambda href: None, check_uncited=False)
    rendered = render_markdown(md, config.disclaimer, env)  # type: ignore[arg-type]
    line = config.lines.get("disclaimer", 1)
    for problem in rendered.problems:
        report.add(Diagnostic("site.yaml", line, 1, Severity(problem.severity), problem.code,
                              f"in the disclaimer: {problem.message}"))
    return rendered.html


def _finish(result: BuildResult, options: BuildOptions, started: float) -> BuildResult:
    if options.strict:
        result.report = result.report.strict()
    result.seconds = time.perf_counter() - started
    return result
