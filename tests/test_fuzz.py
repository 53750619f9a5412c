"""Property-based guard: no input, however malformed, makes `clinsite check` crash (SPEC §7).

Random bytes, YAML-ish text, Markdown and BibTeX-ish text go into one file of an
otherwise valid site (a content file's front matter or body, site.yaml,
content/board.yaml, references/*.bib); `clinsite check` must end with exit status 0
or 1, never a traceback, and write only diagnostics and its closing line to stderr.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinsite.cli import cli
from tests.conftest import BIB, BOARD, POLICY, SITE_YAML, summary
from tests.test_jinja_helpers import templates_compiled_once

EPOCH = {"SOURCE_DATE_EPOCH": "1795219200"}
# Deterministic by default, so CI never fails on a new random find; set
# CLINSITE_FUZZ_EXAMPLES=5000 for a longer, randomised hunt.
_DEEPER = int(os.environ.get("CLINSITE_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_DEEPER or 120, deadline=None, derandomize=not _DEEPER,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])

DRUG = """\
---
title: Valacyclovir
class: Antiviral
dosing:
  - {indication: Cold sores, regimen: 2 g twice, cite: [smith2018]}
updated: 2026-01-01
review: {status: submitted}
---
Body [@smith2018].
"""
BASE: dict[str, str] = {
    "site.yaml": SITE_YAML,
    "content/pages/policy.md": POLICY,
    "content/board.yaml": BOARD,
    "content/summaries/q.md": summary(),
    "content/drugs/valacyclovir.md": DRUG,
    "references/refs.bib": BIB,
}
CONTENT_FILES = ("content/summaries/q.md", "content/drugs/valacyclovir.md",
                 "content/pages/policy.md")
FRONT_OF = {
    "content/summaries/q.md": "title: Q\nsummary: S [@smith2018]\nupdated: 2026-01-01\n"
                              "review: {status: submitted}\n",
    "content/drugs/valacyclovir.md": "title: D\nupdated: 2026-01-01\nreview: {status: submitted}\n",
    "content/pages/policy.md": "title: Policy\nupdated: 2026-01-01\n",
}

# One diagnostic: `path:line:col: severity: message [code]`. A message may quote a value
# with a line break in it (a known bug: test_xss.py::test_diagnostics_stay_one_line...),
# so a record may span lines; each must still start and end in the documented form.
DIAGNOSTIC = re.compile(r"[^:\n]+:\d+:\d+: (?:error|warning): (?:.|\n)+? \[[a-z-]+\]\n")
CLOSING = re.compile(r"(?:Checked \d+ pages? in|Check failed in) [0-9.]+ s: "
                     r"\d+ warnings?, \d+ errors?\.\n")
ONE_LINE = re.compile(r"^[^:]+:\d+:\d+: (error|warning): .+ \[[a-z-]+\]$")

_counter = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module", autouse=True)
def compiled_templates_once() -> Iterator[None]:
    """Compile the theme once for the module: the budget buys ten times more examples."""
    with templates_compiled_once():
        yield


def run_check(workdir: Path, files: dict[str, str | bytes]) -> None:
    """Write the base site with `files` replaced, run `clinsite check`, assert the contract."""
    root = workdir / f"site-{next(_counter)}"
    (root / "templates").mkdir(parents=True)
    for rel, data in {**BASE, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_bytes(data.encode("utf-8", "surrogatepass"))
    result = CliRunner().invoke(cli, ["check", "--root", str(root)], env=EPOCH)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        detail = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"traceback for {sorted(files)}:\n{detail}")
    assert result.exit_code in (0, 1), result.output
    assert_diagnostics(result.stderr, result.exit_code)


def assert_diagnostics(stderr: str, exit_code: int) -> None:
    """stderr is diagnostics in the compiler format, then one closing line."""
    pos = 0
    errors = 0
    while (match := DIAGNOSTIC.match(stderr, pos)) is not None:
        errors += ": error: " in match.group().split("\n")[0]
        pos = match.end()
    rest = stderr[pos:]
    assert CLOSING.fullmatch(rest), f"not a diagnostic nor the closing line: {rest[:300]!r}"
    assert (exit_code == 1) == (errors > 0 or rest.startswith("Check failed")), stderr


def test_the_format_checks_reject_noise() -> None:
    good = ("content/x.md:1:2: error: bad [wrong-type]\n"
            "Check failed in 0.01 s: 0 warnings, 1 error.\n")
    assert_diagnostics(good, 1)
    assert ONE_LINE.match(good.splitlines()[0])
    for bad in ("Traceback (most recent call last):\n", "content/x.md:1: error: x [c]\n",
                "content/x.md:1:2: error: no code\nChecked 1 page in 0.1 s: 0 warnings, "
                "0 errors.\n"):
        with pytest.raises(AssertionError):
            assert_diagnostics(bad, 1)


# --- strategies ----------------------------------------------------------------------


def pieces(*chunks: str, max_size: int = 60) -> st.SearchStrategy[str]:
    """Text made of the format's own significant pieces, mixed with arbitrary text."""
    part = st.one_of(st.sampled_from(chunks), st.text(max_size=8),
                     st.text(alphabet="ab1 \t\n-:", max_size=6))
    return st.lists(part, max_size=max_size).map("".join)


