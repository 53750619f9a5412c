"""`clinsite new`: slugs, skeleton files that pass `check`, and no overwriting."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from clinsite.cli import cli
from clinsite.scaffold import slugify

EDITOR_TODO = {"no-reviewer", "uncited-claim"}  # the warnings a fresh skeleton may raise


@pytest.mark.parametrize(("title", "slug"), [
    ("Is valacyclovir 1 g twice daily right for a cold sore?",
     "is-valacyclovir-1-g-twice-daily-right-for-a-cold-sore"),
    ("Zoë's Ärztliche Übersicht: Straße & Œdème", "zoe-s-arztliche-ubersicht-strasse-oedeme"),
    ("  --Already--hyphenated--  ", "already-hyphenated"),
    ("HIV PrEP (2024 update)", "hiv-prep-2024-update"),
    ("Acyclovir", "acyclovir"),
])
def test_slugify(title: str, slug: str):
    assert slugify(title) == slug
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug)


def test_slugify_bounds_the_length_at_a_word_end():
    slug = slugify("Which clinical signs suggest acyclovir or valacyclovir resistance, especially "
                   "in immunocompromised patients?")
    assert slug == "which-clinical-signs-suggest-acyclovir-or-valacyclovir"
    assert len(slug) <= 60
    assert slugify("x" * 80) == "x" * 60


def front_matter(path: Path) -> dict[str, object]:
    text = path.read_text(encoding="utf-8")
    front = text.split("---\n")[1]
    data = yaml.safe_load(front)
    assert isinstance(data, dict)
    return data


def new(runner: CliRunner, root: Path, *args: str):
    return runner.invoke(cli, ["new", *args[:1], "--root", str(root), *args[1:]])


def check_codes(runner: CliRunner, root: Path) -> set[str]:
    """The diagnostic codes `clinsite check` reports; the check must pass."""
    result = runner.invoke(cli, ["check", "--root", str(root)])
    assert result.exit_code == 0, result.output
    return set(re.findall(r": (?:warning|error): .* \[([a-z-]+)\]$", result.output, re.M))


def test_new_summary_writes_a_skeleton_that_passes_check(make_site: Callable[..., Path],
                                                          runner: CliRunner):
    root = make_site()
    result = new(runner, root, "summary", "Does valacyclovir shorten a cold sore?")
    assert result.exit_code == 0, result.output
    path = root / "content/summaries/does-valacyclovir-shorten-a-cold-sore.md"
    assert result.output.strip() == str(path)
    data = front_matter(path)
    assert data["title"] == "Does valacyclovir shorten a cold sore?"
    assert data["updated"] == dt.date(2026, 11, 21)  # SOURCE_DATE_EPOCH of the test session
    assert data["review"] == {"status": "submitted", "reviewers": []}
    text = path.read_text(encoding="utf-8")
    assert re.search(r"^#.*\[@[a-z0-9]+\]", text, re.M)  # a commented example citation
    assert check_codes(runner, root) <= EDITOR_TODO
    assert "no-reviewer" in check_codes(runner, root)


def test_new_drug_has_every_monograph_key_and_passes_check(make_site: Callable[..., Path],
                                                          runner: CliRunner):
    root = make_site()
    result = new(runner, root, "drug", "Acyclovir")
    assert result.exit_code == 0, result.output
    path = root / "content/drugs/acyclovir.md"
    data = front_matter(path)
    assert list(data) == ["title", "brands", "class", "mechanism", "routes", "dosing", "renal",
                          "adverse_effects", "interactions", "monitoring", "updated", "review"]
    assert data["title"] == "Acyclovir"
    assert data["dosing"] == [{"indication": "Indication",
                               "regimen": "Dose, route, frequency and duration",
                               "notes": "Timing, adjustments or cautions (optional).",
                               "cite": []}]
    assert data["review"] == {"status": "submitted", "reviewers": []}
    assert "cite: [" in path.read_text(encoding="utf-8").split("title:")[0]
    codes = check_codes(runner, root)
    assert codes <= EDITOR_TODO
    assert codes == EDITOR_TODO  # every clinical field still asks for a citation


def test_new_page_passes_check_without_warnings(make_site: Callable[..., Path],
                                                runner: CliRunner):
    root = make_site()
    result = new(runner, root, "page", "About this site")
    assert result.exit_code == 0, result.output
    data = front_matter(root / "content/pages/about-this-site.md")
    assert data == {"title": "About this site", "updated": dt.date(2026, 11, 21)}
    assert check_codes(runner, root) == set()


def test_titles_are_quoted_safely(make_site: Callable[..., Path], runner: CliRunner):
    root = make_site()
    title = 'Is "high-dose" therapy #1: yes/no? \\ {x}'
    assert new(runner, root, "summary", title).exit_code == 0
    data = front_matter(root / "content/summaries/is-high-dose-therapy-1-yes-no-x.md")
    assert data["title"] == title
    assert check_codes(runner, root) <= EDITOR_TODO


def test_new_refuses_to_overwrite(make_site: Callable[..., Path], runner: CliRunner):
    root = make_site()
    assert new(runner, root, "page", "Contact").exit_code == 0
    path = root / "content/pages/contact.md"
    path.write_text("edited\n", encoding="utf-8")
    result = new(runner, root, "page", "Contact")
    assert result.exit_code == 1
    assert result.output == ("Error: content/pages/contact.md already exists; refusing to "
                             "overwrite it (edit it, or choose a different title)\n")
    assert path.read_text(encoding="utf-8") == "edited\n"


def test_new_refuses_a_slug_another_section_uses(make_site: Callable[..., Path],
                                                 runner: CliRunner):
    root = make_site()  # has content/summaries/q.md
    result = new(runner, root, "drug", "Q")
    assert result.exit_code == 1
    assert "content/summaries/q.md already uses that slug" in result.output
    assert not (root / "content/drugs/q.md").exists()


@pytest.mark.parametrize(("kind", "title", "message"), [
    ("summary", "???", "cannot make a file name from '???'"),
    ("page", "   ", "the title is empty"),
    ("page", "Board", "'board' is a URL the site itself uses"),
])
def test_unusable_titles_are_usage_errors(make_site: Callable[..., Path], runner: CliRunner,
                                          kind: str, title: str, message: str):
    root = make_site()
    result = new(runner, root, kind, title)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_new_needs_a_site_root(tmp_path: Path, runner: CliRunner):
    result = new(runner, tmp_path, "page", "About")
    assert result.exit_code == 2
    assert "has no site.yaml" in result.output


def test_today_comes_from_source_date_epoch(make_site: Callable[..., Path], runner: CliRunner,
                                            monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14
    root = make_site()
    assert new(runner, root, "page", "Dated").exit_code == 0
    assert front_matter(root / "content/pages/dated.md")["updated"] == dt.date(2023, 11, 14)
