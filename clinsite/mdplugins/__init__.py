"""Shared state of the markdown-it plugins: the page env, problems, text positions.

markdown-it requires `env` to be a dict; the page's `PageEnv` and the problems of
the current parse live in it under `ENV_KEY` and `PROBLEMS_KEY`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from markdown_it.token import Token

from clinsite.citations import CitationRegistry

ENV_KEY = "clinsite_page"
PROBLEMS_KEY = "clinsite_problems"

ProblemSeverity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class MarkdownProblem:
    """A problem in parsed Markdown, at 0-based text coordinates of the parsed text."""

    line0: int
    col0: int
    severity: ProblemSeverity
    code: str
    message: str


def _no_link(href: str) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class PageEnv:
    """What the Markdown stage needs to know about the page being rendered.

    One `PageEnv` serves every text of a page (the `summary` field, then the body)
    so that citation numbers run across them.
    """

    registry: CitationRegistry
    describe: Callable[[str], str] = str
    resolve_link: Callable[[str], str | None] = _no_link
    check_uncited: bool = False


def page_env(env: MutableMapping[str, Any]) -> PageEnv:
    """The page env of a parse; a bare `md.render(text)` gets one that knows no keys."""
    page = env.get(ENV_KEY)
    if not isinstance(page, PageEnv):
        page = env[ENV_KEY] = PageEnv(CitationRegistry(frozenset()))
    return page


def add_problem(env: MutableMapping[str, Any], problem: MarkdownProblem) -> None:
    """Record a problem of the current parse."""
    env.setdefault(PROBLEMS_KEY, []).append(problem)


def _find_all(text: str, needle: str) -> list[int]:
    found: list[int] = []
    at = text.find(needle)
    while at >= 0:
        found.append(at)
        at = text.find(needle, at + len(needle))
    return found


class SourceLines:
    """Maps offsets in inline tokens' content back to text coordinates of the source.

    Inline content lost its line prefixes (``> ``, list markers, indentation, the
    other cells of a table row). When a content line is the end of its source line
    the column follows directly; otherwise it is that of the same occurrence of a
    needle on the source line (the n-th, counting those before it in the content
    and in earlier cells). Lookups are cached: many problems on one line stay linear.
    """

    def __init__(self, src: str) -> None:
        self._src = src
        self._lines: list[str] | None = None
        self._in_lines: dict[tuple[int, str], list[int]] = {}
        self._in_content: dict[tuple[int, str], list[int]] = {}
        self._in_rows: dict[tuple[int, str], list[int]] = {}

    def __getitem__(self, line0: int) -> str:
        if self._lines is None:
            self._lines = self._src.split("\n")
        return self._lines[line0] if 0 <= line0 < len(self._lines) else ""

    def _hits(self, token: Token, needle: str) -> list[int]:
        key = (id(token), needle)
        if key not in self._in_content:
            self._in_content[key] = _find_all(token.content, needle)
        return self._in_content[key]

    def _row_hits(self, span: InlineSpan, needle: str) -> int:
        """Occurrences of `needle` in the cells before the span's cell."""
        if span.row is None:
            return 0
        counts = self._in_rows.setdefault((id(span.row), needle), [0])
        while len(counts) <= span.cell:
            counts.append(counts[-1] + len(self._hits(span.row[len(counts) - 1], needle)))
        return counts[span.cell]

    def locate(self, span: InlineSpan, offset: int, needle: str) -> tuple[int, int]:
        """Text coordinates of `needle`, which starts at `offset` of the span's content."""
        content = span.token.content
        breaks = self._hits(span.token, "\n")
        line_index = bisect_left(breaks, offset)
        line_start = breaks[line_index - 1] + 1 if line_index else 0
        line_end = breaks[line_index] if line_index < len(breaks) else len(content)
        line0 = span.line0 + line_index
        source = self[line0].rstrip()
        text = content[line_start:line_end].rstrip()
        if span.row is None and text and source.endswith(text):
            return line0, len(source) - len(text) + offset - line_start
        if not needle:
            return line0, offset - line_start
        hits = self._hits(span.token, needle)
        nth = bisect_left(hits, offset) - bisect_left(hits, line_start)
        if line_index == 0:
            nth += self._row_hits(span, needle)
        if (line0, needle) not in self._in_lines:
            self._in_lines[(line0, needle)] = _find_all(self[line0], needle)
        columns = self._in_lines[(line0, needle)]
        return line0, columns[nth] if nth < len(columns) else offset - line_start


@dataclass(frozen=True, slots=True)
class InlineSpan:
    """An inline token with the source line its content starts on.

    In a table, `row` is the row's cells (filled as the walk goes) and `cell` the
    index of this one; `row` is None elsewhere.
    """

    token: Token
    line0: int
    row: Sequence[Token] | None = None
    cell: int = 0


def iter_inline(tokens: Sequence[Token]) -> Iterator[InlineSpan]:
    """Every inline token in document order (paragraphs, headings, table cells, ...)."""
    line0 = 0
    row: list[Token] | None = None
    for token in tokens:
        if token.map is not None:
            line0 = token.map[0]
        if token.type == "tr_open":
            row = []
        elif token.type == "tr_close":
            row = None
        elif token.type == "inline":
            yield InlineSpan(token, line0, row, len(row) if row is not None else 0)
            if row is not None:
                row.append(token)
