"""Runner: scenarios x checkouts -> timed samples of whole `clinsite` processes.

Each checkout ("lane") builds its own copy of the corpus, so caches never mix. Runs
of a scenario alternate between lanes, so a busy moment of the machine hits both.
Every edit scenario edits, times the rebuild, reverts, and (when the checkout has a
cache) rebuilds untimed, so each run starts from the same built state.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from clinsite.bench.corpus import BENCH_EPOCH, Corpus
from clinsite.bench.measure import Sample, measure

CACHE_DIR = ".clinsite-cache"
STARTUP_RUNS = 10
SCENARIOS: dict[str, str] = {
    "clean": "clean full build (no output, no cache)",
    "noop": "no-op rebuild",
    "edit-summary": "rebuild after appending a sentence to one summary",
    "edit-reference": "rebuild after changing one reference's title",
    "edit-template": "rebuild after editing templates/summary.html",
    "edit-page-template": "rebuild after editing templates/page.html",
    "edit-config": "rebuild after changing the title in site.yaml",
    "edit-after-config": "rebuild after appending a sentence to one summary, right after "
                         "the site.yaml rebuild (the first edit after a site-wide change)",
    "startup": "`clinsite --help` (CLI start-up)",
    "serve-edit-summary": "`clinsite serve`: the rebuild after appending a sentence to one "
                          "summary, in the server's process",
}
DEFAULT_SCENARIOS = ("clean", "noop", "edit-summary", "edit-reference", "edit-template",
                     "edit-page-template", "edit-config", "startup", "serve-edit-summary")
SERVE_DRIVER = Path(__file__).with_name("serve_driver.py")


class BenchError(RuntimeError):
    """A measured build failed, or a checkout cannot be run."""


@dataclass(frozen=True, slots=True)
class Target:
    """One checkout of clinsite and how to run it."""

    label: str
    python: str
    env: dict[str, str]
    theme: Path  # the built-in theme's templates folder
    options: frozenset[str]  # the `build` options it has, e.g. "--jobs", "--no-cache"
    module: str  # where `import clinsite` found the package

    @property
    def incremental(self) -> bool:
        return "--no-cache" in self.options


def make_target(label: str, python: str, checkout: Path) -> Target:
    """Probe a checkout: which clinsite it imports and which build options it offers."""
    # PYTHONSAFEPATH: `python -m clinsite` must not import a clinsite package from the
    # current folder (e.g. when the benchmark is started inside another checkout).
    env = {**os.environ, "PYTHONPATH": str(checkout), "SOURCE_DATE_EPOCH": str(BENCH_EPOCH),
           "PYTHONSAFEPATH": "1"}
    env.pop("PYTHONHOME", None)
    module = _run([python, "-c", "import clinsite; print(clinsite.__file__)"], env).strip()
    help_text = _run([python, "-m", "clinsite", "build", "--help"], env)
    options = frozenset(re.findall(r"(?<![\w-])--[a-z][a-z-]*", help_text))
    theme = Path(module).parent / "theme" / "templates"
    return Target(label, python, env, theme, options, module)


def _run(command: list[str], env: dict[str, str]) -> str:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"cannot run {' '.join(command[:3])}: {exc}") from exc
    if done.returncode != 0:
        raise BenchError(f"{' '.join(command[:4])} failed:\n{done.stderr.strip()}")
    return done.stdout


@dataclass(slots=True)
class Lane:
    """A target building its own copy of the corpus."""

    target: Target
    corpus: Corpus
    jobs: int | None = None
    warm: bool = False  # output and cache match the unedited corpus

    @property
    def root(self) -> Path:
        return self.corpus.root

    def command(self, *, clean: bool = False) -> list[str]:
        """`clinsite build` with only the options this checkout has."""
        cmd = [self.target.python, "-m", "clinsite", "build", "--root", str(self.root), "--quiet"]
        if clean and "--no-cache" in self.target.options:
            cmd.append("--no-cache")
        if self.jobs is not None and "--jobs" in self.target.options:
            cmd += ["--jobs", str(self.jobs)]
        return cmd

    def build(self, what: str, *, clean: bool = False) -> Sample:
        sample = measure(self.command(clean=clean), self.target.env)
        if sample.status != 0:
            raise BenchError(f"[{self.target.label}] {what}: the build exited with status "
                             f"{sample.status}:\n{sample.stderr.strip()[-3000:]}")
        return sample

    def ensure_warm(self) -> None:
        """An untimed build, so the next run starts from a built site (and cache)."""
        if not self.warm:
            self.build("warm-up build")
            self.warm = True


@dataclass(slots=True)
class Result:
    """The samples of one scenario on one target."""

    scenario: str
    target: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def seconds(self) -> list[float]:
        return [s.seconds for s in self.samples]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_rss_mib(self) -> float:
        return max(s.peak_rss_mib for s in self.samples)

    @property
    def tree_rss_mib(self) -> float | None:
        trees = [s.tree_rss_mib for s in self.samples if s.tree_rss_mib is not None]
        return max(trees) if trees else None

    @property
    def warnings(self) -> int:
        return max(s.stderr.count(": warning:") for s in self.samples)


def run_scenario(name: str, lanes: list[Lane], runs: int,
                 progress: Callable[[str], None]) -> list[Result]:
    """`runs` timed runs of one scenario on every lane, alternating between lanes."""
    results = [Result(name, lane.target.label) for lane in lanes]
    if name == "serve-edit-summary":  # one server process a lane, every run in it
        for lane, result in zip(lanes, results, strict=True):
            result.samples.extend(run_serve(lane, runs))
            progress(f"{name} [{lane.target.label}]: " + ", ".join(
                f"{s.seconds:.3f} s" for s in result.samples) +
                f"; {result.samples[0].peak_rss_mib:.0f} MiB")
        return results
    total = max(runs, STARTUP_RUNS) if name == "startup" else runs
    for index in range(total):
        for lane, result in zip(lanes, results, strict=True):
            sample = run_once(name, lane, index)
            result.samples.append(sample)
            progress(f"{name} [{lane.target.label}] run {index + 1}/{total}: "
                     f"{sample.seconds:.3f} s, {sample.peak_rss_mib:.0f} MiB")
    return results


def run_once(name: str, lane: Lane, index: int) -> Sample:
    """One timed run of scenario `name` on `lane` (edits are reverted before returning)."""
    if name == "startup":
        return measure([lane.target.python, "-m", "clinsite", "--help"], lane.target.env)
    if name == "clean":
        # The output, the cache and the writer's spare tree (see clinsite.writer): a clean
        # build starts from nothing.
        for folder in (lane.root / "site", lane.root / CACHE_DIR,
                       *lane.root.glob(".site.clinsite-*")):
            shutil.rmtree(folder, ignore_errors=True)
        sample = lane.build("clean build", clean=True)
        lane.warm = not lane.target.incremental  # without a cache, a clean build is warm
        return sample
    lane.ensure_warm()
    if name == "noop":
        return lane.build("no-op rebuild")
    if name == "edit-after-config":
        # The site.yaml edit and its build (untimed), then the timed edit on top of both.
        rel, change = edit_for("edit-config", lane, index)
        with edited(lane.root, rel, change):
            lane.build("rebuild after editing site.yaml")
            summary, append = edit_for("edit-summary", lane, index)
            with edited(lane.root, summary, append):
                sample = lane.build(f"{name} rebuild")
        if lane.target.incremental:
            lane.build(f"rebuild after reverting {name}")
        return sample
    rel, change = edit_for(name, lane, index)
    with edited(lane.root, rel, change):
        sample = lane.build(f"{name} rebuild")
    if lane.target.incremental:
        lane.build(f"rebuild after reverting {name}")
    return sample


def run_serve(lane: Lane, runs: int) -> list[Sample]:
    """`runs` timed rebuilds of a dev server (serve_driver.py) after editing one summary,
    as for `edit-summary`; each sample has the server process's peak memory."""
    rel = lane.corpus.edit_summary
    original = (lane.root / rel).read_text("utf-8")
    edits = [append_sentence(original, f"benchmark edit {index + 1}") for index in range(runs)]
    with tempfile.TemporaryDirectory(prefix="clinsite-bench-serve-") as scratch:
        edits_file, times_file = Path(scratch) / "edits.json", Path(scratch) / "times.json"
        edits_file.write_text(json.dumps(edits), "utf-8")
        whole = measure([lane.target.python, str(SERVE_DRIVER), str(lane.root), rel,
                         str(edits_file), str(times_file)], lane.target.env)
        if whole.status != 0 or not times_file.is_file():
            raise BenchError(f"[{lane.target.label}] serve-edit-summary: the server exited "
                             f"with status {whole.status}:\n{whole.stderr.strip()[-3000:]}")
        times = json.loads(times_file.read_text("utf-8"))
    return [Sample(seconds, whole.peak_rss_mib, whole.tree_rss_mib, 0, whole.stderr)
            for seconds in times]


