"""What readers see: review status, dates, audience blocks, drug monographs, GRADE boxes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clinsite.cli import cli
from tests.conftest import summary

DRUG_PAGE = """\
---
title: Examplomab
brands: [Examplo]
class: "Monoclonal antibody [@smith2018]"
mechanism: "Binds the example receptor [@smith2018]."
routes: [intravenous]
dosing:
  - indication: Example disease
    regimen: 10 mg/kg every 2 weeks
    notes: With food
    cite: [smith2018]
  - indication: Other disease
    regimen: 5 mg/kg once
renal: "No change [@smith2018]."
adverse_effects:
  - "Headache [@smith2018]"
  - "Nausea"
interactions: ["None known [@smith2018]"]
monitoring: ["Blood count [@smith2018]"]
updated: 2026-01-01
review: {status: approved, reviewers: [a-example], reviewed: 2026-06-01}
---
More about it [@smith2018].
"""


def build(runner, root: Path, *args: str):
    return runner.invoke(cli, ["build", "--root", str(root), *args])


def page(root: Path, rel: str) -> str:
    return (root / "site" / rel).read_text()


def steps(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<li class="step step-(\w+)"[^>]*>.*?class="step-label">([^<]+)<',
                      html, re.S)


@pytest.mark.parametrize(("status", "expected", "banner"), [
    ("submitted", [("current", "Submitted"), ("todo", "Under review"), ("todo", "Approved")],
     True),
    ("under-review", [("done", "Submitted"), ("current", "Under review"), ("todo", "Approved")],
     True),
    ("approved", [("done", "Submitted"), ("done", "Under review"), ("current", "Approved")],
     False),
])
def test_stepper_and_banner_follow_status(make_site, runner, status, expected, banner):
    review = f"{{status: {status}, reviewers: [a-example], reviewed: 2026-06-01}}"
    root = make_site({"content/summaries/q.md": summary(review=review)})
    assert build(runner, root).exit_code == 0
    html = page(root, "summaries/q/index.html")
    assert steps(html) == expected
    assert ("Pending clinical review — for education only." in html) is banner
    current = re.search(r'aria-current="step">.*?class="step-state">([^<]+)<', html, re.S)
    assert current is not None and current.group(1) == "Current status"  # in words too


def test_dates_and_reviewers(make_site, runner):
    text = summary(review="{status: approved, reviewers: [a-example], reviewed: 2026-06-01}",
                   evidence_current="2026-05-15")
    root = make_site({"content/summaries/q.md": text})
    assert build(runner, root, "--strict").exit_code == 0
    html = page(root, "summaries/q/index.html")
    dates = dict(re.findall(r"<dt>([^<]+)</dt><dd>(?:<time [^>]*>)?([^<]+)<", html))
    assert dates["Last updated"] == "1 January 2026"
    assert dates["Last reviewed"] == "1 June 2026"
    assert dates["Next review"] == "1 June 2027"
    assert dates["Literature current through"] == "15 May 2026"
    assert "Review overdue" not in html
    assert re.search(r'<dt>Reviewed by</dt><dd>\s*<a href="../../board/#a-example">'
                     r"Dr Alex Example</a>, MD\s*</dd>", html)
    board = page(root, "board/index.html")
    assert '<section class="member" id="a-example"' in board
    for text in ("Dr Alex Example, MD", "<dd>Reviewer</dd>", "<dd>Example Hospital</dd>",
                 "<dt>Disclosures</dt><dd>None</dd>"):
        assert text in board


def test_overdue_review_badge_and_warning(make_site, runner, monkeypatch):
    text = summary(review="{status: approved, reviewers: [a-example], reviewed: 2025-06-01}")
    root = make_site({"content/summaries/q.md": text})
    result = build(runner, root)
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == (
        "content/summaries/q.md:5:62: warning: review overdue: next review was due 2026-06-01 "
        "[review-overdue]")
    assert '<span class="badge badge-overdue">Review overdue</span>' in \
        page(root, "summaries/q/index.html")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")  # 2026-05-28: not yet due
    again = build(runner, root)
    assert "review-overdue" not in again.stderr
    assert "Review overdue" not in page(root, "summaries/q/index.html")


def test_audience_blocks_are_labelled_and_the_choice_is_a_form(make_site, runner):
    body = ("Both [@smith2018].\n\n::: clinician\nDose detail [@smith2018].\n:::\n\n"
            "::: patient\nPlain words [@smith2018].\n:::\n")
    text = summary(body=body, summary='{clinician: "C [@smith2018].", patient: "P [@smith2018]."}')
    root = make_site({"content/summaries/q.md": text})
    assert build(runner, root, "--strict").exit_code == 0
    html = page(root, "summaries/q/index.html")
    assert re.search(r'<div class="audience audience-clinician" data-audience="clinician">'
                     r'<p class="audience-label">For clinicians</p>', html)
    assert re.search(r'<div class="audience audience-patient" data-audience="patient">'
                     r'<p class="audience-label">For patients</p>', html)
    assert '<div class="audience-part" data-audience="clinician">' in html
    assert ('<form class="audience-choice" data-audience-choice data-pagefind-ignore hidden>'
            in html)
    assert "<legend>Which best describes you?</legend>" in html
    assert re.findall(r'<input type="radio" name="audience" value="(\w+)">', html) == [
        "clinician", "patient", "all"]
    assert '<script src="../../assets/clinsite-head.js"></script>' in html


def test_drug_monograph(make_site, runner):
    root = make_site({"content/drugs/examplomab.md": DRUG_PAGE,
                      "content/summaries/q.md": summary(
                          body="See [the drug](../drugs/examplomab.md) [@smith2018].\n")})
    result = build(runner, root)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[:2] == [
        "content/drugs/examplomab.md:12:5: warning: dosing row has no citation [uncited-claim]",
        "content/drugs/examplomab.md:17:5: warning: 'adverse_effects' has no citation "
        "[uncited-claim]",
    ]
    html = page(root, "drugs/examplomab/index.html")
    assert "<dt>Brand names</dt><dd>Examplo</dd>" in html
    assert "<dt>Routes</dt><dd>intravenous</dd>" in html
    rows = re.findall(r'<tr><th scope="row">(.*?)</th><td>(.*?)</td><td>(.*?)</td></tr>', html)
    assert [(a, re.sub(r"<[^>]+>", "", b), c) for a, b, c in rows] == [
        ("Example disease", "10 mg/kg every 2 weeks1", "With food"),
        ("Other disease", "5 mg/kg once", ""),
    ]
    assert 'id="cite-3"><a class="cite-ref" href="#ref-1"' in rows[0][1]
    for heading in ("Key facts", "Dosing", "Renal adjustment", "Adverse effects",
                    "Interactions", "Monitoring"):
        assert f">{heading}</h2>" in html
    assert '<h2 id="cited-by">Summaries that discuss Examplomab</h2>' in html
    assert '<a href="../../summaries/q/">Does it work?</a>' in html
    assert '<h2 id="references-heading">References</h2>' in html
    home = page(root, "index.html")
    assert '<a href="./drugs/examplomab/">Examplomab</a>' in home


def test_drug_diagnostics(make_site, runner):
    bad = DRUG_PAGE.replace("cite: [smith2018]", "cite: [smith2019]").replace(
        "routes: [intravenous]", "routes: [intravenous]\nroute: oral")
    root = make_site({"content/drugs/examplomab.md": bad})
    result = runner.invoke(cli, ["check", "--root", str(root)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert ("content/drugs/examplomab.md:7:1: warning: unknown drug front-matter key 'route' "
            "(did you mean 'routes'?) [unknown-key]") in lines
    assert ("content/drugs/examplomab.md:12:12: error: unknown citation key 'smith2019' "
            "(did you mean 'smith2018'?) [unknown-citation]") in lines


def test_bad_block_attributes_are_diagnostics(make_site, runner):
    body = ("Text [@smith2018].\n\n::: recommendation strength=strongest certainty=low\n"
            "Do it [@smith2018].\n:::\n\n::: clinican\nX [@smith2018].\n:::\n")
    root = make_site({"content/summaries/q.md": summary(body=body)})
    result = runner.invoke(cli, ["check", "--root", str(root)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        "content/summaries/q.md:9:29: error: invalid strength 'strongest' for block "
        "'recommendation' (did you mean 'strong'?); allowed: strong, conditional "
        "[invalid-block-attribute]",
        "content/summaries/q.md:13:5: error: unknown block 'clinican' (did you mean "
        "'clinician'?) [unknown-block]",
    ]


def test_sample_recommendation_box(sample_site: Path):
    html = (sample_site / "summaries/cold-sore-not-settling-on-valacyclovir/index.html").read_text()
    assert ('<aside class="rec rec-conditional" data-strength="conditional" data-certainty="low" '
            'aria-label="Conditional recommendation, low certainty evidence"><p class="rec-head">'
            '<span class="rec-strength">Conditional recommendation</span> <span '
            'class="rec-certainty"><span class="rec-scale" aria-hidden="true">⊕⊕◯◯</span> Low '
            "certainty of evidence</span></p>") in html
    assert '<aside class="callout callout-pitfall"><p class="callout-label">Pitfall</p>' in html


def test_sample_drug_dosing_table_cites(sample_site: Path):
    html = (sample_site / "drugs/valacyclovir/index.html").read_text()
    rows = re.findall(r'<tr><th scope="row">(.*?)</th><td>(.*?)</td>', html)
    assert len(rows) == 8
    assert rows[0][0] == "Cold sores (adults, and patients aged 12 and over)"
    assert re.sub(r"<[^>]+>", "", rows[0][1]) == "2 g every 12 hours for 1 day (two doses)2"
    label = re.search(r'<li id="ref-2" value="2">.*?<span class="ref-text"[^>]*>([^<]+)', html,
                      re.S)
    assert label is not None and label.group(1).startswith("GlaxoSmithKline LLC. VALTREX")
    assert "Summaries that discuss Valacyclovir" in html


def test_sample_patient_variant(sample_site: Path):
    html = (sample_site / "summaries/cold-sore-patient-guide/index.html").read_text()
    assert "Clinical summary · written for patients" in html
    assert 'data-page-audience="patient"' in html
