"""Shared fixtures: build a throw-away site from a dict of files; run the CLI."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent

SITE_YAML = """\
title: Test Summaries
base_url: https://example.org/clinical/
publisher: Test Publisher
language: en
review:
  interval_months: 12
audiences: {default: clinician}
disclaimer: Not medical advice.
editorial_policy: policy
"""

POLICY = """\
---
title: Editorial policy
updated: 2026-01-01
---
How we work.
"""

BOARD = """\
- id: a-example
  name: Dr Alex Example
  credentials: MD
  role: Reviewer
  affiliation: Example Hospital
  disclosures: None
"""

BIB = """\
@article{smith2018,
  author = {Smith, John and Doe, Anna},
  title = {A trial of things},
  journal = {J Things},
  year = {2018},
  volume = {1},
  number = {2},
  pages = {10--20},
}
"""


def summary(body: str = "Claim [@smith2018].\n", **front: str) -> str:
    """A valid summary file; keyword arguments replace front-matter lines."""
    fields = {
        "title": "Does it work?",
        "summary": "Yes [@smith2018].",
        "updated": "2026-01-01",
        "review": "{status: under-review, reviewers: [a-example]}",
    }
    fields.update(front)
    lines = [f"{k}: {v}" for k, v in fields.items() if v is not None]
    return "---\n" + "\n".join(lines) + "\n---\n" + body


@pytest.fixture
def make_site(tmp_path: Path) -> Callable[..., Path]:
    """`make_site(files={...})` writes a minimal valid site with overrides."""

    def make(files: Mapping[str, str | bytes] | None = None, *, base: bool = True) -> Path:
        root = tmp_path / "site-root"
        defaults: dict[str, str | bytes] = {}
        if base:
            defaults = {
                "site.yaml": SITE_YAML,
                "content/pages/policy.md": POLICY,
                "content/board.yaml": BOARD,
                "content/summaries/q.md": summary(),
                "references/refs.bib": BIB,
            }
        defaults.update(files or {})
        (root / "templates").mkdir(parents=True, exist_ok=True)
        for rel, data in defaults.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, bytes):
                path.write_bytes(data)
            else:
                path.write_text(textwrap.dedent(data) if data.startswith("\n") else data,
                                encoding="utf-8")
        return root

    return make


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """Today is 2026-11-21 in every test unless a test says otherwise."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795219200")  # 2026-11-21T00:00:00Z


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's sample site, built once per test run with --strict (no diagnostics)."""
    import re

    from clinsite.cli import cli

    out = tmp_path_factory.mktemp("sample") / "site"
    result = CliRunner().invoke(cli, ["build", "--root", str(REPO), "--out", str(out),
                                      "--strict"], env={"SOURCE_DATE_EPOCH": "1795219200"})
    assert result.exit_code == 0, result.output
    assert not re.search(r": (warning|error): ", result.output)
    return out


@pytest.fixture
def unpickled(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files clinsite.persist.load unpickles (a load taken from memory is not one)."""
    from clinsite import persist

    paths: list[Path] = []
    real = persist.pickle.load

    def counting(handle, *args, **kwargs):  # type: ignore[no-untyped-def]
        paths.append(Path(handle.name))
        return real(handle, *args, **kwargs)

    monkeypatch.setattr(persist.pickle, "load", counting)
    return paths
