"""The Markdown stage: one `MarkdownIt` instance; text + `PageEnv` → HTML + problems.

CommonMark with raw HTML escaped, GFM tables, pandoc citations, ``:::`` blocks,
heading ids, safe links only, relative ``.md`` links resolved to page URLs and
checked, and (for summaries and drugs) a warning for each uncited claim.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline.image import image as image_rule
from markdown_it.rules_inline.link import link as link_rule
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin

from clinsite.mdplugins import (
    ENV_KEY,
    PROBLEMS_KEY,
    InlineSpan,
    MarkdownProblem,
    PageEnv,
    SourceLines,
    add_problem,
    iter_inline,
    page_env,
)
from clinsite.mdplugins.citations import citations_plugin
from clinsite.mdplugins.containers import containers_plugin

if TYPE_CHECKING:
    from markdown_it.renderer import RendererProtocol
    from markdown_it.utils import EnvType, OptionsDict

__all__ = [
    "MAX_NESTING",
    "MarkdownProblem",
    "PageEnv",
    "RenderedMarkdown",
    "is_safe_url",
    "make_markdown",
    "render_markdown",
    "render_page_markdown",
    "slugify_heading",
]

# markdown-it's nesting limit (the CommonMark preset's value): blocks nested deeper
# (e.g. 10,000 `>`) are cut off there instead of recursing; ~8 list levels fit.
MAX_NESTING = 20
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})

_CONTROL_OR_SPACE_RE = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u2000-\u200f\u2028\u2029\ufeff]+")
_SCHEME_HEAD_RE = re.compile(r"\A[^:/?#]*")
_URL_SCHEME_RE = re.compile(r"\A(?:[A-Za-z][A-Za-z0-9+.\-]*:|//)")
_SLUG_DROP_RE = re.compile(r"[^\w\s-]")
_SLUG_JOIN_RE = re.compile(r"[\s_-]+")
# Ids the page templates use themselves: citation anchors, and the sections the
# theme adds around the body (a body heading "Dosing" must not take "dosing").
_RESERVED_ID_RE = re.compile(
    r"(?:cite|ref|ref-text)-\d+|main|bottom-line|key-facts|dosing|renal|adverse-effects"
    r"|interactions|monitoring|related|cited-by|history|cite-this-page|references-heading"
    r"|disclaimer-heading"
)
_NEEDLE_CHARS = 40


@dataclass(frozen=True, slots=True)
class RenderedMarkdown:
    """The HTML of one text and the problems found in it (text coordinates)."""

    html: str
    problems: tuple[MarkdownProblem, ...]


class _SafeMarkdownIt(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        return is_safe_url(url)


def is_safe_url(url: str) -> bool:
    """Only ``http:``, ``https:``, ``mailto:`` and relative URLs may reach the HTML.

    Percent-encoding, whitespace and control characters are removed first, as a
    browser would ignore them (``java%09script:``, `` JaVaScRiPt:``).
    """
    cleaned = _CONTROL_OR_SPACE_RE.sub("", unquote(url)).lower()
    head = _SCHEME_HEAD_RE.match(cleaned)
    end = head.end() if head else 0
    if end < len(cleaned) and cleaned[end] == ":":
        return cleaned[:end] in SAFE_SCHEMES
    return True


def slugify_heading(title: str) -> str:
    """A heading id: lower case words joined by ``-``; never empty nor a citation id."""
    slug = _SLUG_JOIN_RE.sub("-", _SLUG_DROP_RE.sub("", title.lower())).strip("-")
    if not slug or _RESERVED_ID_RE.fullmatch(slug):
        slug = f"section-{slug}" if slug else "section"
    return slug


def make_markdown() -> MarkdownIt:
    """Build the MarkdownIt instance of a run (build it once and reuse it for every text)."""
    options = {"html": False, "typographer": False, "maxNesting": MAX_NESTING}
    md = _SafeMarkdownIt("commonmark", options)
    # With "html" off these two rules always decline; left enabled, the block one is
    # still tried (and logs) at every line start and as a paragraph terminator.
    md.disable(["html_block", "html_inline"])
    md.enable("table")
    md.inline.ruler.at("link", _with_offsets(link_rule, "link_open", 0))
    md.inline.ruler.at("image", _with_offsets(image_rule, "image", 1))
    md.use(citations_plugin)
    md.use(containers_plugin)
    md.use(anchors_plugin, min_level=2, max_level=3, slug_func=slugify_heading)
    md.core.ruler.after("citations", "resolve_links", resolve_links)
    md.core.ruler.after("resolve_links", "check_uncited", check_uncited)
    md.add_render_rule("table_open", _render_table_open)
    md.add_render_rule("table_close", _render_table_close)
    return md


def render_markdown(
    md: MarkdownIt, text: str, env: PageEnv, *, inline: bool = False
) -> RenderedMarkdown:
    """Parse and render `text` (`inline`: no paragraph, for front-matter fields)."""
    found: list[MarkdownProblem] = []
    state_env: dict[str, object] = {ENV_KEY: env, PROBLEMS_KEY: found}
    tokens = md.parseInline(text, state_env) if inline else md.parse(text, state_env)
    html = md.renderer.render(tokens, md.options, state_env)
    problems = sorted(found, key=lambda p: (p.line0, p.col0, p.code, p.message))
    return RenderedMarkdown(html, tuple(problems))


render_page_markdown = render_markdown  # the name used in docs/architecture.md


# -- link and image positions -------------------------------------------------

InlineRule = Callable[[StateInline, bool], bool]


def _with_offsets(rule: InlineRule, token_type: str, bang: int) -> InlineRule:
    """Wrap the link/image rule to record where the token and its destination start."""

    def rule_with_offsets(state: StateInline, silent: bool) -> bool:
        start, count = state.pos, len(state.tokens)
        if not rule(state, silent):
            return False
        if not silent:
            for token in state.tokens[count:]:  # pending text may come first
                if token.type == token_type:
                    token.meta["offset"] = start
                    token.meta["dest_offset"] = _destination_offset(state, start + bang, not bang)
                    break
        return True

    return rule_with_offsets


def _destination_offset(state: StateInline, bracket: int, is_link: bool) -> int | None:
    """Offset of the destination of ``[text](dest)``; None for reference links."""
    # Labels are scanned as the link/image rule did; its skipToken cache makes this cheap.
    label_end: int = state.md.helpers.parseLinkLabel(state, bracket, is_link)
    src = state.src
    pos = label_end + 1
    if label_end < 0 or pos >= len(src) or src[pos] != "(":
        return None
    pos += 1
    while pos < len(src) and src[pos] in " \t\n":
        pos += 1
    return pos + 1 if src[pos : pos + 1] == "<" else pos


def _needle(content: str, offset: int) -> str:
    end = content.find("\n", offset)
    return content[offset : min(offset + _NEEDLE_CHARS, len(content) if end < 0 else end)]


def _position(lines: SourceLines, span: InlineSpan, token: Token) -> tuple[int, int]:
    offset = token.meta.get("dest_offset")
    if offset is None:
        offset = token.meta.get("offset", 0)
    return lines.locate(span, offset, _needle(span.token.content, offset))


def resolve_links(state: StateCore) -> None:
    """Core rule: relative ``.md`` links → page URLs (or `broken-link`); no remote images."""
    page = page_env(state.env)
    lines = SourceLines(state.src)
    for span in iter_inline(state.tokens):
        children = span.token.children
        if not children:
            span.token.children = []
            continue
        kept: list[Token] | None = None  # a copy only once a remote image is replaced
        for index, token in enumerate(children):
            if token.type == "link_open":
                _resolve_link(state, page, lines, span, token)
            elif token.type == "image":
                src = str(token.attrGet("src") or "")
                if _URL_SCHEME_RE.match(src):
                    line0, col0 = _position(lines, span, token)
                    message = (
                        f"remote image '{src}' is not allowed: pages load nothing from other hosts"
                    )
                    problem = MarkdownProblem(line0, col0, "error", "remote-image", message)
                    add_problem(state.env, problem)
                    kept = kept if kept is not None else children[:index]
                    kept.extend(_image_as_link(token, src))
                    continue
            if kept is not None:
                kept.append(token)
        if kept is not None:
            span.token.children = kept


def _resolve_link(
    state: StateCore, page: PageEnv, lines: SourceLines, span: InlineSpan, token: Token
) -> None:
    href = str(token.attrGet("href") or "")
    path, hash_mark, fragment = href.partition("#")
    if not path.endswith(".md") or path.startswith("/") or _URL_SCHEME_RE.match(path):
        return
    target = unquote(path)
    url = page.resolve_link(target)
    if url is not None:
        token.attrSet("href", url + hash_mark + fragment)
        return
    line0, col0 = _position(lines, span, token)
    message = f"link target '{target}' does not exist"
    add_problem(state.env, MarkdownProblem(line0, col0, "error", "broken-link", message))


def _image_as_link(image: Token, src: str) -> list[Token]:
    meta = {"from_image": True}  # still an image for the uncited-claim exemption
    link_open = Token("link_open", "a", 1, attrs={"href": src}, meta=dict(meta))
    text = Token("text", "", 0, content=image.content or src, meta=dict(meta))
    return [link_open, text, Token("link_close", "a", -1, meta=dict(meta))]


# -- uncited claims -----------------------------------------------------------

_LISTS = ("bullet_list_open", "ordered_list_open")


@dataclass(slots=True)
class _OpenItem:
    token: Token
    ordered: bool
    first: InlineSpan | None = None
    cited: bool = False
    has_list: bool = False


def _is_cited(inline: Token) -> bool:
    return any(child.type == "citation" for child in inline.children or ())


def _only_images(inline: Token) -> bool:
    return all(
        child.type in ("image", "softbreak") or child.meta.get("from_image")
        or (child.type == "text" and not child.content.strip())
        for child in inline.children or ()
    )


def check_uncited(state: StateCore) -> None:
    """Core rule: warn on each paragraph (outside lists) and bullet without a citation."""
    if not page_env(state.env).check_uncited:
        return
    lines = SourceLines(state.src)
    tokens = state.tokens
    items: list[_OpenItem] = []
    ordered: list[bool] = []
    for index, token in enumerate(tokens):
        if token.type in _LISTS:
            ordered.append(token.type == "ordered_list_open")
            if items:
                items[-1].has_list = True
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            ordered.pop()
        elif token.type == "list_item_open":
            items.append(_OpenItem(token, bool(ordered and ordered[-1])))
        elif token.type == "list_item_close" and items:
            _check_item(state, lines, items.pop())
        elif token.type == "paragraph_open" and index + 1 < len(tokens):
            inline = tokens[index + 1]
            span = InlineSpan(inline, token.map[0] if token.map else 0)
            if items:
                items[-1].first = items[-1].first or span
                items[-1].cited = items[-1].cited or _is_cited(inline)
            elif not _is_cited(inline) and not _exempt(tokens, index, inline):
                _warn(state, lines, span, "paragraph has no citation")


def _exempt(tokens: Sequence[Token], index: int, inline: Token) -> bool:
    """A lead-in (``...:`` right before a list) or a paragraph of images only."""
    after = tokens[index + 3] if index + 3 < len(tokens) else None
    lead_in = inline.content.rstrip().endswith(":") and after is not None and after.type in _LISTS
    return lead_in or _only_images(inline)


def _check_item(state: StateCore, lines: SourceLines, item: _OpenItem) -> None:
    if item.has_list or item.cited or item.first is None:
        return
    what = "list item" if item.ordered else "bullet"
    _warn(state, lines, item.first, f"{what} has no citation")


def _warn(state: StateCore, lines: SourceLines, span: InlineSpan, message: str) -> None:
    line0, col0 = lines.locate(span, 0, _needle(span.token.content, 0))
    add_problem(state.env, MarkdownProblem(line0, col0, "warning", "uncited-claim", message))


# -- tables -------------------------------------------------------------------


def _render_table_open(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    inner: str = self.renderToken(tokens, idx, options, env)  # type: ignore[attr-defined]
    # Focusable and named, so keyboard users can scroll a wide table sideways.
    return '<div class="table-wrap" tabindex="0" role="region" aria-label="Table">\n' + inner


def _render_table_close(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    inner: str = self.renderToken(tokens, idx, options, env)  # type: ignore[attr-defined]
    return inner + "</div>\n"
