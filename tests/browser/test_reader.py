"""Reader features in a real browser: audience choice, citation previews, layout."""

from __future__ import annotations

from pathlib import Path

from tests.serving import serve

COLD = "/clinical/summaries/cold-sore-not-settling-on-valacyclovir/"
SIGNS = "/clinical/summaries/resistance-signs-immunocompromised/"


def visible(page, selector: str) -> list[bool]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.offsetParent !== null)")


def test_audience_choice_applies_and_persists(browser, built_site: Path):
    with serve(built_site) as origin:
        context = browser.new_context()
        page = context.new_page()
        page.goto(origin + COLD)
        assert page.is_visible("form.audience-choice")
        assert all(visible(page, ".audience-clinician")) and all(visible(page, ".audience-patient"))
        page.check('input[name="audience"][value="patient"]')
        assert not any(visible(page, ".audience-clinician"))
        assert all(visible(page, ".audience-patient"))
        assert page.text_content("[data-audience-status]") == "Showing text for patients."
        page.goto(origin + SIGNS)  # another page: the choice is remembered
        assert page.is_checked('input[name="audience"][value="patient"]')
        page.goto(origin + COLD)
        page.reload()
        assert not any(visible(page, ".audience-clinician"))
        page.keyboard.press("Tab")  # a real form control: operable from the keyboard
        page.focus('input[name="audience"][value="patient"]')
        page.keyboard.press("ArrowRight")
        assert page.is_checked('input[name="audience"][value="all"]')
        assert all(visible(page, ".audience-clinician"))
        context.close()


def test_without_javascript_every_block_is_shown_and_labelled(browser, built_site: Path):
    with serve(built_site) as origin:
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(origin + COLD)
        assert not page.is_visible("form.audience-choice")
        assert all(visible(page, ".audience-clinician")) and all(visible(page, ".audience-patient"))
        labels = page.eval_on_selector_all(".audience .audience-label",
                                           "els => els.map(e => e.textContent)")
        assert set(labels) == {"For clinicians", "For patients"}
        context.close()


def test_citation_preview_on_hover_and_focus_closes_with_escape(browser, built_site: Path):
    with serve(built_site) as origin:
        page = browser.new_page()
        page.goto(origin + COLD)
        first = page.locator("a.cite-ref").first
        first.hover()
        popover = page.locator("#cite-popover")
        popover.wait_for(state="visible")
        assert "Bacon TH" in popover.text_content()
        popover.hover()  # hoverable: moving onto it keeps it open
        page.wait_for_timeout(500)
        assert popover.is_visible()
        page.keyboard.press("Escape")
        assert popover.is_hidden()
        page.mouse.move(0, 0)
        page.locator("a.cite-ref").nth(1).focus()
        popover.wait_for(state="visible")
        assert "GlaxoSmithKline" in popover.text_content()
        page.keyboard.press("Escape")
        assert popover.is_hidden()
        assert first.get_attribute("aria-describedby") == "ref-text-1"
        page.close()


def test_citation_link_and_back_link(browser, built_site: Path):
    with serve(built_site) as origin:
        page = browser.new_page()
        page.goto(origin + COLD)
        page.click("#cite-16 a.cite-ref >> nth=0")
        assert page.url.endswith("#ref-2")
        back = page.locator('#ref-2 .backlinks a[href="#cite-16"]')
        back.click()
        assert page.url.endswith("#cite-16")
        page.close()


def test_no_horizontal_scroll_on_phones(browser, built_site: Path):
    with serve(built_site) as origin:
        for width in (360, 390):
            page = browser.new_page(viewport={"width": width, "height": 800})
            for path in (COLD, SIGNS, "/clinical/drugs/valacyclovir/", "/clinical/"):
                page.goto(origin + path)
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth")
                assert overflow <= 0, (width, path, overflow)
            page.close()
