"""Page quality in a real browser: clean console, local-only requests, copy citation, print, dark.

Also writes screenshots of the summary and drug pages (desktop, phone, dark) to the git-ignored
tests/.screenshots/ so anyone can look at them after a run.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import SAMPLE_PAGES, settle
from tests.conftest import REPO

SUMMARY = SAMPLE_PAGES["summary-cold-sore"]
SHOTS = REPO / "tests" / ".screenshots"
VIEWS = {"desktop": ({"width": 1280, "height": 900}, "light"),
         "phone": ({"width": 390, "height": 844}, "light"),
         "dark": ({"width": 1280, "height": 900}, "dark")}


def test_no_console_errors_page_errors_or_foreign_requests(browser, origin: str):
    problems: list[str] = []
    context = browser.new_context()
    context.on("request", lambda r: problems.append(f"request to {r.url}")
               if urlsplit(r.url).hostname not in ("127.0.0.1", None) and
               not r.url.startswith(("data:", "blob:")) else None)
    try:
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} ({page.url})")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e} ({page.url})"))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
        for name, path in SAMPLE_PAGES.items():
            response = page.goto(origin + path)
            assert response is not None
            assert response.status == 200, path  # the 404 page itself, fetched by name
            settle(page, name)
            page.wait_for_load_state("networkidle")  # late fetches (search index, wasm) too
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_copy_citation_button_copies_the_citation(browser, origin: str):
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    try:
        page = context.new_page()
        page.goto(origin + SUMMARY)
        button = page.locator("button.copy-cite")
        assert button.is_visible()
        button.click()
        page.wait_for_function(
            "document.querySelector('[data-copy-status]').textContent.length > 0")
        assert page.text_content("[data-copy-status]") == "Citation copied to the clipboard."
        copied = page.evaluate("navigator.clipboard.readText()")
    finally:
        context.close()
    assert copied.startswith("clinsite sample site. ")
    assert "[Internet]" in copied
    assert "Available from: https://example.org/clinical/" in copied
    assert copied.endswith("/summaries/cold-sore-not-settling-on-valacyclovir/")


def test_print_hides_navigation_and_shows_reference_urls(browser, origin: str):
    page = browser.new_page()
    try:
        page.goto(origin + SUMMARY)
        assert page.locator(".site-header").is_visible()
        page.emulate_media(media="print")
        for selector in (".site-header", ".site-nav", ".site-footer", ".skip-link",
                         ".audience-choice", ".backlinks"):
            assert page.locator(selector).first.is_hidden(), selector
        after = page.eval_on_selector_all(
            '.ref-text a[href^="http"]',
            "els => els.map(a => [a.href, getComputedStyle(a, '::after').content])")
    finally:
        page.close()
    assert after, "the reference list has web links"
    for href, content in after:
        assert href in content, (href, content)  # e.g. ' <https://doi.org/...>'


def body_background(browser, origin: str, scheme: str) -> tuple[int, ...]:
    context = browser.new_context(color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(origin + SUMMARY)
        colour = page.evaluate("getComputedStyle(document.body).backgroundColor")
    finally:
        context.close()
    return tuple(int(float(x)) for x in colour[colour.index("(") + 1:-1].split(",")[:3])


def luminance(rgb: tuple[int, ...]) -> float:
    return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255


def test_dark_mode_applies(browser, origin: str):
    light = body_background(browser, origin, "light")
    dark = body_background(browser, origin, "dark")
    assert light != dark
    assert luminance(light) > 0.8, light
    assert luminance(dark) < 0.2, dark


@pytest.mark.parametrize("name", [n for n in SAMPLE_PAGES if n.startswith(("summary", "drug"))])
def test_screenshots(browser, origin: str, name: str):
    SHOTS.mkdir(exist_ok=True)
    for view, (viewport, scheme) in VIEWS.items():
        context = browser.new_context(viewport=viewport, color_scheme=scheme)
        try:
            page = context.new_page()
            page.goto(origin + SAMPLE_PAGES[name])
            target = SHOTS / f"{name}-{view}.png"
            page.screenshot(path=str(target), full_page=True)
        finally:
            context.close()
        assert target.stat().st_size > 10_000, target
