"""Report: results -> a Markdown table, context lines and a JSON document.

The context lines give the machine, the corpus, and the issue's peer numbers (Hugo
and Sphinx on the same corpus shape) with the clean build's ratio to each; the
target column repeats the issue's goals for N = 2,000 and N = 10,000.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from typing import Any

from clinsite.bench.runner import SCENARIOS, Result, Target

# The peers, N = 2,000 summaries over 2,000 references, on its 2-core machine.
HUGO_CLEAN = 1.44
SPHINX_CLEAN = 201.0
PEER_N = 2000
# The targets: scenario -> (N, limit in seconds).
TARGETS: dict[tuple[str, int], str] = {
    ("clean", 2000): f"≤ {2 * HUGO_CLEAN:.2f} s (2× Hugo)",
    ("edit-summary", 2000): f"≤ {HUGO_CLEAN / 2:.2f} s (½ Hugo)",
    ("noop", 2000): "< 0.5 s",
    ("clean", 10000): "< 25 s, < 1 GB",
    ("edit-summary", 10000): "< 1 s",
}
ANY_N_TARGETS = {"startup": "< 0.15 s"}


def machine_line() -> str:
    """CPU count, Python, OS, and how busy the machine was (timings depend on it)."""
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load average {os.getloadavg()[0]:.2f} at start"
    return (f"Machine: {os.cpu_count()} CPUs, {platform.python_implementation()} "
            f"{platform.python_version()}, {platform.system()} {platform.machine()}{load}")


def peer_lines(results: Sequence[Result], summaries: int, references: int) -> list[str]:
    """The Hugo/Sphinx reference numbers and the clean build's ratio to them."""
    lines = [f"Peers (issue 6, N = {PEER_N:,}, R = {PEER_N:,}, 2-core machine): "
             f"Hugo 0.168 clean build {HUGO_CLEAN} s (no citation processing); "
             f"Sphinx 9.0 + MyST + sphinxcontrib-bibtex {SPHINX_CLEAN:.0f} s."]
    clean = [r for r in results if r.scenario == "clean"]
    for result in clean:
        ratio = (f"Clean build [{result.target}]: {result.median:.2f} s = "
                 f"{result.median / HUGO_CLEAN:.1f}× Hugo (target ≤ 2×), "
                 f"{SPHINX_CLEAN / result.median:.1f}× faster than Sphinx (target ≥ 20×)")
        if (summaries, references) != (PEER_N, PEER_N):
            ratio += f" — but this corpus is N = {summaries:,}, R = {references:,}"
        lines.append(ratio + ".")
    return lines


def _mib(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def render_table(results: Sequence[Result], labels: Sequence[str], summaries: int) -> str:
    """The Markdown table: one row per scenario; with two targets, the other's median too."""
    head = ["scenario", "median s", "min–max s", "peak RSS MiB", "tree RSS MiB"]
    if len(labels) > 1:
        head += [f"{labels[1]} median s", f"{labels[1]} peak RSS MiB", "ratio"]
    head.append("target")
    rows = [head, ["---"] + ["---:"] * (len(head) - 2) + ["---"]]
    by_key = {(r.scenario, r.target): r for r in results}
    for scenario in dict.fromkeys(r.scenario for r in results):
        this = by_key[(scenario, labels[0])]
        row = [scenario, f"{this.median:.3f}", f"{min(this.seconds):.3f}–{max(this.seconds):.3f}",
               _mib(this.peak_rss_mib), _mib(this.tree_rss_mib)]
        if len(labels) > 1:
            other = by_key[(scenario, labels[1])]
            row += [f"{other.median:.3f}", _mib(other.peak_rss_mib),
                    f"{this.median / other.median:.2f}"]
        row.append(TARGETS.get((scenario, summaries), ANY_N_TARGETS.get(scenario, "")))
        rows.append(row)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def legend(results: Sequence[Result], labels: Sequence[str]) -> list[str]:
    """One line per scenario saying what it measures, and any build warnings."""
    lines = []
    if len(labels) > 1:
        lines.append(f"- ratio: {labels[0]} median / {labels[1]} median "
                     "(below 1: the first is faster)")
    for scenario in dict.fromkeys(r.scenario for r in results):
        lines.append(f"- {scenario}: {SCENARIOS[scenario]}")
    for result in results:
        if result.warnings:
            lines.append(f"- note: [{result.target}] {result.scenario} printed "
                         f"{result.warnings} warnings")
    return lines


def to_json(results: Sequence[Result], targets: Sequence[Target],
            corpus: dict[str, Any]) -> dict[str, Any]:
    """Everything measured, for scripts: one entry per (scenario, target)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "platform": platform.platform(), "load_average_at_end": load},
        "corpus": corpus,
        "targets": [{"label": t.label, "python": t.python, "clinsite": t.module,
                     "build_options": sorted(t.options)} for t in targets],
        "peers": {"n": PEER_N, "hugo_clean_s": HUGO_CLEAN, "sphinx_clean_s": SPHINX_CLEAN},
        "results": [{
            "scenario": r.scenario, "target": r.target, "median_s": r.median,
            "min_s": min(r.seconds), "max_s": max(r.seconds), "runs_s": r.seconds,
            "peak_rss_mib": r.peak_rss_mib, "tree_rss_mib": r.tree_rss_mib,
            "warnings": r.warnings,
        } for r in results],
    }
