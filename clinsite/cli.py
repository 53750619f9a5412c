"""The `clinsite` command line: thin click commands over the pipeline.

Exit status: 0 success, 1 content errors, 2 usage errors. Diagnostics go to
stderr, one a line. Heavy modules are imported inside the commands so
`clinsite --help` starts fast.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from clinsite import __version__

if TYPE_CHECKING:
    from clinsite.diagnostics import Diagnostic
    from clinsite.pipeline import BuildOptions, BuildResult
    from clinsite.refs.model import Work
    from clinsite.scaffold import Kind

_ROOT = click.option(
    "--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
    show_default=True, help="The site's folder (with site.yaml, content/, references/).",
)
_STRICT = click.option("--strict", is_flag=True, help="Treat warnings as errors.")
_FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["text", "github"]), default="text", show_default=True,
    help="Diagnostics as compiler-style lines or GitHub Actions annotations.",
)
_DRAFTS = click.option("--drafts", is_flag=True, help="Include pages marked draft: true.")
_QUIET = click.option("--quiet", "-q", is_flag=True, help="Print only diagnostics.")
_TO = click.option("--to", type=click.Path(dir_okay=False, path_type=Path), default=None,
                   help="The .bib file in references/ to append to (default: imported.bib).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="clinsite")
def cli() -> None:
    """Build a static website of citable, reviewed clinical summaries."""


@cli.command()
@_ROOT
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: <root>/site).")
@_STRICT
@_DRAFTS
@click.option("--base-url", default=None, help="Override site.yaml's base_url.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per core).")
@click.option("--no-cache", is_flag=True,
              help="Ignore the incremental cache (<root>/.clinsite-cache): a clean build.")
@click.option("--no-search", is_flag=True,
              help="Skip the search index (and the search page): a faster edit loop.")
@_QUIET
@_FORMAT
def build(root: Path, out: Path | None, strict: bool, drafts: bool, base_url: str | None,
          jobs: int | None, no_cache: bool, no_search: bool, quiet: bool, fmt: str) -> None:
    """Build the site into --out, replacing it only if the build succeeds."""
    _require_root(root)
    started = time.perf_counter()
    taken = None
    if not no_cache:  # nothing changed since the last build: say so without loading anything
        from clinsite import stamp

        out_dir = out if out is not None else root / "site"
        taken = stamp.take(root, out_dir, stamp.build_options(strict, drafts, base_url,
                                                                not no_search))
        saved = stamp.replay(root / stamp.CACHE_DIR, out_dir, taken)
        if saved is not None:
            from clinsite.progress import tally, write_diagnostics

            write_diagnostics(sorted(saved.diagnostics), sys.stderr, fmt)
            if not quiet:
                warnings = sum(d.severity == "warning" for d in saved.diagnostics)
                click.echo(f"Built {saved.pages} pages into {out_dir} in "
                           f"{time.perf_counter() - started:.2f} s: {tally(0, warnings)} "
                           "(nothing changed).", err=True)
            sys.exit(0)
    from clinsite.pipeline import BuildOptions

    options = BuildOptions(root=root, out=out, strict=strict, drafts=drafts, base_url=base_url,
                           jobs=jobs, cache=not no_cache, search=not no_search, stamp=taken,
                           keep_loaded=_own_program)
    result = _run_build(options, quiet)
    _report(result, fmt, "Build")
    if not quiet and result.ok:
        from clinsite.progress import tally

        r = result.report
        click.echo(f"Built {result.pages} pages into {options.out_dir} in {result.seconds:.2f} s"
                   f": {tally(r.errors, r.warnings)}.", err=True)
    _exit(result)


@cli.command()
@_ROOT
@_STRICT
@_DRAFTS
@_QUIET
@_FORMAT
def check(root: Path, strict: bool, drafts: bool, quiet: bool, fmt: str) -> None:
    """Run every validation of `build` and write nothing."""
    from clinsite.pipeline import BuildOptions

    _require_root(root)
    result = _run_build(BuildOptions(root=root, strict=strict, drafts=drafts, write=False,
                                     keep_loaded=_own_program), quiet)
    _report(result, fmt, "Check")
    if not quiet and result.ok:
        from clinsite.progress import tally

        r = result.report
        click.echo(f"Checked {result.pages} pages in {result.seconds:.2f} s: "
                   f"{tally(r.errors, r.warnings)}.", err=True)
    _exit(result)


@cli.command()
@_ROOT
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")
@_DRAFTS
def serve(root: Path, port: int, drafts: bool) -> None:
    """Preview the site on 127.0.0.1: rebuild on every change and reload the browser."""
    import signal

    from clinsite.serve import DevServer, ServeError

    _require_root(root)
    server = DevServer(root, port, drafts=drafts)
    try:
        server.bind()
    except ServeError as exc:
        _fail(str(exc), 2)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it like Ctrl-C
    # A process started in the background by a non-interactive shell inherits SIGINT as
    # ignored, and Python then leaves it so: Ctrl-C (or `kill -INT`) must always stop serve.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup
        server.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, previous)
    click.echo("Stopped.", err=True)


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


@cli.group()
def new() -> None:
    """Write a new content file with the right front matter."""


def _new(root: Path, kind: Kind, title: str) -> None:
    from clinsite.scaffold import ScaffoldError, create

    _require_root(root)
    try:
        path = create(root, kind, title)
    except ScaffoldError as exc:
        _fail(str(exc), exc.status)
    click.echo(str(path))


@new.command("summary")
@_ROOT
@click.argument("question")
def new_summary(root: Path, question: str) -> None:
    """A summary for QUESTION (in quotes): content/summaries/<slug>.md."""
    _new(root, "summary", question)


@new.command("drug")
@_ROOT
@click.argument("name")
def new_drug(root: Path, name: str) -> None:
    """A drug monograph for the generic NAME: content/drugs/<slug>.md."""
    _new(root, "drug", name)


@new.command("page")
@_ROOT
@click.argument("title")
def new_page(root: Path, title: str) -> None:
    """A plain page called TITLE: content/pages/<slug>.md."""
    _new(root, "page", title)


@cli.group()
def refs() -> None:
    """Bring references into references/*.bib and check the store."""


@refs.command("import")
@_ROOT
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "source_format", default="auto", show_default=True,
              type=click.Choice(["auto", "ris", "csl-json", "pubmed"]),
              help="The file's format (auto: from its content and name).")
@_TO
def refs_import(root: Path, file: Path, source_format: str, to: Path | None) -> None:
    """Append the records of an RIS, CSL-JSON or PubMed (.nbib) FILE as BibTeX."""
    from clinsite.refs.importer import ImportFailure, read_works

    _require_root(root)
    try:
        works, problems = read_works(file, source_format)
    except ImportFailure as exc:
        _fail(str(exc), exc.status)
    _add_works(root, works, problems, str(file), to)


@refs.command("add")
@_ROOT
@click.option("--doi", default=None, help="Fetch this DOI's record from Crossref.")
@click.option("--pmid", default=None, help="Fetch this PubMed record from NCBI E-utilities.")
@_TO
def refs_add(root: Path, doi: str | None, pmid: str | None, to: Path | None) -> None:
    """Fetch one record by DOI or PMID (needs the network) and append it as BibTeX."""
    from clinsite.identifiers import PMID, normalize_doi
    from clinsite.refs.fetch import FetchError, fetch_doi, fetch_pmid

    _require_root(root)
    if (doi is None) == (pmid is None):
        raise click.UsageError("give exactly one of --doi X or --pmid N")
    bare = normalize_doi(doi) if doi is not None else None
    if doi is not None and bare is None:
        raise click.BadParameter(f"'{doi}' is not a DOI (such as 10.1128/AAC.00615-10)",
                                 param_hint="--doi")
    if pmid is not None and not PMID.fullmatch(pmid.strip()):
        raise click.BadParameter(f"'{pmid}' is not a PubMed id (digits only)",
                                 param_hint="--pmid")
    try:
        work = fetch_doi(bare) if bare is not None else fetch_pmid(str(pmid).strip())
    except FetchError as exc:
        _fail(str(exc), 1)
    _add_works(root, [work], [], f"doi:{bare}" if bare else f"pmid:{pmid}", to)


def _add_works(root: Path, works: list[Work], problems: list[Diagnostic], source: str,
               to: Path | None) -> None:
    """Append new works to the store, print what happened, exit 1 if the input had errors."""
    from clinsite.progress import plural, write_diagnostics
    from clinsite.refs.importer import ImportFailure, import_works

    try:
        plan, found, target = import_works(root, works, source, to)
    except ImportFailure as exc:
        _fail(str(exc), exc.status)
    write_diagnostics(sorted([*problems, *found, *plan.refused]), sys.stderr)
    for entry in plan.entries:
        click.echo(f"added {entry.key}: {entry.work.title}")
    refused = f"; {plural(len(plan.refused), 'duplicate')} refused" if plan.refused else ""
    click.echo(f"Added {plural(len(plan.entries), 'reference')} to {target}{refused}.", err=True)
    sys.exit(1 if any(p.severity == "error" for p in problems) else 0)


@refs.command("check")
@_ROOT
@_STRICT
@_FORMAT
def refs_check(root: Path, strict: bool, fmt: str) -> None:
    """List unused, duplicate (same DOI or PMID) and incomplete references."""
    from clinsite.progress import plural, tally, write_diagnostics
    from clinsite.refs.check import check_store

    _require_root(root)
    checked = check_store(root)
    report = checked.report.strict() if strict else checked.report
    write_diagnostics(report.sorted(), sys.stderr, fmt)
    click.echo(f"Checked {plural(checked.references, 'reference')}: "
               f"{tally(report.errors, report.warnings)}.", err=True)
    sys.exit(1 if report.errors else 0)


def _require_root(root: Path) -> None:
    if not (root / "site.yaml").is_file():
        raise click.UsageError(f"{root} is not a clinsite site: it has no site.yaml "
                               "(use --root to point at the site's folder)")


def _fail(message: str, status: int) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(status)


def _run_build(options: BuildOptions, quiet: bool) -> BuildResult:
    """The pipeline, with a progress bar when stderr is a terminal (and not --quiet)."""
    from clinsite.pipeline import build as run_build
    from clinsite.progress import progress_bar

    bar = progress_bar(sys.stderr, options.root, quiet=quiet)
    try:
        return run_build(options, bar)
    finally:
        if bar is not None:
            bar.close()


def _report(result: BuildResult, fmt: str, what: str) -> None:
    from clinsite.progress import tally, write_diagnostics

    write_diagnostics(result.report.sorted(), sys.stderr, fmt)
    if result.usage_error:
        click.echo(f"Error: {result.usage_error}", err=True)
    elif not result.ok:
        r = result.report
        untouched = "; the previous output was left untouched" if what == "Build" else ""
        click.echo(f"{what} failed in {result.seconds:.2f} s: {tally(r.errors, r.warnings)}"
                   f"{untouched}.", err=True)


def _exit(result: BuildResult) -> None:
    global _finished, _result
    _finished = True
    _result = result  # (alive until the fast exit: see main)
    if result.usage_error:
        sys.exit(2)
    sys.exit(0 if result.ok else 1)


# Set once a build or check has finished and reported: nothing is left to do but exit.
_finished = False
_result: BuildResult | None = None
# Set by main when it will end the process with the fast exit: the build then keeps what it
# loaded referenced (BuildOptions.keep_loaded) so that nothing is freed before it.
_own_program = False


def main(argv: Sequence[str] | None = None, prog_name: str | None = None) -> None:
    """Console-script entry point. After a build (or check), the process ends without
    tearing the interpreter down, and without freeing what the build loaded (it keeps it
    referenced until then): freeing a large site's objects one by one costs a tenth of a
    second at 2,000 pages and more at 10,000, for nothing (the output and caches are
    written, the search indexer's threads joined, the streams flushed here)."""
    global _own_program
    # Only as a program of its own: not when called with arguments from Python, nor
    # under a profiler or coverage tracer (which save their results at exit).
    _own_program = argv is None and sys.getprofile() is None and sys.gettrace() is None
    try:
        cli.main(args=list(argv) if argv is not None else None,
                 prog_name=prog_name or "clinsite")
    except SystemExit as exc:
        embedded = not _own_program or sys.getprofile() is not None or \
            sys.gettrace() is not None
        if not _finished or not isinstance(exc.code, int) or embedded:
            raise
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # (None: the stream was closed when the process began)
                stream.flush()
        os._exit(exc.code)
