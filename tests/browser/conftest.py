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
