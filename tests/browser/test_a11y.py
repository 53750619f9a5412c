"""Accessibility in a real browser: axe-core (WCAG 2.2 A/AA) on every sample page, and keyboard use.

axe-core comes from node_modules/ (package.json devDependency, installed for the tests only; it is
injected into the page under test and never shipped in the site).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import SAMPLE_PAGES, settle
from tests.conftest import REPO

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = {"desktop": 1280, "phone": 390}
MODES = ("light", "dark")
SUMMARY = SAMPLE_PAGES["summary-cold-sore"]

# Known violations the theme must fix (clinsite/ is not edited from the tests): (page, width, mode).
# A case listed here is xfail(strict=True): it must fail, so the mark goes once the theme is fixed.
KNOWN: dict[tuple[str, str, str], str] = {}  # (page, width, mode) -> reason: none left


def _cases():
    for name in SAMPLE_PAGES:
        for width in WIDTHS:
            for mode in MODES:
                reason = KNOWN.get((name, width, mode))
                marks = ([pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)]
                         if reason else [])
                yield pytest.param(name, width, mode, marks=marks, id=f"{name}-{width}-{mode}")


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def axe_script() -> Path:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `npm ci --no-audit --no-fund` (.ci/run does)")
    return AXE


@pytest.fixture(scope="module")
def axe_page(browser):
    """One page per (width, mode), reused across sample pages (a new renderer per case is slow)."""
    contexts: dict[tuple[str, str], object] = {}

    def get(width: str, mode: str):
        if (width, mode) not in contexts:
            # bypass_csp: the site's CSP (script-src 'self') rightly refuses the injected axe.
            contexts[width, mode] = browser.new_context(
                viewport={"width": WIDTHS[width], "height": 900}, color_scheme=mode,
                bypass_csp=True)
            contexts[width, mode].new_page()
        return contexts[width, mode].pages[0]

    yield get
    for context in contexts.values():
        context.close()


@pytest.mark.parametrize(("name", "width", "mode"), list(_cases()))
def test_axe_finds_no_wcag_violations(axe_page, origin: str, axe_script: Path,
                                      name: str, width: str, mode: str):
    page = axe_page(width, mode)
    page.goto(origin + SAMPLE_PAGES[name])
    settle(page, name)
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(r => ({violations: r.violations,"
        " rules: [...r.passes, ...r.violations, ...r.incomplete, ...r.inapplicable]"
        ".map(x => x.id)}))", TAGS)
    assert result["rules"], "axe ran no rules"
    assert not result["violations"], (
        f"{name} at {WIDTHS[width]} px, {mode}:\n" + describe(result["violations"]))


def test_axe_rule_count(browser, origin: str, axe_script: Path):
    """How many WCAG 2.x A/AA rules axe-core applies (reported in the test output)."""
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(origin + SUMMARY)
        page.add_script_tag(path=str(axe_script))
        count = page.evaluate("tags => axe.getRules(tags).length", TAGS)
        version = page.evaluate("axe.version")
    finally:
        context.close()
    print(f"\naxe-core {version}: {count} rules tagged {', '.join(TAGS)}")
    assert count > 50


# One step of the tab walk: what has focus, where it is, and how its focus is drawn.
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  if (!e.dataset.tabStop) e.dataset.tabStop = String(Object.keys(window.__stops ||= {}).length);
  window.__stops[e.dataset.tabStop] = true;
  const r = e.getBoundingClientRect(), s = getComputedStyle(e);
  return {stop: e.dataset.tabStop, tag: e.tagName, cls: e.className, type: e.type || '',
          name: e.name || '', href: e.getAttribute('href') || '',
          text: (e.textContent || '').trim().slice(0, 40),
          onscreen: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0
                    && r.top < innerHeight && r.left < innerWidth,
          visible: s.visibility !== 'hidden' && s.display !== 'none' && e.checkVisibility(),
          outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0,
          shadow: s.boxShadow !== 'none'};
}"""

