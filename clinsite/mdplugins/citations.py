"""Pandoc citations ``[@key]``, ``[@a; @b, p. 12]``: parse, number, render.

Text → ``citation`` tokens (inline rule) → numbered groups in the page's
`CitationRegistry`, with text positions for unknown keys (core rule) → ``<sup>``.
Modelled on `mdit_py_plugins.footnote`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline.link import link as link_rule
from markdown_it.token import Token

from clinsite.citations import RANGE_DASH, CitationItem, Run, layout_group
from clinsite.diagnostics import did_you_mean
from clinsite.mdplugins import (
    InlineSpan,
    MarkdownProblem,
    SourceLines,
    add_problem,
    iter_inline,
    page_env,
)

if TYPE_CHECKING:
    from markdown_it.renderer import RendererProtocol
    from markdown_it.utils import EnvType, OptionsDict

# Longest text scanned for one citation group, from `[` to `]`.
MAX_CITATION_CHARS = 2000
# Pandoc: punctuation allowed inside a key when followed by a key character.
KEY_PUNCTUATION = frozenset(":.#$%&-+?<>~/")
# A key: key characters (`\w` is exactly `str.isalnum()` or `_`), where a punctuation
# character may stand between two of them, and `:` or `/` before a `/` (``http://``).
# Possessive and unambiguous (a `/` takes the first branch only before a key character,
# the second only before a `/`): one pass, no backtracking.
_KEY = (r"\w++(?:[" + re.escape("".join(sorted(KEY_PUNCTUATION))) + r"]\w++|[:/](?=/))*+")
# One item of a group, from its `@` to the `]` that ends the group or past the `;` (and
# the spaces) before the next item: key, spaces, optional `, locator`.
_ITEM_RE = re.compile(r"@(" + _KEY + r")[ \t\n]*+(?:,([^;\[\]]*+))?+(?:(\])|;[ \t\n]*+)")
_KEY_RE = re.compile(_KEY)


@dataclass(frozen=True, slots=True)
class ParsedCitation:
    """A citation group in an inline source: its items, key offsets and end."""

    items: tuple[CitationItem, ...]
    key_offsets: tuple[int, ...]
    end: int


def citations_plugin(md: MarkdownIt) -> None:
    """Parse ``[@key]`` groups, number them in the page registry, render ``<sup>``."""
    md.inline.ruler.before("link", "citation", citation_rule)
    md.core.ruler.after("inline", "citations", number_citations)
    md.add_render_rule("citation", render_citation)


def scan_key(src: str, pos: int, end: int) -> int:
    """End of the citation key starting at `pos` (== `pos` if there is none)."""
    found = _KEY_RE.match(src, pos, end)
    return found.end() if found else pos


def parse_citation(src: str, start: int, end: int) -> ParsedCitation | None:
    """Parse the group at ``src[start] == '['``, or None if it is not one."""
    limit = min(end, start + MAX_CITATION_CHARS)
    items: list[CitationItem] = []
    offsets: list[int] = []
    pos = start + 1
    while True:
        found = _ITEM_RE.match(src, pos, limit)
        if found is None:
            return None
        locator = found.group(2)
        if locator is not None:
            locator = " ".join(locator.split()) or None
        items.append(CitationItem(found.group(1), locator))
        offsets.append(found.start(1))
        if found.group(3):
            return ParsedCitation(tuple(items), tuple(offsets), found.end())
        pos = found.end()


def _is_link(state: StateInline) -> bool:
    """Whether the link rule matches here (``[@key](url)`` is a link, not a citation)."""
    pos, pos_max = state.pos, state.posMax
    try:
        return link_rule(state, True)
    finally:
        state.pos, state.posMax = pos, pos_max


def citation_rule(state: StateInline, silent: bool) -> bool:
    """Inline rule: ``[@key; @key2, p. 3]`` → a ``citation`` token."""
    start = state.pos
    src = state.src
    if start + 3 >= state.posMax or src[start] != "[" or src[start + 1] != "@":
        return False
    if state.linkLevel > 0:  # no citation inside a link's text
        return False
    parsed = parse_citation(src, start, state.posMax)
    if parsed is None:
        return False
    follows = src[parsed.end : parsed.end + 1]
    if (follows in ("(", "[") or state.env.get("references")) and _is_link(state):
        return False
    if not silent:
        token = state.push("citation", "", 0)
        token.content = src[start : parsed.end]
        token.meta = {
            "items": parsed.items,
            "offset": start,
            "key_offsets": parsed.key_offsets,
            "group": None,
        }
    state.pos = parsed.end
    return True


def number_citations(state: StateCore) -> None:
    """Core rule: register every group in document order; report unknown keys."""
    registry = page_env(state.env).registry
    lines = SourceLines(state.src)
    hints: dict[str, str] = {}  # one "did you mean" search per unknown key, not per citation
    for span in iter_inline(state.tokens):
        children = span.token.children or []
        for index, child in enumerate(children):
            if child.type != "citation":
                continue
            _attach(children, index)
            items: tuple[CitationItem, ...] = child.meta["items"]
            if all(registry.is_known(item.key) for item in items):  # no position needed
                child.meta["group"] = registry.cite_group(items)
                continue
            positions = [
                (0, 0)
                if registry.is_known(item.key)
                else _key_position(lines, span, offset, item.key)
                for item, offset in zip(items, child.meta["key_offsets"], strict=True)
            ]
            child.meta["group"] = registry.cite_group(items, positions)
            for item, (line0, col0) in zip(items, positions, strict=True):
                if not registry.is_known(item.key):
                    if item.key not in hints:
                        hints[item.key] = did_you_mean(item.key, registry.known)
                    message = f"unknown citation key '{item.key}'{hints[item.key]}"
                    add_problem(
                        state.env,
                        MarkdownProblem(line0, col0, "error", "unknown-citation", message),
                    )


def _attach(children: Sequence[Token], index: int) -> None:
    """Drop the space (or line break) before a citation: a superscript number
    sits right after its word (``isolates¹``), as in NLM and journal style."""
    j = index - 1
    while j >= 0 and children[j].type in ("text", "softbreak"):
        token = children[j]
        if token.type == "softbreak":
            token.type, token.content = "text", ""
        else:
            token.content = token.content.rstrip(" \t")
            if token.content:
                return
        j -= 1


def _key_position(lines: SourceLines, span: InlineSpan, offset: int, key: str) -> tuple[int, int]:
    """Text coordinates of the key itself (the character after ``@``)."""
    line0, col0 = lines.locate(span, offset - 1, "@" + key)
    return line0, col0 + 1


def render_citation(
    self: RendererProtocol,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    """``<sup class="cite" id="cite-N">`` with one link per visible number."""
    page = page_env(env)
    registry = page.registry
    meta = tokens[idx].meta
    items: tuple[CitationItem, ...] = meta["items"]
    html = ""
    group = meta.get("group")
    if group:  # at least one known key, so at least one number
        keys: dict[int, str] = {}
        cited: list[tuple[int, str | None]] = []
        for item in items:
            if registry.is_cited(item.key):
                number = registry.number(item.key)
                keys[number] = item.key
                cited.append((number, item.locator))
        if cited:
            runs = _render_runs(layout_group(cited),
                                lambda n: _ref_link(n, page.describe(keys[n])))
            html = f'<sup class="cite" id="{escapeHtml(group)}">{runs}</sup>'
    for item in items:
        if not registry.is_known(item.key):
            html += f'<sup class="cite cite-unknown">[?{escapeHtml(item.key)}]</sup>'
    return html


def _ref_link(number: int, description: str) -> str:
    return (
        f'<a class="cite-ref" href="#ref-{number}" title="{escapeHtml(description)}"'
        f' aria-describedby="ref-text-{number}">{number}</a>'
    )


def _render_runs(runs: Sequence[Run], link: Callable[[int], str]) -> str:
    """``1–3,5`` with each visible number linked; ``; `` next to a located number."""
    parts: list[str] = []
    for i, run in enumerate(runs):
        if i:
            parts.append("; " if run.locator or runs[i - 1].locator else ",")
        parts.append(link(run.first))
        if run.last != run.first:
            parts.append(RANGE_DASH + link(run.last))
        if run.locator:
            parts.append(f'<span class="cite-loc">, {escapeHtml(run.locator)}</span>')
    return "".join(parts)
