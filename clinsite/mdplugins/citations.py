"""Pandoc citations ``[@key]``, ``[@a; @b, p. 12]``: parse, number, render.

Text → ``citation`` tokens (inline rule) → numbered groups in the page's
`CitationRegistry`, with text positions for unknown keys (core rule) → ``<sup>``.
Modelled on `mdit_py_plugins.footnote`.
"""

from __future__ import annotations

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
_SPACE = frozenset(" \t\n")


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


def _is_key_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def scan_key(src: str, pos: int, end: int) -> int:
    """End of the citation key starting at `pos` (== `pos` if there is none)."""
    if pos >= end or not _is_key_char(src[pos]):
        return pos
    pos += 1
    while pos < end:
        ch = src[pos]
        if not _is_key_char(ch):
            nxt = src[pos + 1] if pos + 1 < end else ""
            internal = ch in KEY_PUNCTUATION and nxt != "" and _is_key_char(nxt)
            if not (internal or (ch in ":/" and nxt == "/")):
                break
        pos += 1
    return pos


def _skip_space(src: str, pos: int, end: int) -> int:
    while pos < end and src[pos] in _SPACE:
        pos += 1
    return pos


def parse_citation(src: str, start: int, end: int) -> ParsedCitation | None:
    """Parse the group at ``src[start] == '['``, or None if it is not one."""
    limit = min(end, start + MAX_CITATION_CHARS)
    items: list[CitationItem] = []
    offsets: list[int] = []
    pos = start + 1
    while True:
        if pos >= limit or src[pos] != "@":
            return None
        key_end = scan_key(src, pos + 1, limit)
        if key_end == pos + 1:
            return None
        key = src[pos + 1 : key_end]
        pos = _skip_space(src, key_end, limit)
        locator = None
        if pos < limit and src[pos] == ",":
            loc_start = pos + 1
            while pos < limit and src[pos] not in ";[]":
                pos += 1
            locator = " ".join(src[loc_start:pos].split()) or None
        if pos >= limit or src[pos] not in ";]":
            return None
        items.append(CitationItem(key, locator))
        offsets.append(key_end - len(key))
        if src[pos] == "]":
            return ParsedCitation(tuple(items), tuple(offsets), pos + 1)
        pos = _skip_space(src, pos + 1, limit)


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
    for span in iter_inline(state.tokens):
        children = span.token.children or []
        for index, child in enumerate(children):
            if child.type != "citation":
                continue
            _attach(children, index)
            items: tuple[CitationItem, ...] = child.meta["items"]
            positions = [
                (0, 0)
                if registry.is_known(item.key)
                else _key_position(lines, span, offset, item.key)
                for item, offset in zip(items, child.meta["key_offsets"], strict=True)
            ]
            child.meta["group"] = registry.cite_group(items, positions)
            for item, (line0, col0) in zip(items, positions, strict=True):
                if not registry.is_known(item.key):
                    message = (
                        f"unknown citation key '{item.key}'{did_you_mean(item.key, registry.known)}"
                    )
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
    items: tuple[CitationItem, ...] = tokens[idx].meta["items"]
    keys: dict[int, str] = {}
    cited: list[tuple[int, str | None]] = []
    for item in items:
        if registry.is_cited(item.key):
            keys[registry.number(item.key)] = item.key
            cited.append((registry.number(item.key), item.locator))
    html = ""
    group = tokens[idx].meta.get("group")
    if cited and group:
        runs = _render_runs(layout_group(cited), lambda n: _ref_link(n, page.describe(keys[n])))
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
