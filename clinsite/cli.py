"""The `clinsite` command line: thin click commands over the pipeline.

Exit status: 0 success, 1 content errors, 2 usage errors. Diagnostics go to
stderr, one a line. Heavy modules are imported inside the commands so
`clinsite --help` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from clinsite import __version__

if TYPE_CHECKING:
    from clinsite.pipeline import BuildResult

_ROOT = click.option(
    "--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
    show_default=True, help="The site's folder (with site.yaml, content/, references/).",
)
_STRICT = click.option("--strict", is_flag=True, help="Treat warnings as errors.")
_FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["text", "github"]), default="text", show_default=True,
    help="Diagnostics as compiler-style lines or GitHub Actions annotations.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="clinsite")
def cli() -> None:
    """Build a static website of citable, reviewed clinical summaries."""


@cli.command()
@_ROOT
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: <root>/site).")
@_STRICT
@click.option("--drafts", is_flag=True, help="Include pages marked draft: true.")
@click.option("--base-url", default=None, help="Override site.yaml's base_url.")
@click.option("--quiet", "-q", is_flag=True, help="Print only diagnostics.")
@_FORMAT
def build(root: Path, out: Path | None, strict: bool, drafts: bool, base_url: str | None,
          quiet: bool, fmt: str) -> None:
    """Build the site into --out, replacing it only if the build succeeds."""
    from clinsite.pipeline import BuildOptions
    from clinsite.pipeline import build as run_build

    _require_root(root)
    result = run_build(BuildOptions(root=root, out=out, strict=strict, drafts=drafts,
                                    base_url=base_url))
    _report(result, fmt)
    if not quiet and result.ok:
        where = out if out is not None else root / "site"
        click.echo(f"Built {result.pages} pages into {where} in {result.seconds:.2f} s "
                   f"({result.report.warnings} warnings).", err=True)
    _exit(result)


@cli.command()
@_ROOT
@_STRICT
@click.option("--drafts", is_flag=True, help="Include pages marked draft: true.")
@click.option("--quiet", "-q", is_flag=True, help="Print only diagnostics.")
@_FORMAT
def check(root: Path, strict: bool, drafts: bool, quiet: bool, fmt: str) -> None:
    """Run every validation of `build` and write nothing."""
    from clinsite.pipeline import BuildOptions
    from clinsite.pipeline import build as run_build

    _require_root(root)
    result = run_build(BuildOptions(root=root, strict=strict, drafts=drafts, write=False))
    _report(result, fmt)
    if not quiet and result.ok:
        click.echo(f"Checked {result.pages} pages in {result.seconds:.2f} s: "
                   f"{result.report.warnings} warnings, 0 errors.", err=True)
    _exit(result)


def _require_root(root: Path) -> None:
    if not (root / "site.yaml").is_file():
        raise click.UsageError(f"{root} is not a clinsite site: it has no site.yaml "
                               "(use --root to point at the site's folder)")


def _report(result: BuildResult, fmt: str) -> None:
    for diagnostic in result.report.sorted():
        line = diagnostic.format_github() if fmt == "github" else diagnostic.format()
        click.echo(line, err=True)
    if result.usage_error:
        click.echo(f"Error: {result.usage_error}", err=True)
    elif not result.ok:
        r = result.report
        click.echo(f"Build failed: {r.errors} errors, {r.warnings} warnings; "
                   "the previous output was left untouched.", err=True)


def _exit(result: BuildResult) -> None:
    if result.usage_error:
        sys.exit(2)
    sys.exit(0 if result.ok else 1)


def main(argv: Sequence[str] | None = None, prog_name: str | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else None, prog_name=prog_name or "clinsite")
