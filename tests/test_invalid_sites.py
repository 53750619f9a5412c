"""The invalid-site corpus: each folder of tests/sites/invalid/ is a small site broken
in exactly one way, and `expected.txt` holds the exact diagnostic lines
`clinsite check` prints for it (SPEC §5, §7; STYLE "Tests").

A case folder may also hold:
- `args.txt`: extra command-line arguments, one a line;
- `xfail.txt`: the reason this case is a known bug (expected.txt then holds the
  lines we want, not the ones printed today);
- `symlinks.txt`: ``link -> target`` lines, made at run time (git keeps no
  links that point outside the case);
- `outside/`: files placed beside the copied root, for links to point at.

A case whose name contains ``strict`` has warnings only: it must pass (exit 0) as is
and fail (exit 1) with the same lines, as errors, under `--strict`.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from clinsite.cli import cli

CASES = Path(__file__).resolve().parent / "sites" / "invalid"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "diagnostics.md"
EPOCH = "1795219200"  # 2026-11-21T00:00:00Z: "today" for overdue reviews
_META = ("expected.txt", "args.txt", "xfail.txt", "symlinks.txt")
# path:line:col: severity: message [code]
DIAGNOSTIC = re.compile(r"^[^:\n]+:\d+:\d+: (error|warning): .+ \[[a-z]+(-[a-z]+)*\]$")


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    lines: list[str]  # diagnostic lines of stderr
    stderr: str
    exception: BaseException | None


def _params() -> list[object]:
    params: list[object] = []
    for case in sorted(p for p in CASES.iterdir() if p.is_dir()):
        marks = []
        if (case / "xfail.txt").is_file():
            reason = (case / "xfail.txt").read_text(encoding="utf-8").strip()
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


def copy_case(case: Path, tmp_path: Path) -> Path:
    """The case as a site root under `tmp_path` (outside any git work tree), links made."""
    root = tmp_path / "site"
    shutil.copytree(case, root, symlinks=True,
                    ignore=lambda folder, names: [n for n in names if n in _META]
                    if Path(folder) == case else [])
    if (root / "outside").is_dir():
        shutil.move(root / "outside", tmp_path / "outside")
    links = case / "symlinks.txt"
    if links.is_file():
        for line in links.read_text(encoding="utf-8").splitlines():
            if line.strip():
                link, target = (part.strip() for part in line.split("->"))
                (root / link).parent.mkdir(parents=True, exist_ok=True)
                os.symlink(target, root / link)
    return root


def run_check(root: Path, *args: str) -> Outcome:
    runner = CliRunner()
    result = runner.invoke(cli, ["check", "--root", str(root), *args],
                           env={"SOURCE_DATE_EPOCH": EPOCH, "NO_COLOR": "1"})
    lines = [line for line in result.stderr.splitlines() if DIAGNOSTIC.match(line)]
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    return Outcome(result.exit_code, lines, result.stderr, exception)


def case_args(case: Path) -> list[str]:
    file = case / "args.txt"
    if not file.is_file():
        return []
    return [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]


def expected_lines(case: Path) -> list[str]:
    return (case / "expected.txt").read_text(encoding="utf-8").splitlines()


def test_the_corpus_is_complete():
    """Every case has its expected lines, each a well-formed diagnostic."""
    cases = [p for p in CASES.iterdir() if p.is_dir()]
    assert len(cases) >= 100
    for case in cases:
        expected = expected_lines(case)
        assert expected, f"{case.name}: expected.txt is empty"
        bad = [line for line in expected if not DIAGNOSTIC.match(line)]
        assert not bad, f"{case.name}: not diagnostic lines: {bad}"
        warnings_only = all(": warning: " in line for line in expected)
        assert warnings_only == ("strict" in case.name), (
            f"{case.name}: a case with warnings only must have 'strict' in its name, "
            "and only such a case")


def test_every_code_of_the_corpus_is_documented():
    """docs/diagnostics.md explains each code a broken site can produce."""
    docs = DOCS.read_text(encoding="utf-8")
    codes = {line.rsplit("[", 1)[1].rstrip("]")
             for case in CASES.iterdir() if case.is_dir() for line in expected_lines(case)}
    assert len(codes) >= 35
    missing = sorted(code for code in codes if f"`{code}`" not in docs)
    assert not missing, f"not in docs/diagnostics.md: {missing}"


@pytest.mark.parametrize("case", _params())
def test_invalid_site(case: Path, tmp_path: Path):
    root = copy_case(case, tmp_path)
    expected = expected_lines(case)
    outcome = run_check(root, *case_args(case))
    assert outcome.exception is None, outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert outcome.lines == expected, outcome.stderr
    # The summary line is the only other line; nothing else (no half message, no noise).
    others = [line for line in outcome.stderr.splitlines() if line not in outcome.lines]
    assert len(others) == 1 and others[0].startswith(("Check failed", "Checked")), others
    if "strict" in case.name:
        assert outcome.exit_code == 0
        strict = run_check(root, *case_args(case), "--strict")
        assert strict.exception is None, strict.stderr
        assert strict.exit_code == 1
        assert strict.lines == [line.replace(": warning: ", ": error: ", 1) for line in expected]
    else:
        assert outcome.exit_code == 1


def test_github_format_reports_the_same_problems(tmp_path: Path):
    """`--format github` prints one annotation per diagnostic line of a case."""
    case = CASES / "many-problems"
    root = copy_case(case, tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["check", "--root", str(root), "--format", "github"],
                           env={"SOURCE_DATE_EPOCH": EPOCH})
    annotations = [line for line in result.stderr.splitlines() if line.startswith("::")]
    assert result.exit_code == 1
    assert len(annotations) == len(expected_lines(case))
    for annotation, line in zip(annotations, expected_lines(case), strict=True):
        path, row, col, rest = line.split(":", 3)
        severity = rest.split(":", 2)[0].strip()
        assert annotation.startswith(f"::{severity} file={path},line={row},col={col},")
