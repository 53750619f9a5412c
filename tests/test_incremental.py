"""Incremental builds: after any sequence of edits, the output equals a clean build's."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from clinsite.pipeline import BuildOptions, build
from tests.conftest import BIB, summary

MORE_BIB = BIB + """
@article{doe2020,
  author = {Doe, Jane},
  title = {Another trial},
  journal = {J Other},
  year = {2020},
  volume = {3},
  pages = {1--9},
}
"""


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def page(i: int, cite: str = "smith2018", related: str | None = None) -> str:
    body = f"Claim {i} [@{cite}].\n\n- A bullet [@smith2018; @doe2020].\n"
    extra = {"related": f"[{related}]"} if related else {}
    return summary(body=body, title=f"Question {i}?", **extra)


EDITS = ("edit", "add", "delete", "rename", "reference", "template", "config", "board",
         "related", "tags", "title", "doi", "noop")


def edits(root: Path, rng: random.Random, kinds: tuple[str, ...] = EDITS) -> str:
    """Apply one random edit of `kinds` to the site; return what it was."""
    summaries = sorted((root / "content/summaries").glob("*.md"))
    kind = rng.choice(kinds)
    if kind == "edit" and summaries:
        target = rng.choice(summaries)
        target.write_text(target.read_text() + f"\nMore {rng.random()} [@doe2020].\n")
    elif kind == "add" or not summaries:
        n = rng.randrange(1000)
        (root / f"content/summaries/new-{n}.md").write_text(page(n, cite="doe2020"))
    elif kind == "delete" and len(summaries) > 2:
        victim = rng.choice(summaries)
        victim.unlink()
        for other in (root / "content/summaries").glob("*.md"):  # keep `related` valid
            text = other.read_text().replace(f"related: [{victim.stem}]", "related: []")
            other.write_text(text)
    elif kind == "rename" and summaries:
        source = rng.choice(summaries)
        source.rename(source.with_name(f"renamed-{rng.randrange(1000)}.md"))
        for other in (root / "content/summaries").glob("*.md"):
            other.write_text(other.read_text().replace(f"related: [{source.stem}]",
                                                       "related: []"))
    elif kind == "reference":
        bib = root / "references/refs.bib"
        bib.write_text(bib.read_text().replace("A trial of things",
                                               f"A trial of things {rng.randrange(99)}"))
    elif kind == "doi":  # (shown in api/summaries.json)
        bib = root / "references/refs.bib"
        text = "\n".join(line for line in bib.read_text().split("\n") if "doi =" not in line)
        if rng.random() < 0.7:
            text = text.replace("  pages = {1--9},", "  pages = {1--9},\n  doi = "
                                f"{{10.1000/x{rng.randrange(99)}}},")
        bib.write_text(text)
    elif kind == "template":  # a template of some pages, of a listing, of most, or none
        variant = rng.randrange(4)
        mark = rng.randrange(99)
        if variant == 0:
            (root / "templates/page.html").write_text(
                "{% extends 'base.html' %}{% block main %}<h1>{{ page.title }}</h1>"
                f"{{{{ page.body_html }}}}<!-- {mark} -->{{% endblock %}}\n")
        elif variant == 1:
            _themed(root, "tag.html", "<h1>{{ tag.name }}</h1>",
                    f"<h1>{{{{ tag.name }}}}</h1>{mark}")
        elif variant == 2:
            _themed(root, "_macros.html", '<h2 id="references-heading">References</h2>',
                    f'<h2 id="references-heading">References {mark}</h2>')
        else:
            for override in sorted((root / "templates").glob("*.html"))[:1]:
                override.unlink()
    elif kind == "config":
        config = root / "site.yaml"
        config.write_text(config.read_text().replace("Test Summaries", "Test Summaries!"))
    elif kind == "board":
        board = root / "content/board.yaml"
        board.write_text(board.read_text().replace("Dr Alex Example",
                                                   f"Dr Alex Example {rng.randrange(9)}"))
    elif kind == "tags" and summaries:
        target = rng.choice(summaries)
        tags = rng.sample(["cardiology", "renal", "dosing"], rng.randrange(3))
        text = "\n".join(line for line in target.read_text().split("\n")
                         if not line.startswith("tags:"))
        target.write_text(text.replace("---\n", f"---\ntags: [{', '.join(tags)}]\n", 1))
    elif kind == "title" and summaries:
        target = rng.choice(summaries)
        target.write_text(target.read_text().replace("title: Question",
                                                     f"title: Asked {rng.randrange(9)}", 1))
    elif kind == "related" and len(summaries) > 1:
        a, b = rng.sample(summaries, 2)
        a.write_text(page(rng.randrange(1000), related=b.stem))
    return kind


def _equal_after_random_edits(make_site, tmp_path: Path, seed: int,
                              after: Callable[[Path], object] = lambda root: None) -> list:
    """Eight random edits of a six-page site, each built incrementally (two workers) and
    compared byte for byte with a clean build; `after(root)` of each step, in a list."""
    files = {f"content/summaries/q{i}.md": page(i) for i in range(6)}
    files["references/refs.bib"] = MORE_BIB
    root = make_site(files)
    rng = random.Random(seed)
    assert build(BuildOptions(root=root, jobs=1)).ok
    seen = []
    for step in range(8):
        kind = edits(root, rng)
        incremental = build(BuildOptions(root=root, jobs=2))
        clean = build(BuildOptions(root=root, out=tmp_path / f"clean-{seed}-{step}",
                                   cache=False, jobs=1))
        assert incremental.ok and clean.ok, (kind, incremental.report.sorted())
        assert snapshot(root / "site") == snapshot(tmp_path / f"clean-{seed}-{step}"), kind
        seen.append(after(root))
    return seen


@pytest.mark.parametrize("seed", range(1, 7))
def test_incremental_equals_clean_after_random_edits(make_site, tmp_path: Path, seed: int):
    _equal_after_random_edits(make_site, tmp_path, seed)


@pytest.mark.parametrize("seed", range(1, 4))
def test_incremental_equals_clean_when_every_build_catches_the_spare_up(
        make_site, tmp_path: Path, monkeypatch, seed: int):
    """The same random edits, with the spare brought up to date by the build that changed
    it (from one differing path instead of EAGER_CATCH_UP): each next build starts from an
    exact copy of the live tree."""
    from clinsite import writer as writer_mod
    from clinsite.cache import CACHE_DIR, JOURNAL

    monkeypatch.setattr(writer_mod, "EAGER_CATCH_UP", 1)

    def caught_up(root: Path) -> bool:
        journal = writer_mod.read_journal(root / CACHE_DIR / JOURNAL, root / "site")
        return journal is not None and journal.trees[-1].delta == frozenset()

    caught = _equal_after_random_edits(make_site, tmp_path, seed, caught_up)
    assert caught == [True] * 8  # (without the eager catch-up: none, for these seeds)


def test_a_build_stopped_while_catching_the_spare_up_has_saved_its_cache(
        make_site, monkeypatch):
    """The spare is caught up last, once the manifest is saved: a build stopped then
    (Ctrl-C) is published and leaves the next edit as incremental as ever."""
    from clinsite import parallel
    from clinsite import writer as writer_mod

    monkeypatch.setattr(writer_mod, "EAGER_CATCH_UP", 1)
    root = make_site({f"content/summaries/q{i}.md": page(i) for i in range(5)}
                     | {"references/refs.bib": MORE_BIB})
    for _ in range(2):
        assert build(BuildOptions(root=root, jobs=1)).ok
    config = root / "site.yaml"
    config.write_text(config.read_text().replace("Test Summaries", "Test Summaries!"))
    catch_up = writer_mod._catch_up

    def stopped(top, *args):
        if top.name.endswith(".clinsite-spare"):
            raise KeyboardInterrupt
        return catch_up(top, *args)

    monkeypatch.setattr(writer_mod, "_catch_up", stopped)
    with pytest.raises(KeyboardInterrupt):
        build(BuildOptions(root=root, jobs=1))
    monkeypatch.setattr(writer_mod, "_catch_up", catch_up)
    assert "Test Summaries!" in (root / "site/index.html").read_text()  # published
    rendered: list[int] = []
    run = parallel.run
    monkeypatch.setattr(parallel, "run", lambda shared, docs, *args: (
        rendered.append(len(docs)), run(shared, docs, *args))[1])
    source = root / "content/summaries/q1.md"
    source.write_text(source.read_text() + "\nOne more sentence [@smith2018].\n")
    assert build(BuildOptions(root=root, jobs=1)).ok
    assert rendered == [1]  # the edited page only


@pytest.mark.parametrize("seed", range(1, 4))
def test_incremental_equals_clean_after_random_template_edits(make_site, tmp_path: Path,
                                                              seed: int):
    """Template edits (rebuilding the pages whose records name the template) among edits
    of the pages and of what the listings show."""
    files = {f"content/summaries/q{i}.md": page(i) for i in range(4)}
    files["references/refs.bib"] = MORE_BIB
    root = make_site(files)
    rng = random.Random(seed)
    assert build(BuildOptions(root=root, jobs=1)).ok
    for step in range(8):
        kind = edits(root, rng, ("template", "template", "template", "edit", "tags", "title"))
        incremental = build(BuildOptions(root=root, jobs=1))
        clean = build(BuildOptions(root=root, out=tmp_path / f"clean-{seed}-{step}",
                                   cache=False, jobs=1))
        assert incremental.ok and clean.ok, (kind, incremental.report.sorted())
        assert snapshot(root / "site") == snapshot(tmp_path / f"clean-{seed}-{step}"), kind


def test_unchanged_pages_are_reused_and_edited_ones_rebuilt(make_site):
    files = {f"content/summaries/q{i}.md": page(i) for i in range(4)}
    files["references/refs.bib"] = MORE_BIB
    root = make_site(files)
    assert build(BuildOptions(root=root)).ok
    before = {p: p.stat().st_ino for p in (root / "site").rglob("index.html")}
    target = root / "content/summaries/q2.md"
    target.write_text(target.read_text() + "\nNew paragraph [@smith2018].\n")
    assert build(BuildOptions(root=root)).ok
    after = {p: p.stat().st_ino for p in (root / "site").rglob("index.html")}
    changed = sorted(p.relative_to(root / "site").as_posix() for p in after
                     if before.get(p) != after[p])
    assert "summaries/q2/index.html" in changed
    for i in (0, 1, 3):  # hard-linked from the previous output, not rendered again
        assert f"summaries/q{i}/index.html" not in changed


def test_no_op_build_writes_nothing(make_site):
    root = make_site()
    first = build(BuildOptions(root=root))
    assert first.ok
    page = root / "site/summaries/q/index.html"
    inode, mtime = page.stat().st_ino, page.stat().st_mtime_ns
    again = build(BuildOptions(root=root))
    assert again.ok and again.pages == first.pages == 8
    assert (page.stat().st_ino, page.stat().st_mtime_ns) == (inode, mtime)
    page.unlink()  # a damaged output is rebuilt, not trusted
    assert build(BuildOptions(root=root)).ok
    assert page.is_file()


def test_no_search_builds_no_index_and_no_search_page(make_site, runner):
    from clinsite.cli import cli

    root = make_site()
    assert runner.invoke(cli, ["build", "--root", str(root), "--no-search"]).exit_code == 0
    assert not (root / "site/pagefind").exists()
    assert not (root / "site/search").exists()
    assert 'class="site-search"' not in (root / "site/index.html").read_text()
    assert runner.invoke(cli, ["build", "--root", str(root)]).exit_code == 0
    assert (root / "site/pagefind/pagefind-ui.js").is_file()
    assert 'class="site-search"' in (root / "site/index.html").read_text()


# --- the search index in shards ----------------------------------------------------

def test_shard_count_doubles_with_the_site_and_is_capped(monkeypatch):
    from clinsite import search

    assert (search.ONE_INDEX_PAGES, search.SHARD_PAGES) == (200, 64)
    assert [search.shard_count(n) for n in (0, 1, 200, 201, 256, 257, 1024, 1025, 2000)] == \
        [1, 1, 1, 4, 4, 8, 16, 32, 32]
    assert search.shard_count(1_000_000) == search.MAX_SHARDS == 32


def test_a_page_keeps_its_shard_when_others_come_and_go(monkeypatch):
    from clinsite import search

    monkeypatch.setattr(search, "ONE_INDEX_PAGES", 0)
    monkeypatch.setattr(search, "SHARD_PAGES", 4)
    pages = [f"summaries/q{i}/index.html" for i in range(30)]  # 8 shards either way
    before = {page: i for i, shard in enumerate(search.assign_shards(pages)) for page in shard}
    after = {page: i for i, shard in enumerate(search.assign_shards([*pages[3:], "new/x.html"]))
             for page in shard}
    assert len(set(before.values())) == 8
    assert all(after[page] == before[page] for page in pages[3:])
    assert sorted(p for shard in search.assign_shards(pages) for p in shard) == sorted(pages)


def _four_shard_site(make_site, monkeypatch) -> Path:
    """7 summaries and 1 page, whose search index is in 4 shards (2 pages a shard)."""
    from clinsite import search

    monkeypatch.setattr(search, "ONE_INDEX_PAGES", 0)
    monkeypatch.setattr(search, "SHARD_PAGES", 2)
    files = {f"content/summaries/q{i}.md": page(i) for i in range(7)}
    files["references/refs.bib"] = MORE_BIB
    return make_site(files)


def test_sharded_search_is_reindexed_only_where_pages_changed(make_site, monkeypatch,
                                                              tmp_path: Path):

    root = _four_shard_site(make_site, monkeypatch)
    assert build(BuildOptions(root=root)).ok
    site = root / "site"
    shards = sorted(p.parent.relative_to(site).as_posix()
                    for p in site.glob("pagefind/**/pagefind-entry.json"))
    assert shards == ["pagefind", "pagefind/shard-1", "pagefind/shard-2", "pagefind/shard-3"]
    assert not (site / "pagefind/shard-1/pagefind-ui.js").exists()  # the UI: primary only
    # and the WebAssembly too: a merged index runs on the primary's module
    assert sorted(p.name for p in (site / "pagefind").glob("*.pagefind")) == [
        "wasm.en.pagefind", "wasm.unknown.pagefind"]
    assert not [p for s in shards[1:] for p in (site / s).rglob("*") if "wasm" in p.name]
    search_page = (site / "search/index.html").read_text()
    assert ('data-search-shards="../pagefind/shard-1/ ../pagefind/shard-2/ '
            '../pagefind/shard-3/"') in search_page
    owner = next(s for s in shards if _holds(site / s, "Question 3?"))
    entries = {s: (site / s / "pagefind-entry.json").stat().st_ino for s in shards}
    target = root / "content/summaries/q3.md"
    target.write_text(target.read_text() + "\nAnother claim [@smith2018].\n")
    assert build(BuildOptions(root=root)).ok
    changed = [s for s in shards if (site / s / "pagefind-entry.json").stat().st_ino != entries[s]]
    assert changed == [owner]
    clean = tmp_path / "clean"
    assert build(BuildOptions(root=root, out=clean, cache=False)).ok
    assert snapshot(site) == snapshot(clean)


def test_the_search_working_copies_are_moved_aside_not_deleted(make_site, monkeypatch):
    """The pages' views and each shard's staging folder leave the new tree by a rename into
    the trash (deleted after the build), in a clean build and in an edit build."""
    import clinsite.writer as writer_mod

    trashed: list[list[str]] = []

    def remove(folder: Path, *, large: bool) -> None:
        trashed.append(sorted(p.relative_to(folder).as_posix() for p in folder.glob("*/*")))
        shutil.rmtree(folder)

    monkeypatch.setattr(writer_mod, "_remove", remove)
    root = _four_shard_site(make_site, monkeypatch)
    assert build(BuildOptions(root=root)).ok
    [moved] = trashed
    # (each entry is named by the process and a count; what is inside it tells them apart)
    assert sum(1 for rel in moved if rel.endswith("/summaries")) == 5  # views + 4 shards
    site = root / "site"
    assert not [p for p in site.rglob("*") if p.name.startswith(".clinsite-search")]
    target = root / "content/summaries/q3.md"
    target.write_text(target.read_text() + "\nAnother claim [@smith2018].\n")
    trashed.clear()
    assert build(BuildOptions(root=root)).ok
    [moved] = trashed
    assert sum(1 for rel in moved if rel.endswith("/summaries")) == 2  # views + 1 shard
    assert not [p for p in site.rglob("*") if p.name.startswith(".clinsite-search")]


def _holds(bundle: Path, text: str) -> bool:
    """Whether a Pagefind bundle's fragments contain `text`."""
    import gzip

    return any(text.encode() in gzip.decompress(f.read_bytes())
               for f in (bundle / "fragment").glob("*.pf_fragment"))


