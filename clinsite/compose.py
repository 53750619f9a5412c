"""Documents -> rendered bodies with numbered citations (stage 4 of the pipeline).

Runs each page's Markdown (the `summary` field first, then the body, with one
citation registry so numbering runs across both), maps the Markdown stage's
text positions back to file positions, and returns what the templates need:
HTML fragments and the page's ordered reference list with back-links.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple
from urllib.parse import unquote

from markdown_it import MarkdownIt

from clinsite.citations import CitationRegistry
from clinsite.diagnostics import Diagnostic, Severity, did_you_mean, error, warning
from clinsite.markdown import MarkdownProblem, PageEnv, render_markdown
from clinsite.models import Document, Drug, Summary
from clinsite.references import ReferenceStore


class CitedReference(NamedTuple):
    """A reference one page cites. (A named tuple, not a frozen dataclass: the manifest
    holds one for every citing place of the site, 20,000 at N = 2,000, and a tuple is
    made about five times faster when an edit build loads them.)"""

    number: int
    key: str
    backlinks: tuple[str, ...]  # ids of the citation groups that cite it, in page order


@dataclass(frozen=True, slots=True)
class ComposedPage:
    """One document's rendered Markdown parts and its reference list."""

    path: str
    bottom_line: tuple[tuple[str, str], ...]  # (audience or "all", HTML)
    fields: Mapping[str, str]  # front-matter text fields as HTML, e.g. "dosing/0/regimen"
    body_html: str
    references: tuple[CitedReference, ...]
    links: tuple[str, ...]  # source paths of the content files it links to
    diagnostics: tuple[Diagnostic, ...]


@dataclass(frozen=True, slots=True)
class LinkTargets:
    """Where each content source path is published (site-relative URL)."""

    urls: Mapping[str, str]
    drafts: frozenset[str] = frozenset()

    def resolver(self, doc: Document, root_prefix: str,
                 found: list[str]) -> Callable[[str], str | None]:
        """A `resolve_link` for pages of `doc`: relative .md path -> relative URL."""
        folder = posixpath.dirname(doc.path)

        def resolve(href: str) -> str | None:
            target = posixpath.normpath(posixpath.join(folder, unquote(href)))
            url = self.urls.get(target)
            if url is None:
                return None
            found.append(target)
            return root_prefix + url

        return resolve


def root_prefix(url: str) -> str:
    """The relative path from a page at site-relative `url` back to the site root."""
    depth = url.count("/")
    return "../" * depth if depth else "./"


def compose_document(md: MarkdownIt, doc: Document, store: ReferenceStore,
                     targets: LinkTargets) -> ComposedPage:
    """Render one document's Markdown and collect its citations and problems."""
    registry = CitationRegistry(store)
    links: list[str] = []
    env = PageEnv(
        registry=registry,
        describe=lambda key: store.get(key).text,
        resolve_link=targets.resolver(doc, root_prefix(doc.url), links),
        check_uncited=isinstance(doc, (Summary, Drug)),
    )
    diags: list[Diagnostic] = []
    bottom: list[tuple[str, str]] = []
    fields: dict[str, str] = {}
    if isinstance(doc, Summary):
        for audience, text in doc.summary:
            path = ("summary",) if audience == "all" else ("summary", audience)
            rendered = render_markdown(md, text, env)
            bottom.append((audience, rendered.html))
            diags.extend(_in_field(doc, path, text, p) for p in rendered.problems
                         if p.code != "uncited-claim")
    elif isinstance(doc, Drug):
        _FieldComposer(md, doc, env, fields, diags).drug()
    body = render_markdown(md, doc.body, env)
    diags.extend(_in_body(doc, _draft_link(p, doc, targets)) for p in body.problems)
    refs = tuple(CitedReference(registry.number(key), key, tuple(registry.backlinks(key)))
                 for key in registry.order)
    return ComposedPage(doc.path, tuple(bottom), fields, body.html, refs,
                        tuple(sorted(set(links))), tuple(diags))


