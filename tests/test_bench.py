"""The benchmark: a deterministic corpus of the issue's shape that builds cleanly; the runner."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from clinsite.bench.corpus import BENCH_EPOCH, CorpusError, CorpusSpec, write_corpus
from clinsite.bench.measure import measure
from clinsite.bench.runner import append_sentence, comment_template, edited, retitle_reference
from tests.conftest import REPO

CITATION = re.compile(r"\[(@[^\]]*)\]")
ENTRY = re.compile(r"^@(\w+)\{([^,]+),$", re.M)


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def cited_keys(text: str) -> set[str]:
    """Every key in `[@a; @b, p. 3]` groups."""
    keys = set()
    for group in CITATION.findall(text):
        for item in group.split(";"):
            keys.add(item.strip().removeprefix("@").split(",")[0])
    return keys


def words(text: str) -> int:
    return len(re.findall(r"[A-Za-z]+", CITATION.sub(" ", text)))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench") / "corpus"
    write_corpus(root, CorpusSpec(summaries=20, references=30))
    return root


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path, small: Path) -> None:
    write_corpus(tmp_path / "again", CorpusSpec(summaries=20, references=30))
    write_corpus(tmp_path / "other", CorpusSpec(summaries=20, references=30, seed=7))
    assert files(tmp_path / "again") == files(small)
    assert files(tmp_path / "other") != files(small)


def test_corpus_has_the_issue_shape(small: Path) -> None:
    summaries = sorted((small / "content/summaries").glob("*.md"))
    assert [p.name for p in summaries] == [f"q{n:05d}.md" for n in range(1, 21)]
    store = "".join(p.read_text() for p in sorted((small / "references").glob("*.bib")))
    defined = ENTRY.findall(store)
    assert len(defined) == 30 and len({key for _, key in defined}) == 30
    cited: set[str] = set()
    for path in summaries:
        _, front, body = path.read_text().split("---\n", 2)
        bottom_line = front.split("summary: >-\n", 1)[1].split("\n", 1)[0]
        assert "[@" in bottom_line, path.name
        keys = cited_keys(front + body)
        assert 8 <= len(keys) <= 12, path.name
        assert 700 <= words(bottom_line) + words(body) <= 900, path.name
        assert "\n- " in body and "| --- |" in body, path.name
        assert re.search(r"\[@[^\]]*; @", body), path.name  # some groups
        assert re.search(r"status: (approved|under-review)", front)
        cited |= keys
    assert cited == {key for _, key in defined}  # every reference cited, none unknown
    assert {kind for kind, _ in defined} <= {"article", "misc"}


def test_corpus_builds_strict_without_warnings(small: Path, tmp_path: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(BENCH_EPOCH)}
    done = subprocess.run(
        [sys.executable, "-m", "clinsite", "build", "--root", str(small), "--out",
         str(tmp_path / "out"), "--strict", "--quiet"],
        env=env, capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert (tmp_path / "out/summaries/q00020/index.html").is_file()


def test_sizes_that_cannot_cite_every_reference_are_refused() -> None:
    with pytest.raises(CorpusError):
        CorpusSpec(summaries=2, references=30).check()
    with pytest.raises(CorpusError):
        CorpusSpec(summaries=20, references=11).check()


def test_only_an_empty_folder_or_an_earlier_corpus_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(CorpusError, match="not a benchmark corpus"):
        write_corpus(tmp_path, CorpusSpec(summaries=2, references=12))
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    write_corpus(tmp_path / "corpus", CorpusSpec(summaries=2, references=12))
    write_corpus(tmp_path / "corpus", CorpusSpec(summaries=3, references=12))
    assert len(list((tmp_path / "corpus/content/summaries").iterdir())) == 3


def test_edits_change_one_thing_and_are_reverted(small: Path) -> None:
    summary = small / "content/summaries/q00003.md"
    before = files(small)
    with edited(small, "content/summaries/q00003.md", lambda t: append_sentence(str(t), "x")):
        found = re.search(r"\n\nThis sentence was appended as x \[@([^\]]+)\]\.\n\Z",
                          summary.read_text())
        original = before["content/summaries/q00003.md"].decode()
        assert found and found.group(1) in cited_keys(original)
    with edited(small, "templates/summary.html", lambda t: comment_template(t or "", "y")):
        assert (small / "templates/summary.html").read_text() == "<!-- y -->\n"
    assert files(small) == before
    assert not (small / "templates").exists()


def test_retitle_reference_touches_only_that_entry() -> None:
    bib = ("@article{a1,\n  title   = {First},\n  year = {2001}\n}\n"
           "@article{b2,\n  author  = {X, Y},\n  title   = {Second},\n  year = {2002}\n}\n")
    assert retitle_reference(bib, "b2", " (edit)") == bib.replace("{Second}", "{Second (edit)}")
    template = '{% extends "base.html" %}\n{% block main %}\n<p>x</p>\n{% endblock %}\n'
    assert "{% block main %}<!-- m -->" in comment_template(template, "m")


def test_measure_sees_the_memory_of_child_processes() -> None:
    grow = "import time; b = bytearray(80 * 2**20); b[::4096] = b'1' * 20480; time.sleep(0.5)"
    sample = measure([sys.executable, "-c", grow], os.environ)
    assert sample.status == 0
    assert sample.peak_rss_mib >= 80
    assert 0.5 < sample.seconds < 10
    if Path("/proc/self/stat").is_file():
        assert sample.tree_rss_mib is not None and sample.tree_rss_mib >= 80


def test_runner_smoke(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "clinsite.bench", "-n", "10", "-r", "30", "--runs", "1",
         "--scenarios", "edit-summary", "--json", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| scenario | median s | min–max s | peak RSS MiB |")
    assert [row.split(" | ")[0] for row in rows[2:]] == ["| edit-summary"]
    assert "Machine: " in done.stdout and "Hugo 0.168 clean build 1.44 s" in done.stdout
    results = json.loads(out.read_text())["results"]
    assert [(r["scenario"], len(r["runs_s"])) for r in results] == [("edit-summary", 1)]


def _two_runs(scenario: str, out: Path, corpus: Path, *, timeout: int
              ) -> subprocess.CompletedProcess[str]:
    """Two runs of `scenario` on a 10-summary corpus kept in `corpus`, results in `out`."""
    done = subprocess.run(
        [sys.executable, "-m", "clinsite.bench", "-n", "10", "-r", "30", "--runs", "2",
         "--scenarios", scenario, "--json", str(out), "--keep", str(corpus)],
        capture_output=True, text=True, cwd=REPO, timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_the_first_edit_after_a_config_change_is_timed_alone(tmp_path: Path) -> None:
    """`edit-after-config`: per run, an untimed site.yaml build, the timed edit build and
    the untimed build after reverting both; the corpus is left as it was generated."""
    out, corpus = tmp_path / "results.json", tmp_path / "corpus"
    _two_runs("edit-after-config", out, corpus, timeout=240)
    results = json.loads(out.read_text())["results"]
    assert [(r["scenario"], len(r["runs_s"])) for r in results] == [("edit-after-config", 2)]
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "clinsite.bench", "-n", "10", "-r", "30",
                    "--keep", str(fresh), "--generate-only"], check=True, cwd=REPO,
                   capture_output=True, timeout=120)
    sources = ["site.yaml", *(p.relative_to(fresh).as_posix()
                              for p in (fresh / "content").rglob("*.md"))]
    assert len(sources) > 10
    for rel in sources:
        assert (corpus / rel).read_bytes() == (fresh / rel).read_bytes(), rel


def test_the_serve_scenario_times_rebuilds_in_one_server_process(tmp_path: Path) -> None:
    out, corpus = tmp_path / "results.json", tmp_path / "corpus"
    done = _two_runs("serve-edit-summary", out, corpus, timeout=180)
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in rows[2:]] == ["| serve-edit-summary"]
    results = json.loads(out.read_text())["results"]
    assert [(r["scenario"], len(r["runs_s"])) for r in results] == [("serve-edit-summary", 2)]
    assert all(0 < seconds < 30 for seconds in results[0]["runs_s"])
    # The edits were reverted; the server's preview is the unedited site's.
    preview = corpus / ".clinsite-cache/serve/site"
    assert "benchmark edit" not in "".join(
        p.read_text("utf-8") for p in (corpus / "content/summaries").glob("*.md"))
    assert not any("benchmark edit" in p.read_text("utf-8")
                   for p in (preview / "summaries").rglob("index.html"))


def test_unknown_scenario_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "clinsite.bench", "--scenarios", "nope"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 2
    assert "unknown scenario 'nope'" in done.stderr


def test_a_target_runs_its_own_checkout_whatever_the_current_folder(tmp_path: Path,
                                                                   monkeypatch) -> None:
    import sys

    from clinsite.bench.runner import make_target
    from tests.conftest import REPO

    decoy = tmp_path / "clinsite"  # another package named clinsite in the current folder
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise SystemExit('the decoy was imported')\n")
    monkeypatch.chdir(tmp_path)
    target = make_target("this", sys.executable, REPO)
    assert target.module == str(REPO / "clinsite" / "__init__.py")
    assert "--no-cache" in target.options