def deep(*openers: str) -> st.SearchStrategy[str]:
    """One construct nested hundreds to thousands of times."""
    return st.builds(lambda opener, n, tail: opener * n + tail,
                     st.sampled_from(openers), st.integers(50, 3000), st.text(max_size=10))


YAML_BITS = ("title", "summary", "updated", "review", "status", "reviewers", "reviewed",
             "next_review", "tags", "related", "draft", "audience", "dosing", "cite",
             "indication", "regimen", "brands", "id", "name", "base_url", "disclaimer",
             ": ", ":", "\n", "\n  ", "- ", "[", "]", "{", "}", ",", '"', "'", "\\", "\\n",
             "\\x1b", "&a ", "*a", "<<: ", "!!python/object:os.system ", "!!binary ", "!!str ",
             "!!int ", "!!timestamp ", "? ", "|", ">-", "#", "\t", "~", "null", "yes", ".inf",
             ".nan", "0x1F", "1e400", "2026-01-01", "2026-02-30", "2026-13-45", "10:00:00",
             "approved", "submitted", "under-review", "a-example", "---", "...", "%YAML 1.2",
             "\ufeff", "\u2028", "\x85", "é", "😀", "\x00", "\x07")
MD_BITS = ("[@", "[@smith2018]", "[@smith2018; @nobody]", "[@smith2018, p. 12]", "@", "]", "[",
           "](", ")", "](x.md)", "](../drugs/valacyclovir.md)", "](https://e.org)", "![", "<",
           ">", "::: ", ":::\n", "::: clinician\n", "::: patient\n", "::: note\n",
           "::: recommendation strength=strong certainty=low\n", "strength=", "certainty=",
           "`", "```\n", "~~~", "    ", "\n", "\n\n", "- ", "* ", "1. ", "> ", "# ", "## ",
           "| a | b |\n|---|---|\n", "|", "---\n", "*", "_", "\\", "\\[@", "&#", "&amp;", "<!--",
           "-->", "<script>", "javascript:", "\t", "\u2028", "\x00", "e@mail.org", "{{", "}}",
           "{%", "%}")
BIB_BITS = ("@article{", "@book{", "@misc{", "@string{", "@comment{", "@preamble{", "@", "k1,",
            "k2,", "smith2018,", "title = ", "author = ", "journal = ", "year = ", "doi = ",
            "pmid = ", "url = ", "kind = ", "month = ", "jan", "{", "}", "(", ")", '"', "#",
            ",", "=", "%", "\\", "\\'e", '\\"o', "{\\'e}", "--", " and ", "Smith, John",
            "Doe, Jr, J, extra, more", "2020", "10.1000/x", "https://e.org", "javascript:x",
            "\n", "  ", "\t", "\ufeff", "é", "\x00")

binary_blobs = st.one_of(
    st.binary(max_size=400),
    st.lists(st.one_of(st.sampled_from([b"---\n", b"\xff", b"\xfe", b"\xef\xbb\xbf", b"\r\n",
                                        b"\r", b"\x00", b": ", b"- ", b"[@", b"{", b"}",
                                        b"@article{", b"\xc3", b"\xe2\x80", b"title: "]),
                        st.binary(max_size=12)), max_size=40).map(b"".join),
)
yaml_text = st.one_of(pieces(*YAML_BITS), deep("[", "{", "- ", "  - ", "a: ", "{a: ", "&a [",
                                               "? "))
markdown_text = st.one_of(pieces(*MD_BITS, max_size=80),
                          deep("> ", "- ", "1. ", "[", "[@", "*", "_", "`", "::: note\n",
                               "> - ", "  ", "![", "<", "\\", "|", "{", "(", ":::\n"))
bibtex_text = st.one_of(pieces(*BIB_BITS, max_size=80), deep("{", '"', "@article{", "(", "\\"))
FILES = st.sampled_from(sorted(BASE))
CONTENT = st.sampled_from(CONTENT_FILES)


# --- the properties ------------------------------------------------------------------


@FUZZ
@given(target=FILES, data=binary_blobs)
def test_random_bytes_in_any_file(workdir: Path, target: str, data: bytes) -> None:
    run_check(workdir, {target: data})