def _themed(root: Path, name: str, old: str, new: str) -> None:
    """Override theme template `name` with a copy that has `old` replaced by `new`."""
    from clinsite.render import THEME

    text = (THEME / "templates" / name).read_text()
    assert old in text
    (root / "templates" / name).write_text(text.replace(old, new, 1))


def _rendering(monkeypatch) -> list[str]:
    """The templates Renderer.render is asked for from now on, in order."""
    from clinsite.render import Renderer

    rendered: list[str] = []
    original = Renderer.render

    def counting(self, template, url, **kwargs):
        rendered.append(template)
        return original(self, template, url, **kwargs)

    monkeypatch.setattr(Renderer, "render", counting)
    return rendered


def _inodes(out: Path) -> dict[str, int]:
    return {p.relative_to(out).as_posix(): p.stat().st_ino for p in out.rglob("*.html")}


def test_listings_whose_views_did_not_change_are_not_rendered_again(make_site, monkeypatch):
    files = {f"content/summaries/q{i}.md": page(i) for i in range(3)}
    files["references/refs.bib"] = MORE_BIB
    root = make_site(files)
    assert build(BuildOptions(root=root, jobs=1)).ok
    rendered = _rendering(monkeypatch)
    target = root / "content/summaries/q1.md"
    target.write_text(target.read_text().replace("Claim 1 ", "Claim one "))  # body only
    assert build(BuildOptions(root=root, jobs=1)).ok
    assert rendered == ["summary.html"]  # the page; every listing came from the memo
    rendered.clear()
    target.write_text(target.read_text().replace("Question 1?", "Question one?"))  # its title
    assert build(BuildOptions(root=root, jobs=1)).ok
    # The page, the listings that show its title, and the pages that list it.
    assert "summary.html" in rendered and "home.html" in rendered and "tag.html" not in rendered
    assert "board.html" not in rendered and "404.html" not in rendered