# --- edits ----------------------------------------------------------------------


Change = Callable[[str | None], str]


def edit_for(name: str, lane: Lane, index: int) -> tuple[str, Change]:
    """The file scenario `name` edits and how; `index` makes each run's edit different."""
    mark = f"benchmark edit {index + 1}"
    if name == "edit-summary":
        return lane.corpus.edit_summary, lambda text: append_sentence(str(text), mark)
    if name == "edit-reference":
        key = lane.corpus.edit_reference
        return (lane.corpus.edit_reference_file,
                lambda text: retitle_reference(str(text), key, f" ({mark})"))
    if name == "edit-config":
        return "site.yaml", lambda text: re.sub(r"(?m)^title: (.*)$", rf"title: \1 ({mark})",
                                                str(text), count=1)
    if name in ("edit-template", "edit-page-template"):
        template = "summary.html" if name == "edit-template" else "page.html"
        theme_file = lane.target.theme / template
        return (f"templates/{template}",
                lambda text: comment_template(text or theme_file.read_text("utf-8"), mark))
    raise BenchError(f"unknown scenario '{name}'")


def append_sentence(text: str, mark: str) -> str:
    """A new cited paragraph at the end of a summary (cites a key the page already cites)."""
    found = re.search(r"\[@([^\];,\s]+)", text.split("\n---\n", 1)[-1])
    cite = f" [@{found.group(1)}]" if found else ""
    return text.rstrip("\n") + f"\n\nThis sentence was appended as {mark}{cite}.\n"


