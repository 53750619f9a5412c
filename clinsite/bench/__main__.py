"""`python -m clinsite.bench`: generate the corpus, run the scenarios, print the table.

The table and its context lines go to stdout (paste them into docs/performance.md);
progress goes to stderr. See docs/performance.md for what each number means.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import click

import clinsite
from clinsite.bench import report
from clinsite.bench.corpus import (
    BENCH_TODAY,
    MARKER,
    CorpusError,
    CorpusSpec,
    default_references,
)
from clinsite.bench.corpus import write_corpus as generate
from clinsite.bench.measure import MeasureError
from clinsite.bench.runner import (
    DEFAULT_SCENARIOS,
    SCENARIOS,
    BenchError,
    Lane,
    Result,
    Target,
    make_target,
    run_scenario,
)


def _scenarios(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()] if value else list(DEFAULT_SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or not names:
        raise click.BadParameter(f"unknown scenario {', '.join(map(repr, unknown))}; "
                                 f"choose from {', '.join(SCENARIOS)}")
    return list(dict.fromkeys(names))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-n", "--summaries", type=click.IntRange(2), default=2000, show_default=True,
              help="Summaries in the generated corpus.")
@click.option("-r", "--references", type=click.IntRange(12), default=None,
              help="References in the store [default: 2000, or 8 per summary if fewer].")
@click.option("--seed", type=int, default=6, show_default=True, help="Corpus random seed.")
@click.option("--runs", type=click.IntRange(1), default=3, show_default=True,
              help="Timed runs per scenario (start-up: at least 10).")
@click.option("--jobs", type=click.IntRange(1), default=None,
              help="Pass --jobs N to builds that support it [default: the build's default].")
@click.option("--scenarios", callback=_scenarios, default=None,
              help=f"Comma-separated, from: {', '.join(SCENARIOS)} "
                   f"[default: {','.join(DEFAULT_SCENARIOS)}].")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Generate the corpus into DIR (replacing it) and keep it.")
@click.option("--generate-only", is_flag=True, help="Only generate the corpus (use with --keep).")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the results as JSON to FILE.")
@click.option("--compare-with", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Another clinsite checkout to measure side by side.")
@click.option("--python", "other_python", default=None,
              help="The Python (e.g. its venv's) that runs --compare-with [default: this one].")
def main(summaries: int, references: int | None, seed: int, runs: int, jobs: int | None,
         scenarios: list[str], keep: Path | None, generate_only: bool, json_file: Path | None,
         compare_with: Path | None, other_python: str | None) -> None:
    """Benchmark clinsite builds on a synthetic corpus of N summaries over R references."""
    spec = CorpusSpec(summaries, references or default_references(summaries), seed)
    try:
        spec.check()
    except CorpusError as exc:
        raise click.BadParameter(str(exc), param_hint="-r/--references") from exc
    if compare_with is not None and not (compare_with / "clinsite" / "__init__.py").is_file():
        raise click.BadParameter(f"{compare_with} is not a clinsite checkout",
                                 param_hint="--compare-with")
    if keep is not None and keep.exists() and not _replaceable(keep):
        raise click.BadParameter(f"{keep} is not empty and not a benchmark corpus; "
                                 "choose a new folder", param_hint="--keep")
    workdir = Path(tempfile.mkdtemp(prefix="clinsite-bench-"))
    try:
        _bench(spec, runs, jobs, scenarios, keep or workdir / "corpus", workdir, generate_only,
               json_file, compare_with, other_python)
    except (BenchError, MeasureError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _replaceable(folder: Path) -> bool:
    """An empty folder, or one that an earlier run generated."""
    return folder.is_dir() and (not any(folder.iterdir()) or (folder / MARKER).is_file())


def _progress(message: str) -> None:
    click.echo(f"  {message}", err=True)


def _bench(spec: CorpusSpec, runs: int, jobs: int | None, scenarios: list[str], root: Path,
           workdir: Path, generate_only: bool, json_file: Path | None,
           compare_with: Path | None, other_python: str | None) -> None:
    started = time.perf_counter()
    corpus = generate(root, spec)
    _progress(f"generated {spec.summaries:,} summaries and {spec.references:,} references "
              f"in {root} in {time.perf_counter() - started:.1f} s")
    if generate_only:
        click.echo(str(root))
        return
    this_checkout = Path(clinsite.__file__).resolve().parent.parent
    targets = [make_target(_label(this_checkout, "this"), sys.executable, this_checkout)]
    lanes = [Lane(targets[0], corpus, jobs)]
    if compare_with is not None:
        label = _label(compare_with.resolve(), "other")
        if label == targets[0].label:
            label = "other"
        targets.append(make_target(label, other_python or sys.executable, compare_with.resolve()))
        copy = workdir / "compare"
        shutil.copytree(corpus.root, copy)
        lanes.append(Lane(targets[1], dataclasses.replace(corpus, root=copy), jobs))
    for line in _header(spec, targets, jobs):
        click.echo(line)
    results: list[Result] = []
    corpus_info = {"summaries": spec.summaries, "references": spec.references,
                   "seed": spec.seed, "runs": runs, "jobs": jobs,
                   "today": BENCH_TODAY.isoformat()}
    for name in scenarios:
        results.extend(run_scenario(name, lanes, runs, _progress))
        if json_file is not None:  # after every scenario: a long run that dies keeps its data
            document = report.to_json(results, targets, corpus_info)
            json_file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    _print_results(results, targets, spec)


def _label(checkout: Path, fallback: str) -> str:
    return checkout.name or fallback


def _header(spec: CorpusSpec, targets: Sequence[Target], jobs: int | None) -> list[str]:
    lines = [report.machine_line(),
             f"Corpus: {spec.summaries:,} summaries (700–900 words, 8–12 citations each) over "
             f"{spec.references:,} references, seed {spec.seed}."]
    for target in targets:
        wanted = [o for o in ("--jobs", "--no-cache") if o in target.options]
        flags = ", ".join(wanted) if wanted else "neither --jobs nor --no-cache"
        jobs_note = f"; --jobs {jobs}" if jobs is not None and "--jobs" in target.options else ""
        lines.append(f"Target [{target.label}]: {target.module} ({flags}{jobs_note})")
    return lines


def _print_results(results: list[Result], targets: Sequence[Target], spec: CorpusSpec) -> None:
    click.echo("")
    click.echo(report.render_table(results, [t.label for t in targets], spec.summaries))
    click.echo("")
    for line in report.legend(results, [t.label for t in targets]):
        click.echo(line)
    click.echo("")
    for line in report.peer_lines(results, spec.summaries, spec.references):
        click.echo(line)


if __name__ == "__main__":
    main(prog_name="python -m clinsite.bench")