def test_a_template_edit_rebuilds_the_pages_that_used_it_and_no_other(make_site, monkeypatch,
                                                                      tmp_path: Path):
    files = {f"content/summaries/q{i}.md": summary(body=f"Claim {i} [@smith2018].\n",
                                                   title=f"Question {i}?", tags="[renal]")
             for i in range(3)}
    root = make_site(files)
    out = root / "site"
    assert build(BuildOptions(root=root, jobs=1)).ok
    rendered = _rendering(monkeypatch)

    # The plain pages' template: the policy page only (no summary, no listing).
    before = _inodes(out)
    _themed(root, "page.html", '<h1>{{ page.title }}</h1>', '<h1>{{ page.title }}</h1>PAGE-1')
    assert build(BuildOptions(root=root, jobs=1)).ok
    assert rendered == ["page.html"]
    assert "PAGE-1" in (out / "policy/index.html").read_text()
    after = _inodes(out)
    assert [rel for rel in after if rel.startswith("summaries/") and after[rel] != before[rel]
            ] == []

    # A listing's template: the topic page, through the listing memo.
    rendered.clear()
    _themed(root, "tag.html", "<h1>{{ tag.name }}</h1>", "<h1>{{ tag.name }}</h1>TAG-1")
    assert build(BuildOptions(root=root, jobs=1)).ok
    assert rendered == ["tag.html"]
    assert "TAG-1" in (out / "tags/renal/index.html").read_text()

    # The macros: every page that imports them (summaries and plain pages), no listing.
    rendered.clear()
    _themed(root, "_macros.html", '<h2 id="references-heading">References</h2>',
            '<h2 id="references-heading">References</h2>MACRO-1')
    assert build(BuildOptions(root=root, jobs=1)).ok
    assert sorted(rendered) == ["page.html", "summary.html", "summary.html", "summary.html",
                                "summary.html"]
    assert "MACRO-1" in (out / "summaries/q1/index.html").read_text()

    # An override removed: the theme's own template again.
    rendered.clear()
    (root / "templates/page.html").unlink()
    assert build(BuildOptions(root=root, jobs=1)).ok
    assert rendered == ["page.html"]
    assert "PAGE-1" not in (out / "policy/index.html").read_text()

    # The base every template extends: everything.
    rendered.clear()
    _themed(root, "base.html", "</body>", "BASE-1</body>")
    assert build(BuildOptions(root=root, jobs=1)).ok
    assert {"summary.html", "page.html", "home.html", "tags.html", "tag.html",
            "references.html", "board.html", "search.html", "404.html"} <= set(rendered)
    assert rendered.count("summary.html") == 4
    assert build(BuildOptions(root=root, out=tmp_path / "clean", cache=False, jobs=1)).ok
    assert snapshot(out) == snapshot(tmp_path / "clean")


def test_templates_chosen_while_rendering_are_dependencies_too(make_site, monkeypatch,
                                                               tmp_path: Path):
    """A name computed in the template, and every name of an include list (the first
    that exists wins, so creating an earlier one changes the page)."""
    root = make_site()
    _themed(root, "summary.html", "{% block main %}",
            '{% block main %}{% include "extra-" ~ "a.html" %}'
            '{% include ["first.html", "second.html"] %}')
    (root / "templates/extra-a.html").write_text("EXTRA-1")
    (root / "templates/second.html").write_text("SECOND")
    out = root / "site"
    assert build(BuildOptions(root=root, jobs=1)).ok
    page_html = out / "summaries/q/index.html"
    assert "EXTRA-1" in page_html.read_text() and "SECOND" in page_html.read_text()
    from clinsite import cache

    entry = cache.load(root / ".clinsite-cache").pages["content/summaries/q.md"]
    assert entry.record.templates == ("_macros.html", "base.html", "extra-a.html",
                                      "first.html", "second.html", "summary.html")
    rendered = _rendering(monkeypatch)
    (root / "templates/extra-a.html").write_text("EXTRA-2")
    assert build(BuildOptions(root=root, jobs=1)).ok
    assert rendered == ["summary.html"] and "EXTRA-2" in page_html.read_text()
    rendered.clear()
    (root / "templates/first.html").write_text("FIRST")
    assert build(BuildOptions(root=root, jobs=1)).ok
    assert rendered == ["summary.html"]
    assert "FIRST" in page_html.read_text() and "SECOND" not in page_html.read_text()
    assert build(BuildOptions(root=root, out=tmp_path / "clean", cache=False, jobs=1)).ok
    assert snapshot(out) == snapshot(tmp_path / "clean")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_template_imported_by_an_imported_one_is_a_dependency_of_every_page(
        make_site, tmp_path: Path, monkeypatch, jobs: int):
    """Jinja keeps an imported template's module, so the imports of its top level run on
    its first import in a process only: each later page must record them all the same."""
    from clinsite import cache, parallel

    monkeypatch.setattr(parallel, "MIN_PAGES_PER_WORKER", 1)
    files = {f"content/summaries/q{i}.md": summary(title=f"Question {i}?") for i in range(4)}
    files["templates/_lib.html"] = ('{% from "_inner.html" import inner %}'
                                    '{% macro hello() %}{{ inner() }}{% endmacro %}')
    files["templates/_inner.html"] = "{% macro inner() %}INNER-1{% endmacro %}"
    root = make_site(files)
    for name in ("summary.html", "home.html"):
        _themed(root, name, "{% block main %}",
                '{% block main %}{% import "_lib.html" as lib %}{{ lib.hello() }}')
    assert build(BuildOptions(root=root, jobs=jobs)).ok
    manifest = cache.load(root / ".clinsite-cache")
    assert {entry.record.templates for path, entry in manifest.pages.items()
            if "/summaries/" in path} == {("_inner.html", "_lib.html", "_macros.html",
                                           "base.html", "summary.html")}
    assert manifest.listing_templates == ("404.html", "_inner.html", "_lib.html", "base.html",
                                          "board.html", "home.html", "references.html",
                                          "search.html", "tags.html")
    (root / "templates/_inner.html").write_text("{% macro inner() %}INNER-2{% endmacro %}")
    assert build(BuildOptions(root=root, jobs=jobs)).ok
    assert "INNER-2" in (root / "site/summaries/q3/index.html").read_text()
    assert "INNER-2" in (root / "site/index.html").read_text()
    assert build(BuildOptions(root=root, out=tmp_path / "clean", cache=False, jobs=1)).ok
    assert snapshot(root / "site") == snapshot(tmp_path / "clean")


