"""`clinsite refs check`: the reference store as the pipeline sees it -> diagnostics.

Loads and composes the site with the pipeline's own steps (so "cited" means exactly
what the build counts as cited, drafts included), then reports every problem of the
store: unused entries, one work entered twice (same DOI or PMID), incomplete entries,
and whatever the loader found (syntax, duplicate keys, invalid identifiers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from clinsite.compose import LinkTargets, compose_document
from clinsite.config import SiteConfig, load_config
from clinsite.content import load_content
from clinsite.diagnostics import Diagnostic, Report, warning
from clinsite.markdown import make_markdown
from clinsite.references import ReferenceStore, load_references
from clinsite.resolve import check_unused_references


@dataclass(frozen=True, slots=True)
class StoreCheck:
    report: Report
    references: int  # entries loaded


def check_store(root: Path) -> StoreCheck:
    """Every problem of the reference store under `root`."""
    report = Report()
    config, problems = load_config(root)
    if config is None:
        report.extend(problems)
        return StoreCheck(report, 0)
    store, problems = load_references(root)
    report.extend(problems)
    report.extend(check_unused_references(store, cited_keys(root, store, config)))
    report.extend(check_duplicate_identifiers(store))
    return StoreCheck(report, len(store))


def cited_keys(root: Path, store: ReferenceStore, config: SiteConfig) -> set[str]:
    """The keys some page (drafts too) cites, found by the pipeline's compose step."""
    content, _ = load_content(root, config, drafts=True)  # content problems: `clinsite check`
    md = make_markdown()
    targets = LinkTargets({doc.path: doc.url for doc in content.all()})
    return {ref.key for doc in content.all()
            for ref in compose_document(md, doc, store, targets).references}


def check_duplicate_identifiers(store: ReferenceStore) -> list[Diagnostic]:
    """An entry whose DOI or PMID an earlier entry (by file, then line) already has."""
    found: list[Diagnostic] = []
    seen: dict[tuple[str, str], str] = {}
    for key in _in_file_order(store, store.keys()):
        reference = store.get(key)
        path, line, col = store.location(key)
        for name, value in (("DOI", (reference.doi or "").lower()), ("PMID", reference.pmid)):
            if not value:
                continue
            first = seen.setdefault((name, value), key)
            if first != key:
                fpath, fline, _ = store.location(first)
                found.append(warning(path, line, col, f"duplicate-{name.lower()}",
                                     f"reference '{key}' has the same {name} as '{first}' "
                                     f"({fpath}:{fline}); keep one entry and cite it"))
    return found


def _in_file_order(store: ReferenceStore, keys: Iterable[str]) -> list[str]:
    return sorted(keys, key=lambda k: store.location(k))
