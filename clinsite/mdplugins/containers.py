"""``:::`` blocks: audience (clinician, patient), GRADE recommendations, callouts.

Any ``::: name attrs`` line opens a block (one generic `mdit_py_plugins.container`
registration), so that unknown names and bad attributes can be diagnosed with
their text position (core rule) instead of silently becoming paragraphs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin

from clinsite.diagnostics import did_you_mean
from clinsite.mdplugins import MarkdownProblem, SourceLines, add_problem

if TYPE_CHECKING:
    from markdown_it.renderer import RendererProtocol
    from markdown_it.utils import EnvType, OptionsDict

AUDIENCE_LABELS: Mapping[str, str] = {"clinician": "For clinicians", "patient": "For patients"}
CALLOUT_LABELS: Mapping[str, str] = {"pitfall": "Pitfall", "warning": "Warning", "note": "Note"}
STRENGTH_LABELS: Mapping[str, str] = {
    "strong": "Strong recommendation",
    "conditional": "Conditional recommendation",
}
CERTAINTY_LABELS: Mapping[str, str] = {
    "high": "High",
    "moderate": "Moderate",
    "low": "Low",
    "very-low": "Very low",
}
CERTAINTY_LEVELS: Mapping[str, int] = {"high": 4, "moderate": 3, "low": 2, "very-low": 1}
# Allowed attributes of each block, with their allowed values; all are required.
BLOCK_ATTRIBUTES: Mapping[str, Mapping[str, Mapping[str, str]]] = {
    **{name: {} for name in AUDIENCE_LABELS},
    "recommendation": {"strength": STRENGTH_LABELS, "certainty": CERTAINTY_LABELS},
    **{name: {} for name in CALLOUT_LABELS},
}

_CONTAINER = "block"  # token types container_block_open / container_block_close
_CLOSE_RE = re.compile(r"\A[\s>]*(:+)\s*")
_NAME_RE = re.compile(r"\A\s*(\S+)")
# key=value, key="value", key='value'; any other word is group 3 (reported).
_ATTR_RE = re.compile(r"""([^\s="']+)=("[^"]*"|'[^']*'|[^\s"']+)(?!\S)|(\S+)""")


@dataclass(frozen=True, slots=True)
class BlockSpec:
    """A parsed ``:::`` line; `valid` is False for an unknown name or a bad required value."""

    name: str
    attrs: Mapping[str, str]
    valid: bool


def containers_plugin(md: MarkdownIt) -> None:
    """``:::`` blocks; `check_blocks` diagnoses them, the renderer emits div/aside."""
    container_plugin(md, _CONTAINER, validate=_opens_block, render=render_block)
    md.core.ruler.after("block", "check_blocks", check_blocks)


def _opens_block(params: str, markup: str) -> bool:
    return bool(params.strip())


def _allowed(values: Mapping[str, str]) -> str:
    return ", ".join(values)


def parse_block_info(info: str, report: list[tuple[int, str, str]] | None = None) -> BlockSpec:
    """Parse ``name key=value ...``; problems go to `report` as (offset in info, code, message)."""
    problems: list[tuple[int, str, str]] = [] if report is None else report
    bad = "invalid-block-attribute"
    head = _NAME_RE.match(info)
    if head is None:
        return BlockSpec("", {}, False)
    name = head.group(1)
    if name not in BLOCK_ATTRIBUTES:
        hint = did_you_mean(name, BLOCK_ATTRIBUTES)
        problems.append((head.start(1), "unknown-block", f"unknown block '{name}'{hint}"))
        return BlockSpec(name, {}, False)
    allowed = BLOCK_ATTRIBUTES[name]
    attrs: dict[str, str] = {}
    written: set[str] = set()
    for match in _ATTR_RE.finditer(info, head.end()):
        key, raw, bare = match.group(1, 2, 3)
        at = match.start(3) if bare else match.start(1)
        if not allowed:
            problems.append((at, bad, f"block '{name}' takes no attributes"))
            break
        spec = ", ".join(f"{k}={'|'.join(v)}" for k, v in allowed.items())
        if bare:
            problems.append(
                (at, bad, f"invalid attribute '{bare}' for block '{name}': write {spec}")
            )
            continue
        if key not in allowed:
            hint = did_you_mean(key, allowed)
            problems.append(
                (at, bad, f"unknown attribute '{key}' for block '{name}'{hint}; allowed: {spec}")
            )
            continue
        if key in written:
            problems.append((at, bad, f"duplicate attribute '{key}' for block '{name}'"))
            continue
        written.add(key)
        value = raw[1:-1] if raw[:1] in ("'", '"') else raw
        if value not in allowed[key]:
            hint = did_you_mean(value, allowed[key])
            problems.append(
                (
                    match.start(2),
                    bad,
                    f"invalid {key} '{value}' for block '{name}'{hint};"
                    f" allowed: {_allowed(allowed[key])}",
                )
            )
            continue
        attrs[key] = value
    for key, values in allowed.items():
        if key not in written:
            problems.append(
                (
                    head.start(1),
                    bad,
                    f"block '{name}' requires {key}=... (allowed: {_allowed(values)})",
                )
            )
    return BlockSpec(name, attrs, all(key in attrs for key in allowed))


def check_blocks(state: StateCore) -> None:
    """Core rule: parse each ``:::`` line, report problems, give both tags the spec."""
    lines = SourceLines(state.src)
    stack: list[Token] = []
    for token in state.tokens:
        if token.type == f"container_{_CONTAINER}_close" and stack:
            token.meta = stack.pop().meta
        elif token.type == f"container_{_CONTAINER}_open":
            _check_block(state, lines, token, stack[-1] if stack else None)
            stack.append(token)


def _check_block(state: StateCore, lines: SourceLines, token: Token, parent: Token | None) -> None:
    found: list[tuple[int, str, str]] = []
    spec = parse_block_info(token.info, found)
    token.meta = {"block": spec}
    start, end = token.map if token.map else (0, 0)
    marker = max(lines[start].find(token.markup), 0)
    # The line after the body closes the block, unless it is the parent's closing line
    # (a block can't reach past its parent's end) or not a long enough marker line.
    closer = _CLOSE_RE.fullmatch(lines[end])
    shares_end = parent is not None and parent.map is not None and parent.map[1] == end
    if closer is None or len(closer.group(1)) < len(token.markup) or shares_end:
        message = f"block '{spec.name}' is never closed (end it with a '{token.markup}' line)"
        found.append((-len(token.markup), "unclosed-block", message))
    for offset, code, message in found:
        column = marker + len(token.markup) + offset
        add_problem(state.env, MarkdownProblem(start, column, "error", code, message))


def _open_html(spec: BlockSpec) -> str:
    name = escapeHtml(spec.name)
    if not spec.valid:
        return '<div class="block-invalid">\n'
    if spec.name in AUDIENCE_LABELS:
        return (
            f'<div class="audience audience-{name}" data-audience="{name}">'
            f'<p class="audience-label">{AUDIENCE_LABELS[spec.name]}</p>\n'
        )
    if spec.name in CALLOUT_LABELS:
        return (
            f'<aside class="callout callout-{name}">'
            f'<p class="callout-label">{CALLOUT_LABELS[spec.name]}</p>\n'
        )
    strength, certainty = spec.attrs["strength"], spec.attrs["certainty"]
    strength_label = STRENGTH_LABELS[strength]
    certainty_label = CERTAINTY_LABELS[certainty]
    aria = f"{strength_label}, {certainty_label.lower()} certainty evidence"
    level = CERTAINTY_LEVELS[certainty]
    scale = "⊕" * level + "◯" * (len(CERTAINTY_LEVELS) - level)  # GRADE's own notation
    return (
        f'<aside class="rec rec-{strength}" data-strength="{strength}"'
        f' data-certainty="{certainty}" aria-label="{aria}">'
        f'<p class="rec-head"><span class="rec-strength">{strength_label}</span>'
        f' <span class="rec-certainty"><span class="rec-scale" aria-hidden="true">{scale}</span>'
        f" {certainty_label} certainty of evidence</span></p>\n"
    )


def render_block(
    self: RendererProtocol,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    """Opening and closing HTML of a ``:::`` block."""
    token = tokens[idx]
    spec = token.meta.get("block") or BlockSpec("", {}, False)
    if token.nesting == 1:
        return _open_html(spec)
    if spec.valid and spec.name not in AUDIENCE_LABELS:
        return "</aside>\n"
    return "</div>\n"