def test_a_template_saved_during_a_build_is_a_change_to_the_next(make_site, tmp_path: Path,
                                                                 monkeypatch):
    """Every template is digested before the first page is rendered, so the manifest never
    takes the digest of a file newer than the one its pages were rendered with."""
    from clinsite import pipeline

    root = make_site({f"content/summaries/q{i}.md": summary(title=f"Question {i}?")
                      for i in range(2)})
    _themed(root, "summary.html", "{% block main %}", "{% block main %}MARK-1")
    real = pipeline._Plan.prepare

    def prepare(self, *args, **kwargs):  # the pages are rendered: the template is saved now
        _themed(root, "summary.html", "{% block main %}", "{% block main %}MARK-2")
        return real(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(pipeline._Plan, "prepare", prepare)
        assert build(BuildOptions(root=root, jobs=1)).ok
    assert "MARK-1" in (root / "site/summaries/q0/index.html").read_text()
    assert build(BuildOptions(root=root, jobs=1)).ok
    assert "MARK-2" in (root / "site/summaries/q0/index.html").read_text()
    assert build(BuildOptions(root=root, out=tmp_path / "clean", cache=False, jobs=1)).ok
    assert snapshot(root / "site") == snapshot(tmp_path / "clean")


def test_an_edit_to_an_asset_alone_is_published(make_site, tmp_path: Path):
    """No page depends on an asset's bytes, but a build that changes one is not one where
    nothing changed."""
    root = make_site({"templates/assets/extra.css": "body{color:red}\n"})
    assert build(BuildOptions(root=root, jobs=1)).ok
    (root / "templates/assets/extra.css").write_text("body{color:blue}\n")
    (root / "templates/assets/clinsite.css").write_text("/* the site's own */\n")
    assert build(BuildOptions(root=root, jobs=1)).ok
    assert (root / "site/assets/extra.css").read_text() == "body{color:blue}\n"
    assert (root / "site/assets/clinsite.css").read_text() == "/* the site's own */\n"
    assert build(BuildOptions(root=root, jobs=1)).ok  # (and stays so: nothing changed)
    assert build(BuildOptions(root=root, out=tmp_path / "clean", cache=False, jobs=1)).ok
    assert snapshot(root / "site") == snapshot(tmp_path / "clean")


def indexed_digest(html: str) -> str:
    from clinsite.search import indexed

    return indexed(html)[1]


def test_the_indexed_digest_skips_what_pagefind_ignores():
    page = ('<main data-pagefind-body><h1>T</h1><p>Body {body}</p>'
            '<section class="references" data-pagefind-ignore><ol><li>{ref}</li>'
            '<li><section>nested</section></li></ol></section>'
            '<div data-pagefind-ignore><span data-pagefind-filter="tag:{tag}"></span></div>'
            '<p>After</p></main>')
    base = indexed_digest(page.format(body="a", ref="Smith J", tag="x"))
    assert indexed_digest(page.format(body="a", ref="Jones K", tag="x")) == base
    assert indexed_digest(page.format(body="b", ref="Smith J", tag="x")) != base
    # An ignored element holding a filter is kept: Pagefind reads filters there too.
    assert indexed_digest(page.format(body="a", ref="Smith J", tag="y")) != base
    # The text after a nested ignored element still counts.
    assert indexed_digest(page.format(body="a", ref="Smith J", tag="x").replace(
        "After", "Later")) != base
    # Not closed: everything is digested.
    broken = '<p>x</p><section data-pagefind-ignore><p>{}</p>'
    assert indexed_digest(broken.format("1")) != indexed_digest(broken.format("2"))


def test_the_indexed_digest_keeps_of_the_head_what_pagefind_reads():
    """Of the head, Pagefind reads the language, the title and its own attributes (a
    `data-pagefind-meta` there, say): the digest follows those and nothing else."""
    page = ('<!doctype html><html lang="{lang}"><head><title>{title}</title>'
            '<meta name="description" content="{description}">{meta}</head>'
            '<body><main data-pagefind-body><h1>T</h1><p>Body</p></main></body></html>')
    values = {"lang": "en", "title": "T", "description": "one", "meta": ""}
    base = indexed_digest(page.format(**values))
    assert indexed_digest(page.format(**(values | {"description": "two"}))) == base
    assert indexed_digest(page.format(**(values | {"title": "U"}))) != base
    assert indexed_digest(page.format(**(values | {"lang": "fr"}))) != base
    with_meta = values | {"meta": '<meta data-pagefind-meta="image:a.png">'}
    assert indexed_digest(page.format(**with_meta)) != base
    assert indexed_digest(page.format(**(with_meta | {"meta": with_meta["meta"].replace(
        "a.png", "b.png")}))) != indexed_digest(page.format(**with_meta))
    assert indexed_digest(page.format(**(with_meta | {"description": "two"}))) == \
        indexed_digest(page.format(**with_meta))


def test_a_reference_edit_reindexes_no_search_shard(make_site, monkeypatch, tmp_path: Path):
    from clinsite import search

    monkeypatch.setattr(search, "ONE_INDEX_PAGES", 0)
    monkeypatch.setattr(search, "SHARD_PAGES", 2)
    files = {f"content/summaries/q{i}.md": page(i) for i in range(7)}
    files["references/refs.bib"] = MORE_BIB
    root = make_site(files)
    assert build(BuildOptions(root=root)).ok
    site = root / "site"
    entries = {p: p.stat().st_ino for p in site.glob("pagefind/**/pagefind-entry.json")}
    before = (site / "summaries/q1/index.html").read_text()
    bib = root / "references/refs.bib"
    bib.write_text(bib.read_text().replace("A trial of things", "A trial of other things"))
    assert build(BuildOptions(root=root)).ok
    assert (site / "summaries/q1/index.html").read_text() != before  # the page changed...
    assert {p: p.stat().st_ino for p in entries} == entries  # ...but not what search sees
    assert build(BuildOptions(root=root, out=tmp_path / "clean", cache=False)).ok
    assert snapshot(site) == snapshot(tmp_path / "clean")


def test_an_image_in_an_ignored_element_still_counts():
    page = '<main><p>x</p><div data-pagefind-ignore><img src="{}.png" alt=""></div></main>'
    assert indexed_digest(page.format("a")) != indexed_digest(page.format("b"))


def test_search_works_without_hard_links(make_site, monkeypatch):
    import os

    def no_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    root = make_site()
    monkeypatch.setattr(os, "link", no_links)
    result = build(BuildOptions(root=root, jobs=1))
    assert result.ok, result.report.sorted()
    assert (root / "site/pagefind/pagefind-entry.json").is_file()


def test_an_edit_build_whose_references_are_formatted_never_imports_pybtex(make_site):
    """pybtex and the Vancouver style are loaded only when an entry must be parsed or
    formatted (a tenth of a second of start-up an edit build does without), and
    multiprocessing only when a pool of workers renders pages."""
    import subprocess
    import sys

    root = make_site()
    assert build(BuildOptions(root=root)).ok
    summary_file = root / "content/summaries/q.md"
    summary_file.write_text(summary_file.read_text() + "\nOne more claim [@smith2018].\n")
    script = ("import sys; from pathlib import Path; from clinsite.pipeline import BuildOptions, "
              "build; ok = build(BuildOptions(root=Path(sys.argv[1]))).ok; print(ok, sorted("
              "m for m in sys.modules if m.startswith(('pybtex', 'latexcodec', "
              "'clinsite.vancouver', 'clinsite.bibscan', 'multiprocessing'))))")
    done = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True,
                          text=True, check=True)
    assert done.stdout.split("\n")[0] == "True []"
    assert "One more claim" in (root / "site/summaries/q/index.html").read_text()


