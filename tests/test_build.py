"""End to end: the CLI builds whole sites; numbers, anchors and back-links in the HTML."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from clinsite.cli import cli
from tests.conftest import REPO, summary

COLD_SORE = "summaries/cold-sore-not-settling-on-valacyclovir/index.html"
SIGNS = "summaries/resistance-signs-immunocompromised/index.html"
PATIENT = "summaries/cold-sore-patient-guide/index.html"
DRUG = "drugs/valacyclovir/index.html"


def ref_list(html: str) -> list[tuple[int, str, list[str]]]:
    """(number, first words of the formatted reference, back-link targets) per entry."""
    entries = re.findall(
        r'<li id="ref-(\d+)" value="\d+">.*?<span class="ref-text" id="ref-text-\d+">(.*?)'
        r'</span>\s*<a class="ref-citing" href="[^"]+">Pages citing this</a>'
        r"\s*(?:<span class=\"backlinks\">(.*?)</span>)?\s*</li>", html, re.S)
    return [(int(n), text.split(".")[0], re.findall(r'href="#(cite-\d+)"', back))
            for n, text, back in entries]


def groups(html: str) -> list[tuple[str, str, list[str]]]:
    """(group id, visible text, link targets) for every in-text citation group."""
    found = re.findall(r'<sup class="cite" id="(cite-\d+)">(.*?)</sup>', html, re.S)
    return [(gid, re.sub(r"<[^>]+>", "", body), re.findall(r'href="#(ref-\d+)"', body))
            for gid, body in found]


def test_sample_site_has_every_page(sample_site: Path):
    files = sorted(p.relative_to(sample_site).as_posix() for p in sample_site.rglob("*")
                   if p.is_file() and p.relative_to(sample_site).parts[0] != "pagefind")
    cite = ("cite.bib", "cite.json", "cite.ris", "index.html")
    pages = [f"{base.removesuffix('index.html')}{name}"
             for base in (DRUG, COLD_SORE, PATIENT, SIGNS)
             for name in cite]
    assert files == sorted([
        ".clinsite-output", "404.html", "about/index.html", "api/summaries.json",
        "assets/clinsite-head.js", "assets/clinsite.css", "assets/clinsite.js",
        "assets/favicon.svg",
        "board/index.html", "editorial-policy/index.html", "feed.xml", "index.html",
        "references/index.html", "robots.txt", "search/index.html", "sitemap.xml",
        "tags/antivirals/index.html", "tags/herpes-simplex/index.html",
        "tags/immunocompromised/index.html", "tags/index.html", "tags/resistance/index.html",
        *pages,
    ])
    assert (sample_site / "pagefind/pagefind-ui.js").is_file()
    assert (sample_site / "pagefind/pagefind-entry.json").is_file()


def test_cold_sore_reference_order_and_backlinks(sample_site: Path):
    html = (sample_site / COLD_SORE).read_text()
    refs = ref_list(html)
    assert [(n, first) for n, first, _ in refs] == [
        (1, "Bacon TH, Levin MJ, Leary JJ, Sarisky RT, Sutton D"),
        (2, "GlaxoSmithKline LLC"),
        (3, "Spruance SL, Jones TM, Blatter MM, Vargas-Cortes M, Barber J, Hill J, et al"),
        (4, "Piret J, Boivin G"),
        (5, "Clinigen"),
        (6, "Panel on Guidelines for the Prevention and Treatment of Opportunistic Infections "
            "in Adults and Adolescents with HIV"),
        (7, "Schalkwijk HH, Snoeck R, Andrei G"),
        (8, "Safrin S, Crumpacker C, Chatis P, Davis R, Hafner R, Rush J, et al"),
        (9, "Balfour HH, Benson C, Braun J, Cassens B, Erice A, Friedman-Kien A, et al"),
        (10, "Lalezari J, et al"),
    ]
    cited = groups(html)
    # The summary field is numbered first: clinician bottom line, then the patient one.
    assert [(g, text) for g, text, _ in cited[:7]] == [
        ("cite-1", "1"), ("cite-2", "2"), ("cite-3", "3"), ("cite-4", "4"), ("cite-5", "5"),
        ("cite-6", "1,3"), ("cite-7", "2")]
    # A compressed range links its two ends; the middle reference still links back to it.
    assert ("cite-16", "2–4", ["ref-2", "ref-4"]) in cited
    assert "cite-16" in refs[2][2]
    # Every back-link points at an existing group that links to that reference.
    ids = {gid: targets for gid, _, targets in cited}
    for number, _, backlinks in refs:
        assert backlinks, f"reference {number} has no back-link"
        for gid in backlinks:
            assert gid in ids
            text = next(t for g, t, _ in cited if g == gid)
            nums = set()
            for part in text.split(","):
                lo, _, hi = part.partition("–")
                nums.update(range(int(lo), int(hi or lo) + 1))
            assert number in nums


def test_citation_carries_reference_as_description(sample_site: Path):
    html = (sample_site / SIGNS).read_text()
    first = re.search(r'<sup class="cite" id="cite-1">(.*?)</sup>', html, re.S)
    assert first is not None
    assert first.group(1) == (
        '<a class="cite-ref" href="#ref-1" title="Bacon TH, Levin MJ, Leary JJ, Sarisky RT, '
        "Sutton D. Herpes simplex virus resistance to acyclovir and penciclovir after two "
        "decades of antiviral therapy. Clin Microbiol Rev. 2003 Jan;16(1):114-28. doi: "
        '10.1128/CMR.16.1.114-128.2003. PMID: 12525428; PMCID: PMC145299." '
        'aria-describedby="ref-text-1">1</a>')
    assert 'id="ref-text-1"' in html


def test_summary_page_trust_signals(sample_site: Path):
    html = (sample_site / COLD_SORE).read_text()
    assert "Pending clinical review — for education only." in html
    assert '<li class="step step-current" aria-current="step">' in html
    assert re.search(r'class="step-label">Under review</span>', html)
    assert '<a href="../../board/#a-example">Dr Alex Example</a>' in html
    assert '<time datetime="2026-11-21">21 November 2026</time>' in html
    assert "Sample content: not medical advice." in html
    assert '<a href="../../editorial-policy/">Read our editorial policy</a>' in html
    assert '<link rel="canonical" href="https://example.org/clinical/summaries/' \
           'cold-sore-not-settling-on-valacyclovir/">' in html
    assert '<a href="../../drugs/valacyclovir/">' in html  # a .md link became the page URL
    board = (sample_site / "board/index.html").read_text()
    assert 'id="a-example"' in board


def test_no_third_party_requests(sample_site: Path):
    for page in sample_site.rglob("*.html"):
        html = page.read_text()
        for attr in re.findall(r'(?:src|href)="([^"]+)"', html):
            tag_loads = re.search(rf'<(?:link|script|img)[^>]*"{re.escape(attr)}"', html)
            if tag_loads and "canonical" not in tag_loads.group(0):
                assert not attr.startswith(("http:", "https:", "//")), (page, attr)


def test_strict_build_fails_on_warning_and_keeps_site(make_site, runner):
    root = make_site()
    ok = runner.invoke(cli, ["build", "--root", str(root)])
    assert ok.exit_code == 0, ok.output
    before = {p: p.read_bytes() for p in (root / "site").rglob("*") if p.is_file()}
    # (A build's trash, beside the output, is deleted in the background after it: wait.)
    deadline = time.monotonic() + 20
    while any(".clinsite-gone-" in p.name for p in root.iterdir()) and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    (root / "content/summaries/q.md").write_text(summary(body="No citation here.\n"))
    failed = runner.invoke(cli, ["build", "--root", str(root), "--strict"])
    assert failed.exit_code == 1
    assert failed.stderr.splitlines()[0] == (
        "content/summaries/q.md:7:1: error: paragraph has no citation [uncited-claim]")
    after = {p: p.read_bytes() for p in (root / "site").rglob("*") if p.is_file()}
    assert after == before
    # Nothing of the failed build is left beside the output, not even its trash.
    assert sorted(p.name for p in root.iterdir()) == [
        ".clinsite-cache", "content", "references", "site", "site.yaml", "templates"]


def test_unknown_key_points_at_the_key(make_site, runner):
    root = make_site({"content/summaries/q.md": summary(
        body="Intro.\n\n- A bullet cites [@smith2019; @smith2018].\n",
        summary="'Yes [@smith2018; @smtih2018].'")})
    result = runner.invoke(cli, ["check", "--root", str(root)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:3] == [
        "content/summaries/q.md:3:29: error: unknown citation key 'smtih2018' (did you mean "
        "'smith2018'?) [unknown-citation]",
        "content/summaries/q.md:7:1: warning: paragraph has no citation [uncited-claim]",
        "content/summaries/q.md:9:20: error: unknown citation key 'smith2019' (did you mean "
        "'smith2018'?) [unknown-citation]",
    ]
    assert not (root / "site").exists()


def test_cross_file_checks(make_site, runner):
    root = make_site({
        "content/summaries/q.md": summary(
            review="{status: under-review, reviewers: [a-exampel]}", related="[missing-page]"),
        "references/more.bib": "@book{unused2020,\n  author = {Roe, R},\n  title = {T},\n"
                               "  publisher = {P},\n  year = {2020},\n}\n",
    })
    result = runner.invoke(cli, ["check", "--root", str(root)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:3] == [
        "content/summaries/q.md:5:44: error: unknown reviewer id 'a-exampel' (did you mean "
        "'a-example'?); reviewers are listed in content/board.yaml [unknown-reviewer]",
        "content/summaries/q.md:6:11: error: related page 'missing-page' does not exist "
        "[unknown-related]",
        "references/more.bib:1:7: warning: reference 'unused2020' is never cited "
        "[unused-reference]",
    ]


def test_review_overdue_warning(make_site, runner):
    root = make_site({"content/summaries/q.md": summary(
        review="{status: approved, reviewers: [a-example], reviewed: 2025-01-01}")})
    result = runner.invoke(cli, ["check", "--root", str(root)])
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == (
        "content/summaries/q.md:5:62: warning: review overdue: next review was due 2026-01-01 "
        "[review-overdue]")
    strict = runner.invoke(cli, ["check", "--root", str(root), "--strict"])
    assert strict.exit_code == 1


def test_unsafe_out_is_a_usage_error(make_site, runner, tmp_path):
    root = make_site()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    result = runner.invoke(cli, ["build", "--root", str(root), "--out", str(precious)])
    assert result.exit_code == 2
    assert "not a previous clinsite output" in result.stderr
    assert (precious / "notes.txt").read_text() == "keep me"
    content = runner.invoke(cli, ["build", "--root", str(root), "--out", str(root / "content")])
    assert content.exit_code == 2


def test_not_a_site_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(cli, ["build", "--root", str(tmp_path)])
    assert result.exit_code == 2
    assert "has no site.yaml" in result.stderr


def test_github_format(make_site, runner):
    root = make_site({"content/summaries/q.md": summary(body="Cites [@nope].\n")})
    result = runner.invoke(cli, ["check", "--root", str(root), "--format", "github"])
    assert result.stderr.splitlines()[0] == (
        "::error file=content/summaries/q.md,line=7,col=9,title=unknown-citation::"
        "unknown citation key 'nope' [unknown-citation]")


def test_template_error_is_a_diagnostic(make_site, runner):
    root = make_site({"templates/page.html": "{% extends 'base.html' %}\n{% block main %}\n"
                                             "{{ page.nope }}\n{% endblock %}\n"})
    result = runner.invoke(cli, ["build", "--root", str(root)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith("templates/page.html:3:1: error: template "
                                                    "error: ")
    assert not (root / "site").exists()


def test_build_py_and_module_match_the_cli(tmp_path):
    for args in ([sys.executable, "build.py"], [sys.executable, "-m", "clinsite", "build"]):
        out = tmp_path / args[-1].replace(".", "-")
        done = subprocess.run([*args, "--out", str(out), "--quiet"], cwd=REPO,
                              capture_output=True, text=True,
                              env={"SOURCE_DATE_EPOCH": "1795219200", "PATH": "/usr/bin:/bin"})
        assert done.returncode == 0, done.stderr
    a = {p.relative_to(tmp_path / "build-py"): p.read_bytes()
         for p in (tmp_path / "build-py").rglob("*") if p.is_file()}
    b = {p.relative_to(tmp_path / "build"): p.read_bytes()
         for p in (tmp_path / "build").rglob("*") if p.is_file()}
    assert a == b and len(a) > 30


def test_two_builds_are_byte_identical(tmp_path, runner):
    outs = []
    for name in ("one", "two"):
        root = tmp_path / name / "src"
        shutil.copytree(REPO, root, ignore=shutil.ignore_patterns(
            ".git", ".venv", "site", "*.egg-info", "__pycache__", ".*cache"))
        result = runner.invoke(cli, ["build", "--root", str(root), "--quiet"])
        assert result.exit_code == 0, result.output
        outs.append({p.relative_to(root / "site"): p.read_bytes()
                     for p in (root / "site").rglob("*") if p.is_file()})
    assert outs[0] == outs[1]
