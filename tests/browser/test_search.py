"""Search works offline in a real browser, under the site's sub-path."""

from __future__ import annotations

from pathlib import Path

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