def test_an_edit_rewrites_one_part_of_the_manifest(make_site):
    from clinsite import cache

    files = {f"content/summaries/q{i}.md": page(i) for i in range(40)}
    files["references/refs.bib"] = MORE_BIB
    root = make_site(files)
    assert build(BuildOptions(root=root)).ok
    parts = root / ".clinsite-cache/manifest"
    before = {p.name for p in parts.iterdir()}
    expected = {*(p for p in files if p.endswith(".md")), "content/summaries/q.md",
                "content/pages/policy.md"}
    # One file a part: the pages' parts (by a hash of the path) and the references.
    assert sorted(name.rsplit("-", 1)[0] for name in before) == \
        sorted({cache._part_of(p) for p in expected} | {"references", "citing"})
    first = cache.load(root / cache.CACHE_DIR)
    edited = root / "content/summaries/q7.md"
    edited.write_text(edited.read_text() + "\nMore text.\n")
    assert build(BuildOptions(root=root)).ok
    after = {p.name for p in parts.iterdir()}
    assert len(after - before) == len(before - after) == 1
    assert (after - before).pop().startswith(cache._part_of("content/summaries/q7.md") + "-")
    # A new citing place: the pages citing each reference are rewritten too.
    edited.write_text(edited.read_text() + "\nMore [@doe2020].\n")
    before = after
    assert build(BuildOptions(root=root)).ok
    after = {p.name for p in parts.iterdir()}
    assert len(after - before) == len(before - after) == 2
    assert sorted(name.rsplit("-", 1)[0] for name in after - before) == \
        sorted([cache._part_of("content/summaries/q7.md"), "citing"])
    second = cache.load(root / cache.CACHE_DIR)
    assert set(first.pages) == set(second.pages) == expected
    assert second.pages["content/summaries/q7.md"] != first.pages["content/summaries/q7.md"]
    assert all(second.pages[p] == first.pages[p] for p in expected
               if p != "content/summaries/q7.md")
    assert second.references == first.references and second.references


# --- the manifest describes one output tree --------------------------------------------

CHANGED_TEMPLATE = ("{% extends 'base.html' %}{% block main %}<h1>CHANGED {{ page.title }}</h1>"
                    "{{ page.body_html }}{% endblock %}\n")


def _three_pages(make_site) -> Path:
    return make_site({f"content/summaries/q{i}.md": page(i) for i in range(3)} |
                     {"references/refs.bib": MORE_BIB})


def _built_then_template_changed(root: Path) -> Path:
    """Build, then change the plain pages' template; the template file."""
    assert build(BuildOptions(root=root)).ok
    template = root / "templates/page.html"
    template.write_text(CHANGED_TEMPLATE)
    return template


def _equals_clean(root: Path, out: Path) -> None:
    assert build(BuildOptions(root=root)).ok
    assert build(BuildOptions(root=root, out=out, cache=False)).ok
    assert snapshot(root / "site") == snapshot(out)


def test_a_no_cache_build_in_between_is_not_taken_for_the_cached_one(make_site,
                                                                     tmp_path: Path):
    root = _three_pages(make_site)
    template = _built_then_template_changed(root)
    assert build(BuildOptions(root=root, cache=False)).ok  # the manifest is not rewritten...
    template.unlink()  # ...and the inputs are back as the manifest has them
    _equals_clean(root, tmp_path / "clean")
    assert "CHANGED" not in (root / "site/policy/index.html").read_text()


def test_a_build_killed_before_saving_its_manifest_is_not_trusted(make_site, monkeypatch,
                                                                  tmp_path: Path):
    from clinsite import cache, render

    root = _three_pages(make_site)
    template = _built_then_template_changed(root)
    with monkeypatch.context() as patched:  # "killed" right after the new tree went live
        patched.setattr(cache.Pending, "write", lambda *args: None)
        patched.setattr(render.ListingMemo, "save", lambda self: None)
        assert build(BuildOptions(root=root)).ok
    assert "CHANGED" in (root / "site/policy/index.html").read_text()
    template.unlink()
    _equals_clean(root, tmp_path / "clean")