# Every visible control a keyboard user must be able to reach (one stop per radio group).
CONTROLS = """() => [...document.querySelectorAll(
    'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])')]
  .filter(e => !e.disabled && e.checkVisibility({visibilityProperty: true})
               && getComputedStyle(e).visibility !== 'hidden'
               && !(e.type === 'radio' && e.form && e.form.querySelector(
                    `input[type=radio][name="${e.name}"]:checked`) && !e.checked)
               && !(e.type === 'radio' && !e.checked && e !== document.querySelector(
                    `input[type=radio][name="${e.name}"]`))
               && !e.closest('.visually-hidden'))
  .map(e => [e.dataset.tabStop || null, e.tagName,
             e.getAttribute('href') || e.name || e.textContent.trim().slice(0, 30)])"""


def tab_walk(page, limit: int = 400) -> list[dict]:
    """Press Tab from the top of the page until focus leaves the document or comes round again."""
    stops: list[dict] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        step = page.evaluate(FOCUSED)
        if step is None or (stops and step["stop"] == stops[0]["stop"]):
            break
        stops.append(step)
    return stops


def test_tab_order_and_visible_focus_on_a_summary(browser, origin: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(origin + SUMMARY)
        stops = tab_walk(page)
        controls = page.evaluate(CONTROLS)
        unreached = [c for c in controls if c[0] is None]
    finally:
        context.close()
    kinds = [(s["cls"] if s["cls"] in ("skip-link", "brand", "cite-ref", "copy-cite")
              else f"{s['tag'].lower()}:{s['type'] or s['href']}") for s in stops]
    assert kinds[0] == "skip-link"
    assert kinds[1] == "brand"
    header = [s["href"] for s in stops[2:7]]
    assert header == ["../../", "../../board/", "../../references/", "../../tags/",
                      "../../editorial-policy/"], header
    assert stops[7]["tag"] == "INPUT" and stops[7]["name"] == "q"
    assert stops[8]["tag"] == "BUTTON" and stops[8]["text"] == "Search"
    radios = [i for i, s in enumerate(stops) if s["name"] == "audience"]
    assert len(radios) == 1, "the audience radio group is one tab stop"
    cites = [i for i, s in enumerate(stops) if s["cls"] == "cite-ref"]
    assert cites and 8 < radios[0] < cites[0], "search, then the audience choice, then citations"
    assert "copy-cite" in kinds, "the copy-citation button is reachable"
    assert len(controls) > 30 and len(stops) >= len(controls)
    assert not unreached, f"controls never reached with Tab: {unreached}"
    for s in stops:
        assert s["visible"] and s["onscreen"], f"focused but not visible: {s}"
        assert s["outline"] or s["shadow"], f"no visible focus indicator: {s}"


def test_skip_link_and_audience_choice_by_keyboard_alone(browser, origin: str):
    context = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        page = context.new_page()
        page.goto(origin + SUMMARY)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        assert page.locator(".skip-link").is_visible()
        page.keyboard.press("Enter")
        page.wait_for_url("**#main", timeout=5000)  # (the jump lands a moment later)
        assert page.url.endswith("#main")
        # The next Tab continues inside <main>: the header is skipped.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('main') !== null")
        for _ in range(30):  # on to the audience group, with Tab only
            if page.evaluate("document.activeElement.name") == "audience":
                break
            page.keyboard.press("Tab")
        # Tab lands on the checked radio ("Show both" by default); arrows choose and apply.
        assert page.evaluate("document.activeElement.value") == "all"
        page.keyboard.press("ArrowUp")
        assert page.is_checked('input[name="audience"][value="patient"]')
        assert not page.locator(".audience-clinician").first.is_visible()
        assert page.text_content("[data-audience-status]") == "Showing text for patients."
        page.keyboard.press("ArrowLeft")
        assert page.is_checked('input[name="audience"][value="clinician"]')
        assert page.locator(".audience-clinician").first.is_visible()
        assert not page.locator(".audience-patient").first.is_visible()
        page.keyboard.press("ArrowDown")
        assert page.is_checked('input[name="audience"][value="patient"]')
        # Shift+Tab leaves the group and Tab comes back to the checked radio, not the first.
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.value") == "patient"
    finally:
        context.close()
