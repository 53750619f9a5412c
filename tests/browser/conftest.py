"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample site built under /clinical/ and laid out as a web root would serve it."""
    from click.testing import CliRunner

    from clinsite.cli import cli
    from tests.conftest import REPO

    out = tmp_path_factory.mktemp("browser") / "build"
    result = CliRunner().invoke(cli, ["build", "--root", str(REPO), "--out", str(out), "-q"],
                                env={"SOURCE_DATE_EPOCH": "1795219200"})
    assert result.exit_code == 0, result.output
    www = out.parent / "www"
    shutil.copytree(out, www / "clinical")
    return www


@pytest.fixture(scope="session")
def origin(built_site: Path) -> Iterator[str]:
    """The built sample site served on 127.0.0.1 for the whole session (base URL, no path)."""
    from tests.serving import serve

    with serve(built_site) as url:
        yield url


# Every page kind of the sample site, served under /clinical/.
SAMPLE_PAGES = {
    "home": "/clinical/",
    "summary-cold-sore": "/clinical/summaries/cold-sore-not-settling-on-valacyclovir/",
    "summary-patient-guide": "/clinical/summaries/cold-sore-patient-guide/",
    "summary-resistance-signs": "/clinical/summaries/resistance-signs-immunocompromised/",
    "drug-valacyclovir": "/clinical/drugs/valacyclovir/",
    "about": "/clinical/about/",
    "editorial-policy": "/clinical/editorial-policy/",
    "board": "/clinical/board/",
    "references": "/clinical/references/",
    "tags": "/clinical/tags/",
    "tag-antivirals": "/clinical/tags/antivirals/",
    "search-query": "/clinical/search/?q=valacyclovir",
    "404": "/clinical/404.html",
}


def settle(page: object, name: str) -> None:
    """Wait until a sample page has finished its client-side work (search results)."""
    if name.startswith("search"):
        page.wait_for_selector(".pagefind-ui__result-link", timeout=15000)