@FUZZ
@given(target=FILES, data=binary_blobs)
def test_random_bytes_after_valid_front_matter(workdir: Path, target: str, data: bytes) -> None:
    prefix = BASE[target].encode()[: len(BASE[target]) // 2]
    run_check(workdir, {target: prefix + data})


@FUZZ
@given(target=CONTENT, text=yaml_text)
def test_random_front_matter(workdir: Path, target: str, text: str) -> None:
    run_check(workdir, {target: f"---\n{text}\n---\nBody [@smith2018].\n"})


@FUZZ
@given(target=CONTENT, text=yaml_text, field=st.sampled_from(
    ["title", "summary", "review", "tags", "dosing", "updated", "related", "audience"]))
def test_random_front_matter_value(workdir: Path, target: str, text: str, field: str) -> None:
    front = FRONT_OF[target]
    kept = "".join(line + "\n" for line in front.splitlines() if not line.startswith(field))
    run_check(workdir, {target: f"---\n{kept}{field}: {text}\n---\nBody [@smith2018].\n"})


@FUZZ
@given(target=st.sampled_from(["site.yaml", "content/board.yaml"]), text=yaml_text)
def test_random_settings_and_board(workdir: Path, target: str, text: str) -> None:
    run_check(workdir, {target: text})


@FUZZ
@given(target=CONTENT, text=markdown_text)
def test_random_markdown_body(workdir: Path, target: str, text: str) -> None:
    run_check(workdir, {target: f"---\n{FRONT_OF[target]}---\n{text}"})


@FUZZ
@given(text=markdown_text, where=st.sampled_from(["summary", "disclaimer", "regimen"]))
def test_random_markdown_in_fields(workdir: Path, text: str, where: str) -> None:
    value = json.dumps(text)
    files: dict[str, str | bytes]
    if where == "disclaimer":
        files = {"site.yaml": SITE_YAML.replace("disclaimer: Not medical advice.",
                                                f"disclaimer: {value}")}
    elif where == "summary":
        files = {"content/summaries/q.md": summary(summary=value)}
    else:
        files = {"content/drugs/valacyclovir.md": DRUG.replace("regimen: 2 g twice",
                                                               f"regimen: {value}")}
    run_check(workdir, files)


@FUZZ
@given(text=bibtex_text, replace=st.booleans())
def test_random_bibtex(workdir: Path, text: str, replace: bool) -> None:
    target = "references/refs.bib" if replace else "references/x.bib"
    run_check(workdir, {target: text})


GENERATORS: dict[str, Callable[..., object]] = {
    "bytes": test_random_bytes_in_any_file,
    "bytes-after-front": test_random_bytes_after_valid_front_matter,
    "front-matter": test_random_front_matter,
    "front-matter-value": test_random_front_matter_value,
    "site-and-board": test_random_settings_and_board,
    "markdown-body": test_random_markdown_body,
    "markdown-fields": test_random_markdown_in_fields,
    "bibtex": test_random_bibtex,
}


def test_example_budget() -> None:
    """The closing note's number: examples per run (each one a `clinsite check`)."""
    assert FUZZ.max_examples * len(GENERATORS) >= 400


# --- crashes found by the properties above, reproduced exactly ----------------------


@pytest.mark.parametrize("line", ["title: !!int ", "title: !!float ", "draft: !!bool maybe",
                                  "updated: !!timestamp x", "updated: !!timestamp 2026-01-01T"])
def test_explicit_yaml_tag_on_a_bad_scalar(tmp_path: Path, line: str) -> None:
    key = line.split(":")[0]
    kept = "".join(x + "\n" for x in FRONT_OF["content/summaries/q.md"].splitlines()
                   if not x.startswith(key + ":"))
    run_check(tmp_path, {"content/summaries/q.md":
                         f"---\n{kept}{line}\n---\nBody [@smith2018].\n"})


@pytest.mark.parametrize("field", ["tags", "draft", "updated", "review"])
def test_deeply_nested_yaml_value(tmp_path: Path, field: str) -> None:
    value = "[" * 5000 + "]" * 5000
    if field == "review":
        value = "{status: " + value + "}"
    kept = "".join(line + "\n" for line in FRONT_OF["content/summaries/q.md"].splitlines()
                   if not line.startswith(field))
    run_check(tmp_path, {"content/summaries/q.md":
                         f"---\n{kept}{field}: {value}\n---\nBody [@smith2018].\n"})


def test_yaml_nested_30000_deep_does_not_kill_the_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = workdir_for(tmp_path, {"content/summaries/q.md":
                                  "---\ntags: " + "[" * 30_000 + "\n---\nBody.\n"})
    done = subprocess.run([sys.executable, "-m", "clinsite", "check", "--root", str(root)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **EPOCH})
    assert done.returncode == 1, (done.returncode, done.stderr[-500:])
    assert "yaml" in done.stderr.lower()


def test_yaml_alias_bomb_gives_a_short_diagnostic(tmp_path: Path) -> None:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 5)]
    lines.append("tags: [" + ", ".join(["*l4"] * 9) + "]")  # each entry 9**5 leaves
    front = FRONT_OF["content/summaries/q.md"] + "\n".join(lines) + "\n"
    root = workdir_for(tmp_path, {"content/summaries/q.md": f"---\n{front}---\nBody.\n"})
    result = CliRunner().invoke(cli, ["check", "--root", str(root)], env=EPOCH)
    assert result.exit_code == 1
    assert len(front) < 400
    assert len(result.stderr) < 20_000, f"{len(result.stderr):,} characters of diagnostics"


def workdir_for(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "site"
    (root / "templates").mkdir(parents=True)
    for rel, data in {**BASE, **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(data, encoding="utf-8")
    return root
