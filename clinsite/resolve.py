"""Cross-file checks, run once everything is loaded (stage 3 of the pipeline).

Each `check_*` takes loaded models and returns diagnostics: reviewer ids
against the board, `related` slugs, slugs used twice, overdue reviews, the
editorial-policy page, and references nobody cites.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from clinsite.config import SiteConfig
from clinsite.diagnostics import Diagnostic, did_you_mean, error, warning
from clinsite.models import Content, Reviewer
from clinsite.references import ReferenceStore


def check_reviewers(content: Content, board: Mapping[str, Reviewer]) -> list[Diagnostic]:
    """Every reviewer id names a board member; every reviewed page has a reviewer."""
    found: list[Diagnostic] = []
    for doc in content.reviewed():
        for index, ident in enumerate(doc.review.reviewers):
            if ident not in board:
                line, col = doc.front.pos(("review", "reviewers", index))
                found.append(error(doc.path, line, col, "unknown-reviewer",
                                   f"unknown reviewer id '{ident}'{did_you_mean(ident, board)}; "
                                   "reviewers are listed in content/board.yaml"))
        if not doc.review.reviewers:
            line, col = doc.front.key_pos(("review",))
            what = "summary" if doc.section == "summaries" else "drug monograph"
            found.append(warning(doc.path, line, col, "no-reviewer",
                                 f"{what} has no reviewer; add 'review.reviewers'"))
    return found


def check_reviews_due(content: Content, today: dt.date) -> list[Diagnostic]:
    """A summary or monograph whose next review date has passed is overdue."""
    found: list[Diagnostic] = []
    for doc in content.reviewed():
        due = doc.review.next_review
        if due is not None and due < today:
            key = "next_review" if "next_review" in doc.front.data.get("review", {}) else "reviewed"
            line, col = doc.front.pos(("review", key))
            found.append(warning(doc.path, line, col, "review-overdue",
                                 f"review overdue: next review was due {due.isoformat()}"))
    return found


def check_slugs(content: Content) -> list[Diagnostic]:
    """A slug names one document across all sections."""
    seen: dict[str, str] = {}
    found: list[Diagnostic] = []
    for doc in content.all():
        if doc.slug in seen:
            found.append(error(doc.path, 1, 1, "duplicate-slug",
                               f"slug '{doc.slug}' is also used by {seen[doc.slug]}; "
                               "rename one of the files"))
        else:
            seen[doc.slug] = doc.path
    return found


def check_related(content: Content) -> list[Diagnostic]:
    """`related` names existing summaries (or drugs)."""
    targets = {doc.slug for doc in (*content.summaries, *content.drugs)}
    drafts = {path.rsplit("/", 1)[-1].removesuffix(".md") for path in content.drafts}
    found: list[Diagnostic] = []
    for doc in content.summaries:
        for index, slug in enumerate(doc.related):
            if slug not in targets and slug in drafts:
                line, col = doc.front.pos(("related", index))
                found.append(error(doc.path, line, col, "unknown-related",
                                   f"related page '{slug}' is a draft, left out of this build "
                                   "(use --drafts)"))
            elif slug not in targets:
                line, col = doc.front.pos(("related", index))
                found.append(error(doc.path, line, col, "unknown-related",
                                   f"related page '{slug}' does not exist"
                                   f"{did_you_mean(slug, targets)}"))
    return found


def check_policy_page(config: SiteConfig, content: Content,
                      where: tuple[int, int]) -> list[Diagnostic]:
    """site.yaml's editorial_policy names a page in content/pages."""
    slugs = {page.slug for page in content.pages}
    if config.editorial_policy is None or config.editorial_policy in slugs:
        return []
    return [error("site.yaml", where[0], where[1], "unknown-page",
                  f"editorial_policy page '{config.editorial_policy}' does not exist in "
                  f"content/pages{did_you_mean(config.editorial_policy, slugs)}")]


def check_unused_references(store: ReferenceStore, cited: Iterable[str]) -> list[Diagnostic]:
    """A reference in the store that no page cites."""
    used = set(cited)
    found: list[Diagnostic] = []
    keys = store.keys()
    for key in keys:
        if key not in used:
            path, line, col = store.location(key)
            found.append(warning(path, line, col, "unused-reference",
                                 f"reference '{key}' is never cited"))
    return found