@dataclass(slots=True)
class _FieldComposer:
    """Renders a monograph's front-matter text fields in page order (so citation
    numbers follow what the reader sees) and warns on clinical fields with no citation."""

    md: MarkdownIt
    doc: Drug
    env: PageEnv
    out: dict[str, str]
    diags: list[Diagnostic]

    def drug(self) -> None:
        doc = self.doc
        if doc.drug_class:
            self.field(("class",), doc.drug_class, required=False)
        if doc.mechanism:
            self.field(("mechanism",), doc.mechanism)
        for index, row in enumerate(doc.dosing):
            before = self._cited()
            self.field(("dosing", index, "indication"), row.indication, required=False)
            self.field(("dosing", index, "regimen"), row.regimen, required=False)
            if row.notes:
                self.field(("dosing", index, "notes"), row.notes, required=False)
            self.cite_keys(index, row.cite)
            if self._cited() == before and not row.cite:  # unknown keys: their own error
                self.uncited(("dosing", index), "dosing row")
        if doc.renal:
            self.field(("renal",), doc.renal, block=True)
        for name in ("adverse_effects", "interactions", "monitoring"):
            for index, text in enumerate(getattr(doc, name)):
                self.field((name, index), text)

    def field(self, path: tuple[str | int, ...], text: str, *, required: bool = True,
              block: bool = False) -> None:
        """Render one text field; `required`: warn when it cites nothing."""
        before = self._cited()
        rendered = render_markdown(self.md, text, self.env, inline=not block)
        self.out["/".join(map(str, path))] = rendered.html
        self.diags.extend(_in_field(self.doc, path, text, p) for p in rendered.problems
                          if p.code != "uncited-claim")
        if required and self._cited() == before:
            self.uncited(path, f"'{path[0]}'")

    def cite_keys(self, index: int, keys: tuple[str, ...]) -> None:
        """A dosing row's `cite: [keys]`, as one citation group after the row."""
        known = []
        for position, key in enumerate(keys):
            if key in self.env.registry.known:
                known.append(key)
                continue
            line, col = self.doc.front.pos(("dosing", index, "cite", position))
            self.diags.append(error(self.doc.path, line, col, "unknown-citation",
                                    f"unknown citation key '{key}'"
                                    f"{did_you_mean(key, self.env.registry.known)}"))
        if known:
            group = "[" + "; ".join(f"@{key}" for key in known) + "]"
            rendered = render_markdown(self.md, group, self.env, inline=True)
            self.out[f"dosing/{index}/cite"] = rendered.html

    def _cited(self) -> int:
        """Citations so far, unknown keys included (they have their own error)."""
        return len(self.env.registry.groups) + len(self.env.registry.unknown)

    def uncited(self, path: tuple[str | int, ...], what: str) -> None:
        line, col = self.doc.front.pos(path)
        self.diags.append(warning(self.doc.path, line, col, "uncited-claim",
                                  f"{what} has no citation"))


def _draft_link(problem: MarkdownProblem, doc: Document, targets: LinkTargets) -> MarkdownProblem:
    """A link to a draft left out of this build says so, rather than "does not exist"."""
    if problem.code != "broken-link" or "'" not in problem.message:
        return problem
    href = problem.message.split("'")[1]
    target = posixpath.normpath(posixpath.join(posixpath.dirname(doc.path),
                                               unquote(href.split("#")[0])))
    if target not in targets.drafts:
        return problem
    return replace(problem, message=f"link target '{href}' is a draft, left out of this build "
                                    "(use --drafts)")


def _diagnostic(doc: Document, line: int, col: int, problem: MarkdownProblem) -> Diagnostic:
    return Diagnostic(doc.path, line, col, Severity(problem.severity), problem.code,
                      problem.message)


def _in_body(doc: Document, problem: MarkdownProblem) -> Diagnostic:
    return _diagnostic(doc, doc.body_line + problem.line0, problem.col0 + 1, problem)


def _in_field(doc: Document, path: tuple[str | int, ...], text: str,
              problem: MarkdownProblem) -> Diagnostic:
    """Find a problem inside a YAML string again in the file (scalars fold lines)."""
    lines = text.split("\n")
    line_text = lines[problem.line0] if problem.line0 < len(lines) else ""
    needle = line_text[problem.col0 : problem.col0 + 24] or line_text
    offset = sum(len(x) + 1 for x in lines[: problem.line0]) + problem.col0
    occurrence = text.count(needle, 0, offset) if needle else 0
    line, col = doc.locate(path, needle, occurrence) if needle else doc.front.pos(path)
    return _diagnostic(doc, line, col, problem)