def retitle_reference(text: str, key: str, suffix: str) -> str:
    """The .bib text with `suffix` added to the title of entry `key`."""
    start = re.search(r"@\w+\{" + re.escape(key) + r",", text)
    if start is None:
        raise BenchError(f"reference '{key}' is not in its .bib file")
    title = re.compile(r"(?m)^(\s*title\s*=\s*\{.*)\}(,?)$").search(text, start.end())
    if title is None:
        raise BenchError(f"reference '{key}' has no title line")
    return text[:title.start()] + f"{title.group(1)}{suffix}}}{title.group(2)}" + text[title.end():]


def comment_template(text: str, mark: str) -> str:
    """The template with an HTML comment inside its main block (so the output changes)."""
    if "{% block main %}" in text:
        return text.replace("{% block main %}", f"{{% block main %}}<!-- {mark} -->", 1)
    return text + f"<!-- {mark} -->\n"


@contextmanager
def edited(root: Path, rel: str, change: Change) -> Iterator[None]:
    """Apply `change` to root/rel (creating it if need be), and restore it on exit."""
    path = root / rel
    before = path.read_bytes() if path.exists() else None
    created = [p for p in reversed(path.relative_to(root).parents) if not (root / p).exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(change(before.decode("utf-8") if before is not None else None), "utf-8")
    try:
        yield
    finally:
        if before is None:
            path.unlink()
        else:
            path.write_bytes(before)
        for folder in reversed(created):
            (root / folder).rmdir()
