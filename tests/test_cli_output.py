"""What the terminal and CI see: GitHub annotations, colour, the progress bar, closing
lines, and the publishing workflow (checked with actionlint)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from clinsite.cli import cli
from clinsite.diagnostics import Diagnostic, Severity, error, warning
from clinsite.progress import ProgressBar, format_diagnostic, progress_bar, write_diagnostics
from tests.conftest import REPO, summary

WORKFLOW = REPO / ".github" / "workflows" / "publish.yml"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# --- GitHub Actions workflow commands ---

def test_github_format_is_a_workflow_command():
    d = error("content/summaries/q.md", 7, 9, "unknown-citation", "unknown citation key 'x'")
    assert d.format_github() == ("::error file=content/summaries/q.md,line=7,col=9,"
                                 "title=unknown-citation::unknown citation key 'x' "
                                 "[unknown-citation]")
    w = warning("references/a.bib", 3, 1, "unused-reference", "reference 'a' is never cited")
    assert w.format_github().startswith("::warning file=references/a.bib,line=3,col=1,")


def test_github_format_escapes_data_and_properties():
    # GitHub's rules: data escapes % CR LF; property values also escape : and ,
    d = Diagnostic("content/pages/a,b:c.md", 2, 5, Severity.ERROR, "wrong-type",
                   "100% wrong:\r\nsee a, b")
    assert d.format_github() == ("::error file=content/pages/a%2Cb%3Ac.md,line=2,col=5,"
                                 "title=wrong-type::100%25 wrong:%0D%0Asee a, b [wrong-type]")


def test_check_with_format_github(make_site: Callable[..., Path], runner: CliRunner):
    root = make_site({"content/summaries/q.md": summary("Claim [@nope2020].\n\nUncited.\n")})
    result = runner.invoke(cli, ["check", "--root", str(root), "--format", "github"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        "::error file=content/summaries/q.md,line=7,col=9,title=unknown-citation::"
        "unknown citation key 'nope2020' [unknown-citation]",
        "::warning file=content/summaries/q.md,line=9,col=1,title=uncited-claim::"
        "paragraph has no citation [uncited-claim]",
    ]


# --- colour ---

def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch):
    diags = [error("a.md", 1, 2, "x-code", "bad"), warning("a.md", 3, 4, "y-code", "meh")]
    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = FakeTerminal()
    write_diagnostics(diags, tty)
    assert tty.getvalue() == (
        "\x1b[1ma.md:1:2:\x1b[0m \x1b[1;31merror:\x1b[0m bad \x1b[2m[x-code]\x1b[0m\n"
        "\x1b[1ma.md:3:4:\x1b[0m \x1b[1;33mwarning:\x1b[0m meh \x1b[2m[y-code]\x1b[0m\n")
    plain = "a.md:1:2: error: bad [x-code]\na.md:3:4: warning: meh [y-code]\n"
    pipe = io.StringIO()
    write_diagnostics(diags, pipe)
    assert pipe.getvalue() == plain
    monkeypatch.setenv("NO_COLOR", "1")
    tty = FakeTerminal()
    write_diagnostics(diags, tty)
    assert tty.getvalue() == plain
    assert format_diagnostic(diags[0], "github", colour=True).startswith("::error ")


# --- progress bar and closing lines ---

def test_progress_bar_waits_a_second_then_draws_and_erases():
    now = [100.0]
    stream = FakeTerminal()
    bar = ProgressBar(stream, total=4, clock=lambda: now[0])
    bar("content/summaries/a.md")
    now[0] += 0.5
    bar("content/summaries/b.md")
    assert stream.getvalue() == ""  # a quick build shows no bar at all
    now[0] += 0.6
    bar("content/pages/c.md")
    assert stream.getvalue() == ("\rRendering [##################......] 3/4 "
                                 "content/pages/c.md\x1b[K")
    bar.close()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_no_progress_bar_off_a_terminal_or_when_quiet(tmp_path: Path):
    assert progress_bar(io.StringIO(), tmp_path, quiet=False) is None
    assert progress_bar(FakeTerminal(), tmp_path, quiet=True) is None
    assert isinstance(progress_bar(FakeTerminal(), tmp_path, quiet=False), ProgressBar)


def test_build_output_off_a_terminal_is_plain(make_site: Callable[..., Path], runner: CliRunner):
    root = make_site()
    result = runner.invoke(cli, ["build", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output and "\x1b" not in result.output
    assert re.fullmatch(r"Built \d+ pages into \S+ in \d+\.\d\d s: 0 warnings, 0 errors\.\n",
                        result.stderr), result.stderr
    quiet = runner.invoke(cli, ["build", "--root", str(root), "--quiet"])
    assert quiet.exit_code == 0
    assert quiet.output == ""


def test_closing_lines_of_failed_runs(make_site: Callable[..., Path], runner: CliRunner):
    root = make_site({"content/summaries/q.md": summary("Claim [@nope2020].\n")})
    built = runner.invoke(cli, ["build", "--root", str(root)])
    assert built.exit_code == 1
    assert re.search(r"^Build failed in \d+\.\d\d s: 0 warnings, 1 error; the previous output "
                     r"was left untouched\.$", built.stderr, re.M), built.stderr
    checked = runner.invoke(cli, ["check", "--root", str(root)])
    assert re.search(r"^Check failed in \d+\.\d\d s: 0 warnings, 1 error\.$", checked.stderr,
                     re.M), checked.stderr


# --- the publishing workflow ---

def actionlint() -> str:
    """The actionlint the test extra installs, next to this Python (or on PATH)."""
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    assert found, "actionlint is missing: pip install -e '.[test]' installs it"
    return found


def test_workflow_passes_actionlint():
    done = subprocess.run([actionlint(), "-no-color", str(WORKFLOW)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_checks_pull_requests_and_deploys_main():
    flow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = flow[True]  # YAML 1.1 reads the key `on` as true
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    jobs = flow["jobs"]
    check_runs = [step.get("run", "") for step in jobs["check"]["steps"]]
    assert "python -m pytest -q" in check_runs
    assert "clinsite build --strict --format github" in check_runs
    setup = next(s for s in jobs["check"]["steps"] if "setup-python" in s.get("uses", ""))
    assert setup["with"]["cache"] == "pip"
    assert jobs["build"]["if"].endswith("github.ref == 'refs/heads/main'")
    uses = [s.get("uses", "") for job in jobs.values() for s in job["steps"]]
    for action in ("configure-pages", "upload-pages-artifact", "deploy-pages"):
        assert any(u.startswith(f"actions/{action}@") for u in uses), action
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert jobs["deploy"]["environment"]["name"] == "github-pages"
    assert jobs["deploy"]["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    assert flow["permissions"] == {"contents": "read"}


def test_build_jobs_option(make_site: Callable[..., Path], runner: CliRunner):
    root = make_site()
    assert runner.invoke(cli, ["build", "--root", str(root), "--jobs", "1"]).exit_code == 0
    bad = runner.invoke(cli, ["build", "--root", str(root), "--jobs", "0"])
    assert bad.exit_code == 2 and "--jobs" in bad.output


# --- the process's end -------------------------------------------------------------------

def test_a_build_with_stdout_closed_still_exits_0(make_site):
    import subprocess
    import sys

    root = make_site()
    done = subprocess.run(["bash", "-c", f'"{sys.executable}" -m clinsite build --root "{root}" '
                           "-q >&-; echo \"status $?\" >&2"], capture_output=True, text=True)
    assert done.stderr.strip().splitlines()[-1] == "status 0", done.stderr
    assert (root / "site/index.html").is_file()


def test_main_called_from_python_returns_through_system_exit(make_site):
    import subprocess
    import sys

    root = make_site()
    script = ("import sys\nfrom clinsite.cli import main\ntry:\n"
              f"    main(['build', '--root', {str(root)!r}, '-q'])\n"
              "except SystemExit as exc:\n    print('exit', exc.code)\nprint('after main')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.splitlines() == ["exit 0", "after main"], done.stderr


def test_only_a_build_that_ends_with_the_fast_exit_keeps_what_it_loaded(make_site):
    """As a program of its own, the CLI asks the build to keep what it loaded referenced
    (BuildOptions.keep_loaded), so that nothing is freed before the fast exit; called from
    Python it does not, and the result holds nothing more than before."""
    import subprocess
    import sys

    root = make_site()
    script = ("import sys\nfrom clinsite import pipeline\nfrom clinsite.cli import main\n"
              "real = pipeline.build\n"
              "def build(options, progress=None):\n"
              "    result = real(options, progress)\n"
              "    print('keep', options.keep_loaded, type(result.kept).__name__, flush=True)\n"
              "    return result\n"
              "pipeline.build = build\n"
              "mode, rest = sys.argv[1], sys.argv[2:]\n"
              "sys.argv = ['clinsite', *rest]\n"
              "main(rest if mode == 'embedded' else None)\n")

    def run(mode: str) -> list[str]:
        done = subprocess.run([sys.executable, "-c", script, mode, "build", "--root",
                               str(root), "-q"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    assert run("embedded") == ["keep False NoneType"]
    summary_file = root / "content/summaries/q.md"
    summary_file.write_text(summary_file.read_text() + "\nMore [@smith2018].\n")
    assert run("program") == ["keep True tuple"]
    assert "More" in (root / "site/summaries/q/index.html").read_text()


def test_a_profiled_build_keeps_its_profile(make_site, tmp_path):
    import pstats
    import subprocess
    import sys

    root = make_site()
    profile = tmp_path / "build.prof"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "clinsite",
                    "build", "--root", str(root), "-q", "--jobs", "1"], check=True)
    assert pstats.Stats(str(profile)).total_calls > 1000