def test_damaged_cache_files_are_ignored(make_site, tmp_path: Path):
    root = _three_pages(make_site)
    assert build(BuildOptions(root=root)).ok
    cache_dir = root / ".clinsite-cache"
    damaged = [p for p in cache_dir.rglob("*") if p.is_file() and p.name != ".gitignore"]
    assert len(damaged) > 10
    for number, path in enumerate(damaged):
        data = bytearray(path.read_bytes())
        data[len(data) // 2:] = bytes([(number * 37 + 101) % 256]) * (len(data) - len(data) // 2)
        path.write_bytes(bytes(data))  # (a pickle cut off or with a huge length: anything)
    (root / "content/summaries/q1.md").write_text(page(1) + "\nEdited [@doe2020].\n")
    _equals_clean(root, tmp_path / "clean")


def test_files_removed_from_the_output_by_hand_come_back(make_site, tmp_path: Path):
    root = _three_pages(make_site)
    for _ in range(2):  # (the second build has a journal of the first's tree)
        assert build(BuildOptions(root=root)).ok
    site = root / "site"
    removed = ["board/index.html",  # (not at the top: its folder's mtime would tell at once)
               next(p for p in sorted((site / "pagefind").rglob("*")) if p.is_file()
                    ).relative_to(site).as_posix()]
    for rel in removed:
        (site / rel).unlink()
    _equals_clean(root, tmp_path / "clean")
    assert all((site / rel).is_file() for rel in removed)


def test_compiled_templates_are_kept_and_a_changed_or_damaged_one_is_compiled_again(make_site):
    """Jinja's bytecode of each template is kept in .clinsite-cache/templates/ (about 40 ms
    of compiling a build); Jinja checks each file against the template's source, so an
    edited site template takes effect, and a damaged file is compiled again."""
    from clinsite import cache

    root = make_site()
    assert build(BuildOptions(root=root)).ok
    folder = root / cache.CACHE_DIR / cache.TEMPLATES
    kept = sorted(path.name for path in folder.iterdir())
    assert len(kept) >= 4 and all(name.endswith(".cache") for name in kept)
    assert len({name.split("-")[0] for name in kept}) == 1  # one version tag for all
    clean = (root / "site/summaries/q/index.html").read_text()
    from jinja2.bccache import bc_magic

    for path in folder.iterdir():  # Jinja's header, then what no unpickler reads
        path.write_bytes(bc_magic + b"\xff damaged")
    summary_file = root / "content/summaries/q.md"
    summary_file.write_text(summary_file.read_text() + "\nOne more claim [@smith2018].\n")
    assert build(BuildOptions(root=root)).ok
    assert "One more claim" in (root / "site/summaries/q/index.html").read_text()
    theme = Path(__file__).parent.parent / "clinsite/theme/templates/summary.html"
    assert not (root / "templates/summary.html").exists()
    (root / "templates").mkdir(exist_ok=True)
    (root / "templates/summary.html").write_text(
        theme.read_text().replace("{% block main %}", "{% block main %}<!-- site's own -->", 1))
    assert build(BuildOptions(root=root)).ok
    assert "<!-- site's own -->" in (root / "site/summaries/q/index.html").read_text()
    (root / "templates/summary.html").unlink()
    assert build(BuildOptions(root=root)).ok
    assert "<!-- site's own -->" not in (root / "site/summaries/q/index.html").read_text()
    assert "One more claim" in (root / "site/summaries/q/index.html").read_text()
    assert clean != (root / "site/summaries/q/index.html").read_text()


def test_a_build_without_the_cache_keeps_no_compiled_templates(make_site):
    from clinsite import cache

    root = make_site()
    assert build(BuildOptions(root=root, cache=False)).ok
    assert not (root / cache.CACHE_DIR / cache.TEMPLATES).exists()


def test_caches_are_frozen_out_of_the_collector_as_they_load_during_a_build_only(make_site):
    """Unpickled caches go straight to the collector's permanent generation during a
    build (else its first collections walk every loaded object: 0.8 s at N = 10,000),
    and are handed back when the build ends; read outside a build, nothing is frozen."""
    import gc

    from clinsite import cache, persist

    root = make_site()
    assert build(BuildOptions(root=root)).ok
    assert gc.get_freeze_count() == 0  # (the build handed everything back)
    assert cache.load(root / cache.CACHE_DIR).pages
    assert gc.get_freeze_count() == 0
    with persist.frozen_gc():
        frozen = gc.get_freeze_count()
        manifest = cache.load(root / cache.CACHE_DIR)
        assert gc.get_freeze_count() > frozen + len(manifest.pages)
    assert gc.get_freeze_count() == 0


def test_a_build_keeps_what_it_loaded_only_when_asked(make_site):
    from clinsite.models import Content

    root = make_site()
    assert build(BuildOptions(root=root)).kept is None
    summary_file = root / "content/summaries/q.md"
    summary_file.write_text(summary_file.read_text() + "\nMore [@smith2018].\n")
    kept = build(BuildOptions(root=root, keep_loaded=True)).kept
    assert isinstance(kept, tuple) and any(isinstance(item, Content) for item in kept)
    assert build(BuildOptions(root=root, keep_loaded=True)).kept is not None  # (up to date)


def test_a_shard_is_staged_by_submit_itself_and_indexed_in_the_background(tmp_path, monkeypatch):
    """The staging links are made in the submitting thread (in a background thread, each
    system call waited for the interpreter lock while the listings were rendered); only
    Pagefind's run is left to the background, and the staging goes once it is over."""
    import threading

    from clinsite import search

    site = tmp_path / "out"
    pages = [f"summaries/q{i}/index.html" for i in range(3)]
    for rel in pages:
        (site / rel).parent.mkdir(parents=True)
        (site / rel).write_text(f"<main data-pagefind-body>{rel}</main>")
    release, seen = threading.Event(), []

    def index_site(staging, bundle, *, primary=True):
        seen.append((sorted(p.relative_to(staging).as_posix()
                            for p in staging.rglob("*.html")), primary, bundle))
        release.wait(10)
        return None

    staged_by, real_stage = [], search.stage

    def stage(*args):
        staged_by.append(threading.current_thread())
        real_stage(*args)

    monkeypatch.setattr(search, "index_site", index_site)
    monkeypatch.setattr(search, "stage", stage)
    indexer = search.Indexer(site, 2)
    indexer.submit(2, pages)
    staging = site / ".clinsite-search-2"
    assert sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*.html")) == pages
    assert (staging / pages[0]).stat().st_ino == (site / pages[0]).stat().st_ino  # linked
    release.set()
    assert indexer.wait() == []
    assert seen == [(pages, False, site / "pagefind/shard-2")]
    assert staged_by == [threading.current_thread()]
    assert not staging.exists() and indexer.indexed == [2]


def test_a_shard_that_cannot_be_staged_is_a_diagnostic(tmp_path):
    from clinsite import search

    indexer = search.Indexer(tmp_path, 2)
    indexer.submit(0, ["summaries/gone/index.html"])
    problems = indexer.wait()
    assert [(p.path, p.code) for p in problems] == [("site.yaml", "search-index")]
    assert "search indexing failed" in problems[0].message
    assert not (tmp_path / ".clinsite-search-0").exists()


def test_a_cached_document_places_its_diagnostics_as_a_parsed_one(make_site):
    """Documents come from the document cache with their YAML positions packed (one
    marshal string, unpacked when a diagnostic needs them): the cross-file checks still
    point at the exact value, build after build."""
    other = summary(title="Another question?", related="[q, nowhere]",
                    review="{status: under-review, reviewers: [a-example, z-unknown]}")
    root = make_site({"content/summaries/other.md": other})
    first = build(BuildOptions(root=root)).report.sorted()
    wanted = [d.format() for d in first if d.path == "content/summaries/other.md"]
    assert [line.split(";")[0].split(" (")[0] for line in wanted] == [
        "content/summaries/other.md:5:55: error: unknown reviewer id 'z-unknown'",
        "content/summaries/other.md:6:14: error: related page 'nowhere' does not exist"]
    summary_file = root / "content/summaries/q.md"  # (another file changes: no no-op)
    summary_file.write_text(summary_file.read_text() + "\nMore [@smith2018].\n")
    again = build(BuildOptions(root=root)).report.sorted()
    assert [d.format() for d in again if d.path == "content/summaries/other.md"] == wanted


def test_damaged_packed_positions_fall_back_to_the_front_matter_start():
    import pickle

    from clinsite.frontmatter import YamlDoc, parse_yaml

    doc = parse_yaml("x.md", "title: A\ntags: [b, c]\n", 2)
    assert isinstance(doc, YamlDoc) and doc.pos(("tags", 1)) == (3, 11)
    loaded = pickle.loads(pickle.dumps(doc))
    assert loaded == doc and loaded.pos(("tags", 1)) == (3, 11) and loaded.data == doc.data
    damaged = pickle.loads(pickle.dumps(doc))
    damaged._packed = b"\xff not marshal"
    assert damaged.pos(("tags", 1)) == (2, 1) and damaged.keys == {}


def test_a_damaged_compiled_template_that_still_unmarshals_is_compiled_again(make_site):
    """A kept file whose header and checksum are right but whose payload is not code
    (a damaged disk block) is compiled again and rewritten, never a template error."""
    import marshal
    import pickle

    from jinja2.bccache import bc_magic

    from clinsite import cache

    root = make_site()
    assert build(BuildOptions(root=root)).ok
    page = (root / "site/summaries/q/index.html").read_text()
    folder = root / cache.CACHE_DIR / cache.TEMPLATES
    for path in folder.iterdir():
        data = path.read_bytes()
        checksum = pickle.loads(data[len(bc_magic):])  # (pickle stops at its own end)
        path.write_bytes(bc_magic + pickle.dumps(checksum, 2) + marshal.dumps(42))
    summary_file = root / "content/summaries/q.md"
    summary_file.write_text(summary_file.read_text() + "\nOne more claim [@smith2018].\n")
    result = build(BuildOptions(root=root))
    assert result.ok, result.report.sorted()
    again = (root / "site/summaries/q/index.html").read_text()
    assert "One more claim" in again and again.count("<li") == page.count("<li")
    from jinja2.bccache import BytecodeCache

    from clinsite.render import THEME

    key = BytecodeCache().get_cache_key("summary.html", str(THEME / "templates/summary.html"))
    rewritten = [path for path in folder.iterdir() if key in path.name]
    assert len(rewritten) == 1 and not rewritten[0].read_bytes().endswith(marshal.dumps(42))


def test_waiting_on_the_indexer_lets_every_shard_finish_even_when_one_fails(tmp_path,
                                                                             monkeypatch):
    import threading
    import time

    from clinsite import search

    site = tmp_path / "out"
    for i in range(2):
        (site / f"p{i}.html").parent.mkdir(parents=True, exist_ok=True)
        (site / f"p{i}.html").write_text("<main data-pagefind-body>x</main>")
    finished = threading.Event()

    def index_site(staging, bundle, *, primary=True):
        if bundle.name == "shard-1":
            raise EOFError("a damaged gzip file")
        time.sleep(0.3)
        finished.set()
        return None

    monkeypatch.setattr(search, "index_site", index_site)
    indexer = search.Indexer(site, 2)
    indexer.submit(1, ["p0.html"])
    indexer.submit(2, ["p1.html"])
    with pytest.raises(EOFError):
        indexer.wait()
    assert finished.is_set()  # (the other shard was over before the error came out)
    assert indexer.wait() == []
    assert not list(site.glob(".clinsite-search-*"))


def test_dependency_digests_are_made_again_only_where_their_inputs_changed(make_site,
                                                                         monkeypatch):
    """Planning takes a page's dependency digest from the manifest unless the titles it
    shows of other pages, the git history or a reference it cites changed."""
    from clinsite import cache, pipeline

    files = {f"content/summaries/q{i}.md": page(i) for i in range(4)}
    files["content/summaries/q0.md"] = page(0, related="q1")
    files["content/summaries/q2.md"] = page(2, cite="roe2021")
    files["references/refs.bib"] = MORE_BIB + (
        "@article{roe2021,\n  author = {Roe, Ray},\n  title = {A third trial},\n"
        "  journal = {J Third},\n  year = {2021},\n  volume = {4},\n  pages = {2--8},\n}\n")
    root = make_site(files)
    assert build(BuildOptions(root=root)).ok
    planned: list[str] = []
    real_plan, real_deps = pipeline._plan, cache.page_deps
    planning = [False]

    def plan(*args, **kwargs):
        planning[0] = True
        try:
            return real_plan(*args, **kwargs)
        finally:
            planning[0] = False

    def deps(record, *args):
        if planning[0]:
            planned.append(record.path.rsplit("/", 1)[-1])
        return real_deps(record, *args)

    monkeypatch.setattr(pipeline, "_plan", plan)
    monkeypatch.setattr(cache, "page_deps", deps)

    q3 = root / "content/summaries/q3.md"
    q3.write_text(q3.read_text() + "\nMore [@smith2018].\n")
    assert build(BuildOptions(root=root)).ok
    assert planned == []

    bib = root / "references/refs.bib"
    bib.write_text(bib.read_text().replace("A third trial", "A third trial, revised"))
    assert build(BuildOptions(root=root)).ok
    assert planned == ["q2.md"]  # the only page citing roe2021
    assert "A third trial, revised" in (root / "site/summaries/q2/index.html").read_text()

    planned.clear()
    q1 = root / "content/summaries/q1.md"
    q1.write_text(q1.read_text().replace("title: Question 1?", "title: Retitled 1?"))
    assert build(BuildOptions(root=root)).ok
    every = sorted(p.name for p in (root / "content").rglob("*.md"))
    assert every == ["policy.md", "q.md", "q0.md", "q1.md", "q2.md", "q3.md"]
    assert sorted(planned) == every  # a title changed: every page's digest is made again
    assert "Retitled 1?" in (root / "site/summaries/q0/index.html").read_text()

    planned.clear()
    q3.write_text(q3.read_text() + "\nAgain [@smith2018].\n")
    assert build(BuildOptions(root=root)).ok
    assert planned == []


def test_the_citing_index_updated_for_changed_pages_equals_one_made_afresh():
    """listings.citing_index given the previous build's index and the changed paths lists
    the references exactly as it does from nothing, and leaves the others as they were."""
    from types import SimpleNamespace

    from clinsite.compose import CitedReference
    from clinsite.listings import citing_index

    rng = random.Random(11)
    keys = [f"k{i}" for i in range(12)]
    titles = ["Alpha?", "alpha?", "Beta & <b>?", "beta & <b>?", "Gamma?"]

    def make(path: str) -> tuple[SimpleNamespace, SimpleNamespace]:
        cites = rng.sample(keys, rng.randrange(4))
        doc = SimpleNamespace(path=path, title=rng.choice(titles), url=f"s/{path}/")
        refs = tuple(CitedReference(n + 1, key, ("c",) * rng.randrange(1, 4))
                     for n, key in enumerate(cites))
        return doc, SimpleNamespace(references=refs)

    docs, records = {}, {}
    for i in range(8):
        docs[f"p{i}"], records[f"p{i}"] = make(f"p{i}")
    index = citing_index(docs.values(), records)
    for step in range(300):
        changed: set[str] = set()
        for _ in range(rng.randrange(4)):
            action = rng.choice(["edit", "add", "remove", "same"])
            path = rng.choice(sorted(docs)) if docs else "p0"
            if action == "add":
                path = f"p{rng.randrange(30)}"
            if action == "remove":  # (a removed path is not among those given)
                docs.pop(path, None)
                records.pop(path, None)
                changed.discard(path)
            elif action in ("edit", "add"):
                docs[path], records[path] = make(path)
                changed.add(path)
        updated = citing_index(docs.values(), records, index, changed)
        changed.update(index.pages.keys() - docs.keys())
        fresh = citing_index(docs.values(), records)
        assert updated == fresh, step
        untouched = {key for key in index.cited if key in updated.cited and all(
            key not in updated.pages.get(p, ("", ()))[1] and
            key not in index.pages.get(p, ("", ()))[1] for p in changed)}
        assert all(updated.cited[key] is index.cited[key] for key in untouched)
        if updated == index:
            assert updated is index  # nothing to save again
        index = updated
    assert index.cited  # (the site still cites something)


def test_the_citing_index_is_read_only_by_a_build_that_lists_references(make_site,
                                                                      monkeypatch):
    from clinsite import persist

    root = make_site({f"content/summaries/q{i}.md": page(i) for i in range(3)} |
                     {"references/refs.bib": MORE_BIB})
    assert build(BuildOptions(root=root)).ok
    read: list[str] = []
    real = persist.load

    def load(path, **options):
        read.append(path.name.split("-", 1)[0])
        return real(path, **options)

    monkeypatch.setattr(persist, "load", load)
    q1 = root / "content/summaries/q1.md"
    q1.touch()  # (not a no-op to the stamp; nothing any page shows changed)
    assert build(BuildOptions(root=root)).ok
    assert "manifest.pickle" in read and "citing" not in read
    read.clear()
    q1.write_text(q1.read_text() + "\nMore [@doe2020].\n")
    assert build(BuildOptions(root=root)).ok
    assert read.count("citing") == 1
    assert "(2×)" in (root / "site/references/index.html").read_text()


def test_a_related_page_that_moves_keeps_its_title_and_changes_its_link(make_site,
                                                                      tmp_path: Path):
    from tests.test_fuzz import DRUG

    root = make_site({"content/summaries/a.md": page(1, related="valacyclovir"),
                      "content/summaries/valacyclovir.md": summary(title="Valacyclovir"),
                      "references/refs.bib": MORE_BIB})
    assert build(BuildOptions(root=root)).ok
    assert 'href="../../summaries/valacyclovir/"' in \
        (root / "site/summaries/a/index.html").read_text()
    (root / "content/summaries/valacyclovir.md").unlink()
    (root / "content/drugs").mkdir()
    (root / "content/drugs/valacyclovir.md").write_text(DRUG)  # the same title, a new URL
    _equals_clean(root, tmp_path / "clean")
    assert 'href="../../drugs/valacyclovir/"' in \
        (root / "site/summaries/a/index.html").read_text()


def test_a_build_that_fails_after_its_listings_leaves_the_listing_memo_as_it_was(
        make_site, monkeypatch, tmp_path: Path):
    from clinsite import search
    from clinsite.render import THEME

    root = make_site()
    assert build(BuildOptions(root=root)).ok
    base = root / "templates/base.html"
    base.write_text((THEME / "templates/base.html").read_text().replace("</body>",
                                                                  "FAILED</body>"))
    with monkeypatch.context() as patched:  # listings rendered, then the search index fails
        patched.setattr(search, "index_site", lambda *args, **kwargs: search.error(
            "site.yaml", 0, 0, "search-index", "simulated"))
        assert not build(BuildOptions(root=root)).ok
    base.unlink()
    q = root / "content/summaries/q.md"
    q.write_text(q.read_text() + "\nMore.\n")
    _equals_clean(root, tmp_path / "clean")
    assert not [p for p in (root / "site").rglob("*.html") if "FAILED" in p.read_text()]


def test_a_new_manifest_field_comes_with_a_new_cache_format():
    """A head or record pickled before a field was added loads without it: the format
    must change."""
    import dataclasses

    from clinsite import cache
    from clinsite.parallel import PageRecord

    assert (cache._FORMAT, [f.name for f in dataclasses.fields(cache.Manifest)],
            [f.name for f in dataclasses.fields(PageRecord)]) == (17, [
        "site", "out", "pages", "search", "references", "html_pages", "listings",
        "listing_templates", "parts", "tree", "shared", "citing", "version", "format"], [
        "path", "references", "links", "summary", "diagnostics", "outputs", "indexed_digest",
        "templates", "kept"])


def test_pagefind_is_handed_the_pages_without_what_it_ignores(make_site, monkeypatch,
                                                              tmp_path: Path):
    """The index made from the views equals the one made from the pages, byte for byte."""
    from clinsite import search

    staged: dict[str, str] = {}
    real_stage = search.stage

    def spy(site_dir: Path, staging: Path, pages):
        real_stage(site_dir, staging, pages)
        staged.update((rel, (staging / rel).read_text()) for rel in pages)

    monkeypatch.setattr(search, "stage", spy)
    files = {f"content/summaries/q{i}.md": page(i) for i in range(3)}
    files["content/summaries/q2.md"] = summary(  # words in an attribute are not the attribute
        body='Claim [@smith2018]; [zebrafinch](https://example.org/x "data-pagefind-ignore").\n',
        title="Question 2?")
    root = make_site(files | {"references/refs.bib": MORE_BIB})
    assert build(BuildOptions(root=root, jobs=1)).ok
    site = root / "site"
    assert ">zebrafinch</a>" in staged["summaries/q2/index.html"]
    page_html = (site / "summaries/q1/index.html").read_text()
    view = staged["summaries/q1/index.html"]
    assert "data-pagefind-ignore" in page_html and "data-pagefind-ignore" not in view
    assert "Claim 1" in view and len(view) < len(page_html) * 0.9
    assert view == search.indexed(page_html)[0]
    # gone before the commit: not published, not kept in the spare tree (the trash beside
    # the output, which a background rm may be deleting now, is not walked)
    assert not [p for tree in (site, root / ".site.clinsite-spare") for p in tree.rglob("*")
                if p.name == search.VIEWS]

    monkeypatch.setattr(search, "write_view", lambda *args: None)  # the pages themselves
    staged.clear()
    whole = tmp_path / "whole"
    assert build(BuildOptions(root=root, out=whole, cache=False, jobs=1)).ok
    assert staged["summaries/q1/index.html"] == page_html
    index = {rel: data for rel, data in snapshot(site).items() if rel.startswith("pagefind/")}
    assert len(index) > 10
    assert index == {rel: data for rel, data in snapshot(whole).items()
                     if rel.startswith("pagefind/")}


def test_a_shard_is_staged_from_the_views_this_build_wrote_and_else_from_the_pages(tmp_path):
    from clinsite import search

    site = tmp_path / "out"
    for rel, text in {"a/index.html": "page a", "b/index.html": "page b"}.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    search.write_view(site, "a/index.html", "view a")
    search.stage(site, tmp_path / "staging", ["a/index.html", "b/index.html"])
    assert (tmp_path / "staging/a/index.html").read_text() == "view a"
    assert (tmp_path / "staging/b/index.html").read_text() == "page b"
    shutil.rmtree(site / search.VIEWS)
    assert sorted(p.name for p in site.iterdir()) == ["a", "b"]


def test_the_view_keeps_what_pagefind_reads_inside_an_ignored_element():
    from clinsite.search import indexed

    def view(html: str) -> str:
        return indexed(html)[0]

    assert view('<p>a</p><div data-pagefind-ignore><p>refs</p></div><p>b</p>') == \
        '<p>a</p><p>b</p>'
    assert view('<div data-pagefind-ignore="all" class="x">r</div>b') == 'b'
    for kept in ('<a href="x" title="how data-pagefind-ignore works">zebrafinch</a>',
                 "<a title='data-pagefind-ignore'>w</a>",
                 '<a data-pagefind-ignored>w</a>',
                 '<a   href="x"\n  title = \'data-pagefind-ignore\'  >w</a>',
                 '<p>the data-pagefind-ignore attribute</p>',
                 '<div data-pagefind-ignore><h1>Title</h1></div>',  # Pagefind's title
                 '<div data-pagefind-ignore><H1>Title</H1></div>',
                 '<div data-pagefind-ignore><IMG src="a.png" alt="x"></div>',  # its image
                 '<div data-pagefind-ignore><span DATA-PAGEFIND-FILTER="tag:x"></span></div>'):
        assert view(f"<main>{kept}</main>") == f"<main>{kept}</main>", kept


def test_a_view_left_in_the_spare_tree_by_hand_is_never_staged(make_site, tmp_path: Path):
    from clinsite import search

    files = {f"content/summaries/q{i}.md": page(i) for i in range(3)}
    root = make_site(files | {"references/refs.bib": MORE_BIB})
    target = root / "content/summaries/q2.md"
    assert build(BuildOptions(root=root)).ok
    target.write_text(target.read_text() + "\nEdit one [@smith2018].\n")
    assert build(BuildOptions(root=root)).ok
    planted = root / f".site.clinsite-spare/{search.VIEWS}/summaries/q0/index.html"
    planted.parent.mkdir(parents=True)
    planted.write_text('<html lang="en"><head><title>x</title></head><body><main '
                       'data-pagefind-body><h1>Q</h1><p>staleviewword</p></main></body></html>')
    target.write_text(target.read_text() + "\nEdit two [@smith2018].\n")
    assert build(BuildOptions(root=root)).ok
    assert not _holds(root / "site/pagefind", "staleviewword")
    assert build(BuildOptions(root=root, out=tmp_path / "clean", cache=False)).ok
    assert snapshot(root / "site") == snapshot(tmp_path / "clean")


def test_a_rebuild_keeps_the_outputs_that_come_out_the_same(make_site):
    """A page rendered again keeps each file the live output already holds byte for byte
    (a template edit changes a summary's page, not its citation files), and a template
    edit that changes nothing keeps them all: no new file, and the next build that
    recycles the tree has nothing to redo there."""
    from clinsite.writer import read_journal

    files = {f"content/summaries/q{i}.md": page(i) for i in range(3)}
    files["references/refs.bib"] = MORE_BIB
    root = make_site(files)
    out = root / "site"
    assert build(BuildOptions(root=root, jobs=1)).ok
    summaries = sorted(p.relative_to(out).as_posix() for p in (out / "summaries").rglob("*")
                       if p.is_file())
    assert len(summaries) == 16  # index.html, cite.bib, cite.ris, cite.json of q, q0-q2
    before = {rel: (out / rel).stat().st_ino for rel in summaries}
    _themed(root, "summary.html", "{% block main %}", "{% block main %}<!-- CHANGED -->")
    assert build(BuildOptions(root=root, jobs=2)).ok
    changed = sorted(rel for rel in summaries if (out / rel).stat().st_ino != before[rel])
    assert changed == [f"summaries/{name}/index.html" for name in ("q", "q0", "q1", "q2")]
    delta = read_journal(root / ".clinsite-cache/output-trees.pickle", out).trees[-1].delta
    assert sorted(rel for rel in delta if rel.startswith("summaries/")) == changed

    before = {rel: (out / rel).stat().st_ino for rel in summaries}
    _themed(root, "summary.html", "{% block main %}",
            "{% block main %}{# a comment: the same pages #}<!-- CHANGED -->")
    assert build(BuildOptions(root=root, jobs=2)).ok
    assert [rel for rel in summaries if (out / rel).stat().st_ino != before[rel]] == []
    delta = read_journal(root / ".clinsite-cache/output-trees.pickle", out).trees[-1].delta
    assert [rel for rel in delta if rel.startswith("summaries/")] == []
