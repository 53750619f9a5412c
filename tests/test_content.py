"""Front-matter validation of summaries, pages and the board, with exact positions."""

from __future__ import annotations

import datetime as dt
import subprocess

from clinsite.config import load_config
from clinsite.content import add_months, load_board, load_content
from clinsite.models import ReviewStatus
from tests.conftest import summary


def load(root):
    config, problems = load_config(root)
    assert config is not None, problems
    content, diags = load_content(root, config)
    return content, [d.format() for d in diags]


def test_valid_summary_is_loaded(make_site):
    content, diags = load(make_site())
    assert diags == []
    (doc,) = content.summaries
    assert doc.slug == "q" and doc.url == "summaries/q/"
    assert doc.summary == (("all", "Yes [@smith2018]."),)
    assert doc.review.status is ReviewStatus.UNDER_REVIEW
    assert doc.review.reviewers == ("a-example",)
    assert doc.updated == dt.date(2026, 1, 1)
    assert doc.body_line == 7 and doc.body == "Claim [@smith2018].\n"


def test_every_problem_in_one_run(make_site):
    text = summary(title="", updated="2026-13-01",
                   review="{status: aproved, reviewers: [A B]}", colour="red",
                   tags="[Bad Tag, ok]", audience="everyone")
    _, diags = load(make_site({"content/summaries/q.md": text}))
    assert diags == [
        "content/summaries/q.md:4:10: error: 'updated' must be a date written YYYY-MM-DD, "
        "not '2026-13-01' [invalid-date]",
        "content/summaries/q.md:6:1: warning: unknown summary front-matter key 'colour' "
        "[unknown-key]",
        "content/summaries/q.md:2:7: error: required field 'title' is empty [missing-field]",
        "content/summaries/q.md:5:18: error: 'status' must be one of submitted, under-review, "
        "approved, not 'aproved' (did you mean 'approved'?) [invalid-value]",
        "content/summaries/q.md:5:39: error: 'reviewers' entry 'A B' is not a reviewer id from "
        "content/board.yaml [invalid-value]",
        "content/summaries/q.md:8:11: error: 'audience' must be one of clinician, patient, both, "
        "not 'everyone' [invalid-value]",
        "content/summaries/q.md:7:8: error: 'tags' entry 'Bad Tag' is not a tag (lowercase "
        "letters, digits and hyphens) [invalid-value]",
    ]


def test_unknown_key_suggests(make_site):
    _, diags = load(make_site({"content/summaries/q.md": summary(tittle="x")}))
    assert diags[0] == ("content/summaries/q.md:6:1: warning: unknown summary front-matter key "
                        "'tittle' (did you mean 'title'?) [unknown-key]")


def test_approved_needs_reviewers_and_date(make_site):
    _, diags = load(make_site({"content/summaries/q.md": summary(review="{status: approved}")}))
    assert diags == [
        "content/summaries/q.md:5:18: error: an approved summary needs 'review.reviewers' "
        "[approved-incomplete]",
        "content/summaries/q.md:5:18: error: an approved summary needs 'review.reviewed' "
        "[approved-incomplete]",
    ]


def test_next_review_defaults_to_interval(make_site):
    text = summary(review="{status: approved, reviewers: [a-example], reviewed: 2024-02-29}")
    content, diags = load(make_site({"content/summaries/q.md": text}))
    assert diags == []
    assert content.summaries[0].review.next_review == dt.date(2025, 2, 28)


def test_summary_mapping_form(make_site):
    text = summary(summary='{clinician: "C [@smith2018].", patient: "P [@smith2018]."}')
    content, diags = load(make_site({"content/summaries/q.md": text}))
    assert diags == []
    assert content.summaries[0].summary == (("clinician", "C [@smith2018]."),
                                            ("patient", "P [@smith2018]."))


def test_front_matter_must_be_a_mapping(make_site):
    _, diags = load(make_site({"content/summaries/q.md": "---\n- a\n- b\n---\nBody\n"}))
    assert diags == ["content/summaries/q.md:2:1: error: front matter must be a mapping of "
                     "fields (key: value) [front-matter-not-mapping]"]


def test_invalid_file_name(make_site):
    _, diags = load(make_site({"content/summaries/Bad_Name.md": summary()}))
    assert diags == ["content/summaries/Bad_Name.md:1:1: error: file name 'Bad_Name' is not a "
                     "valid slug: use lowercase letters, digits and single hyphens (e.g. "
                     "'cold-sore-treatment') [invalid-slug]"]


def test_drafts_are_left_out_unless_asked(make_site):
    root = make_site({"content/summaries/d.md": summary(draft="true")})
    config, _ = load_config(root)
    assert config is not None
    assert [s.slug for s in load_content(root, config)[0].summaries] == ["q"]
    assert [s.slug for s in load_content(root, config, drafts=True)[0].summaries] == ["d", "q"]


def test_updated_from_git_and_error_outside_git(make_site):
    root = make_site({"content/summaries/q.md": summary(updated=None)})
    _, diags = load(root)
    assert diags == ["content/summaries/q.md:2:1: error: required field 'updated' is missing "
                     "(and the file has no git history to take the date from) [missing-field]"]
    env = {"GIT_AUTHOR_DATE": "2025-03-04T10:00:00Z", "GIT_COMMITTER_DATE": "2025-03-04T10:00:00Z",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)
    content, diags = load(root)
    assert diags == []
    assert content.summaries[0].updated == dt.date(2025, 3, 4)


def test_reserved_page_slug(make_site):
    page = "---\ntitle: B\nupdated: 2026-01-01\n---\n"
    _, diags = load(make_site({"content/pages/board.md": page}))
    assert diags == ["content/pages/board.md:1:1: error: page slug 'board' is used by the site "
                     "itself; rename the file [reserved-slug]"]


def test_board(make_site):
    root = make_site({"content/board.yaml": (
        "- id: a-example\n  name: A\n  credentials: MD\n  role: R\n  disclosures: None\n"
        "- id: a-example\n  name: B\n  credentials: MD\n  role: R\n  disclosures: None\n"
        "- id: c\n  name: C\n  credentials: MD\n  role: R\n  disclosure: none\n")})
    board, diags = load_board(root)
    assert list(board) == ["a-example"]
    assert [d.format() for d in diags] == [
        "content/board.yaml:6:7: error: reviewer id 'a-example' is used twice [duplicate-reviewer]",
        "content/board.yaml:15:3: warning: unknown board key 'disclosure' (did you mean "
        "'disclosures'?) [unknown-key]",
        "content/board.yaml:11:3: error: required field 'disclosures' is missing [missing-field]",
    ]


def test_add_months_clamps():
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2026, 11, 21), 12) == dt.date(2027, 11, 21)
