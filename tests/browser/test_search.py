"""Search works offline in a real browser, under the site's sub-path."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.serving import serve


def results(browser, url: str) -> list[tuple[str, str]]:
    page = browser.new_page()
    try:
        page.goto(url)
        page.wait_for_selector(".pagefind-ui__result-link", timeout=15000)
        return page.eval_on_selector_all(
            ".pagefind-ui__result-link", "els => els.map(e => [e.textContent, e.pathname])")
    finally:
        page.close()


def result_pages(browser, url: str, requested: list[str] | None = None) -> list[str]:
    """The page of each search result, in rank order (one per result, not per sub-result).
    `requested`, if given, receives the path of every request the page made."""
    page = browser.new_page()
    if requested is not None:
        page.on("request", lambda request: requested.append(urlsplit(request.url).path))
    try:
        page.goto(url)
        page.wait_for_selector(".pagefind-ui__result-link", timeout=15000)
        return page.eval_on_selector_all(
            ".pagefind-ui__result",
            "els => els.map(e => e.querySelector('.pagefind-ui__result-link').pathname)")
    finally:
        page.close()


def test_a_word_on_one_page_finds_that_page(browser, built_site: Path):
    with serve(built_site) as origin:
        found = results(browser, origin + "/clinical/search/?q=pyrophosphate")
    pages = {path for _, path in found}
    assert pages == {"/clinical/summaries/cold-sore-not-settling-on-valacyclovir/"}
    assert found[0][0].startswith("My cold sore is not settling on valacyclovir")


def test_header_box_submits_to_the_search_page(browser, built_site: Path):
    with serve(built_site) as origin:
        page = browser.new_page()
        page.goto(origin + "/clinical/drugs/valacyclovir/")
        page.fill("#site-search-q", "bioavailability")
        page.press("#site-search-q", "Enter")
        page.wait_for_selector(".pagefind-ui__result-link", timeout=15000)
        paths = page.eval_on_selector_all(".pagefind-ui__result-link",
                                          "els => els.map(e => e.pathname)")
        page.close()
    assert "/clinical/drugs/valacyclovir/" in paths


@pytest.fixture(scope="module")
def sharded_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample site with its search index in shards (as a large site's is)."""
    from click.testing import CliRunner

    from clinsite import search
    from clinsite.cli import cli
    from tests.conftest import REPO

    out = tmp_path_factory.mktemp("sharded") / "build"
    saved = search.SHARD_PAGES, search.ONE_INDEX_PAGES
    search.SHARD_PAGES, search.ONE_INDEX_PAGES = 1, 0
    try:
        result = CliRunner().invoke(cli, ["build", "--root", str(REPO), "--out", str(out), "-q"],
                                    env={"SOURCE_DATE_EPOCH": "1795219200"})
    finally:
        search.SHARD_PAGES, search.ONE_INDEX_PAGES = saved
    assert result.exit_code == 0, result.output
    www = out.parent / "www"
    shutil.copytree(out, www / "clinical")
    return www


def test_a_sharded_index_searches_every_shard(browser, sharded_site: Path):
    bundles = sorted(p.parent.name for p in
                     (sharded_site / "clinical/pagefind").glob("**/pagefind-entry.json"))
    assert len(bundles) >= 2 and bundles[-1].startswith("shard-")
    requested: list[str] = []
    with serve(sharded_site) as origin:
        one = result_pages(browser, origin + "/clinical/search/?q=pyrophosphate", requested)
        many = result_pages(browser, origin + "/clinical/search/?q=valacyclovir")
    # The page with the word comes first. (A shard without the word answers with
    # Pagefind's longest-prefix fallback, ranked below: docs/citing-and-search.md.)
    assert one[0] == "/clinical/summaries/cold-sore-not-settling-on-valacyclovir/"
    assert one.count(one[0]) == 1
    found = set(many)
    # Pages from more than one shard, each found once.
    assert {"/clinical/drugs/valacyclovir/",
            "/clinical/summaries/cold-sore-not-settling-on-valacyclovir/",
            "/clinical/summaries/cold-sore-patient-guide/"} <= found
    assert len(found) == len(many)
    # Every shard's index is read, on the primary's WebAssembly: the shards have none.
    entries = {"/clinical/pagefind/" + ("" if b == "pagefind" else b + "/") +
               "pagefind-entry.json" for b in bundles}
    assert {p for p in requested if p.endswith("/pagefind-entry.json")} == entries
    assert {p for p in requested if p.endswith(".pagefind")} == {
        "/clinical/pagefind/wasm.en.pagefind"}
