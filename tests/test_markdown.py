"""The Markdown stage: fixture files (title / input / expected HTML), exact problem
positions, uncited claims, safety and speed guards (clinsite.markdown, clinsite.mdplugins)."""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.utils import read_fixture_file

import clinsite.citations
import clinsite.markdown
import clinsite.mdplugins
import clinsite.mdplugins.citations
import clinsite.mdplugins.containers
from clinsite.citations import CitationRegistry
from clinsite.markdown import (
    MarkdownProblem,
    PageEnv,
    RenderedMarkdown,
    is_safe_url,
    make_markdown,
    render_markdown,
    render_page_markdown,
    slugify_heading,
)

FIXTURES = Path(__file__).parent / "fixtures" / "markdown"
KEYS = frozenset(
    {
        "a",
        "b",
        "c",
        "d",
        "e",
        "quote",
        "smith2018",
        "doi:10.1000/xyz",
        "smith2018.a",
        "_under",
        "2019who",
        "http://example.org/x",
        "müller2020",
        *(f"k{i}" for i in range(1, 10)),
    }
)
DESCRIPTIONS = {"quote": 'Smith J. "Quoted" <title> & more. 2018.'}
TARGETS = {"../drugs/valacyclovir.md": "../../drugs/valacyclovir/"}


def make_env(*, check_uncited: bool = False) -> PageEnv:
    return PageEnv(
        registry=CitationRegistry(KEYS),
        describe=lambda key: DESCRIPTIONS.get(key, f"Reference {key}."),
        resolve_link=TARGETS.get,
        check_uncited=check_uncited,
    )


@pytest.fixture(scope="module")
def md() -> MarkdownIt:
    return make_markdown()


def render(md: MarkdownIt, text: str, *, check_uncited: bool = False) -> RenderedMarkdown:
    return render_markdown(md, text, make_env(check_uncited=check_uncited))


def where(md: MarkdownIt, text: str, **kwargs: bool) -> list[tuple[int, int, str]]:
    return [(p.line0, p.col0, p.code) for p in render(md, text, **kwargs).problems]


# -- fixture files ------------------------------------------------------------


def fixture_cases() -> list[object]:
    cases: list[object] = []
    for path in sorted(FIXTURES.glob("*.md")):
        for line, title, text, expected in read_fixture_file(path):
            cases.append(pytest.param(text, expected, id=f"{path.stem}:{line + 1}:{title}"))
    return cases


@pytest.mark.parametrize(("text", "expected"), fixture_cases())
def test_fixture(md: MarkdownIt, text: str, expected: str) -> None:
    assert render(md, text).html == expected


def test_every_fixture_file_is_read() -> None:
    names = {path.stem for path in FIXTURES.glob("*.md")}
    assert {"citations", "containers", "links", "html"} <= names
    assert len(fixture_cases()) > 60


# -- citation positions -------------------------------------------------------


def assert_points_at_keys(text: str, problems: tuple[MarkdownProblem, ...]) -> None:
    lines = text.split("\n")
    for problem in problems:
        if problem.code == "unknown-citation":
            key = problem.message.split("'")[1]
            line = lines[problem.line0]
            assert line[problem.col0 - 1 : problem.col0 + len(key)] == "@" + key, problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Intro line.\n\nAciclovir works [@a; @smith2019] and\nagain [@smith2019].\n",
            [(2, 22), (3, 8)],
            id="paragraph, two lines",
        ),
        pytest.param(
            "`[@zz]` then [@zz] and [@zz]",
            [(0, 15), (0, 25)],
            id="same key twice on a line, after a code span",
        ),
        pytest.param(
            "- top [@a]\n  - nested [@zz]\n    1. deeper [@a; @zz]\n",
            [(1, 13), (2, 20)],
            id="nested list items",
        ),
        pytest.param("-\tItem [@zz]\n", [(0, 9)], id="tab after the list marker"),
        pytest.param(
            "> quoted [@zz]\n> > deeper\n> > text [@zz]\n\n> first\nlazy [@zz]\n",
            [(0, 11), (2, 11), (5, 7)],
            id="blockquotes, nested and lazy",
        ),
        pytest.param(
            "| [@zz] | h |\n|---|---|\n| [@zz] | x [@zz] [@zz] |\n",
            [(0, 4), (2, 4), (2, 14), (2, 20)],
            id="table cells, same key in several cells",
        ),
        pytest.param(
            "::: note\nInside [@zz].\n:::\n\n"
            ":::: clinician\n::: warning\n- item [@zz]\n:::\n::::\n",
            [(1, 9), (6, 9)],
            id="container bodies, nested",
        ),
        pytest.param("::: clinician\n> - a [@zz]\n:::\n", [(1, 8)], id="list in quote in block"),
        pytest.param("## Title [@zz]\n\nTitle [@zz]\n=====\n", [(0, 11), (2, 8)], id="headings"),
        pytest.param("Text [@a;\n  @zz].\n", [(1, 3)], id="group across lines"),
        pytest.param("  Indented [@zz] start\n", [(0, 13)], id="indented paragraph"),
    ],
)
def test_unknown_citation_positions(
    md: MarkdownIt, text: str, expected: list[tuple[int, int]]
) -> None:
    result = render(md, text)
    assert [(p.line0, p.col0) for p in result.problems] == expected
    assert {p.code for p in result.problems} == {"unknown-citation"}
    assert_points_at_keys(text, result.problems)


def test_unknown_citation_message(md: MarkdownIt) -> None:
    (problem,) = render(md, "Claim [@smith2019].").problems
    assert problem == MarkdownProblem(
        0,
        8,
        "error",
        "unknown-citation",
        "unknown citation key 'smith2019' (did you mean 'smith2018'?)",
    )


def test_inline_mode_positions_and_no_paragraph(md: MarkdownIt) -> None:
    result = render_markdown(md, "Yes, [@zz] helps.\nline two [@zz]", make_env(), inline=True)
    assert [(p.line0, p.col0) for p in result.problems] == [(0, 7), (1, 11)]
    assert not result.html.startswith("<p>")


# -- numbering across the summary and the body ---------------------------------


def test_numbering_continues_from_summary_to_body(md: MarkdownIt) -> None:
    env = make_env()
    summary = render_markdown(md, "Bottom line [@b].", env, inline=True)
    body = render_markdown(md, "[@a] and [@b; @c].\n\n[@c; @a; @b]\n", env)
    assert 'id="cite-1"' in summary.html and 'href="#ref-1"' in summary.html
    assert env.registry.order == ("b", "a", "c")
    assert [g.id for g in env.registry.groups] == ["cite-1", "cite-2", "cite-3", "cite-4"]
    assert env.registry.backlinks("a") == ["cite-2", "cite-4"]
    assert env.registry.backlinks("b") == ["cite-1", "cite-3", "cite-4"]
    # [@b; @c] → 1,3; [@c; @a; @b] → 1–3
    assert '>1</a>,<a class="cite-ref" href="#ref-3"' in body.html
    assert '>1</a>–<a class="cite-ref" href="#ref-3"' in body.html


def test_each_render_uses_only_its_own_env(md: MarkdownIt) -> None:
    first = render(md, "[@b] [@a]")
    second = render(md, "[@b] [@a]")
    assert first == second
    assert render_page_markdown is render_markdown


# -- links ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "target"),
    [
        pytest.param("[x](../drugs/nothing.md)", [(0, 4)], "../drugs/nothing.md", id="plain"),
        pytest.param("- see [x](gone.md#part)", [(0, 10)], "gone.md", id="list, fragment"),
        pytest.param("> [x](<gone.md>)", [(0, 7)], "gone.md", id="quote, angle brackets"),
        pytest.param("[x][r]\n\n[r]: gone.md", [(0, 0)], "gone.md", id="reference link"),
        pytest.param("[a\nb](gone.md)", [(1, 3)], "gone.md", id="text across lines"),
        pytest.param("| a |\n|---|\n| [x](gone.md) |", [(2, 6)], "gone.md", id="table cell"),
        pytest.param("[x](gone.md) [y](gone.md)", [(0, 4), (0, 17)], "gone.md", id="twice"),
        pytest.param("[x](my%20file.md)", [(0, 4)], "my file.md", id="percent-decoded"),
    ],
)
def test_broken_link_positions(
    md: MarkdownIt, text: str, expected: list[tuple[int, int]], target: str
) -> None:
    problems = render(md, text).problems
    assert [(p.line0, p.col0) for p in problems] == expected
    for problem in problems:
        assert problem.code == "broken-link" and problem.severity == "error"
        assert problem.message == f"link target '{target}' does not exist"


def test_resolved_links_are_not_problems(md: MarkdownIt) -> None:
    result = render(md, "[v](../drugs/valacyclovir.md#dose) [w](https://x.org/a.md)")
    assert result.problems == ()
    assert 'href="../../drugs/valacyclovir/#dose"' in result.html


def test_resolve_link_gets_the_path_without_fragment(md: MarkdownIt) -> None:
    asked: list[str] = []

    def resolve(href: str) -> str | None:
        asked.append(href)
        return "/x/"

    env = PageEnv(CitationRegistry(KEYS), resolve_link=resolve)
    html = render_markdown(md, "[a](../drugs/x.md#y) [b](x.md) [c](/abs.md) [d](x.txt)", env).html
    assert asked == ["../drugs/x.md", "x.md"]
    assert 'href="/x/#y"' in html and 'href="/abs.md"' in html


def test_remote_image_is_reported_and_not_loaded(md: MarkdownIt) -> None:
    result = render(md, "See ![chart](https://example.org/a.png) and ![x](//cdn.example/x.png)")
    assert [(p.line0, p.col0, p.code) for p in result.problems] == [
        (0, 13, "remote-image"),
        (0, 49, "remote-image"),
    ]
    assert "<img" not in result.html


@pytest.mark.parametrize(
    "url",
    ["http://x.org", "https://x.org/a?b#c", "mailto:a@b.org", "../a/", "a.html", "#top", "?q"],
)
def test_safe_urls(url: str) -> None:
    assert is_safe_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "java%09script:alert(1)",
        "java\nscript:alert(1)",
        "\x01javascript:alert(1)",
        "%6Aavascript:alert(1)",
        "vbscript:x",
        "data:text/html,x",
        "data:image/png;base64,AAAA",
        "file:///etc/passwd",
        "ftp://x.org",
    ],
)
def test_unsafe_urls(url: str) -> None:
    assert not is_safe_url(url)


@pytest.mark.parametrize(
    "text",
    [
        "[a](javascript:alert(1))",
        "[a](JAVASCRIPT:alert(1))",
        "[a](&#106;avascript:alert(1))",
        "[a](&#x6A;avascript:alert(1))",
        "[a](java&#x09;script:alert(1))",
        "[a](java&#10;script:alert(1))",
        "[a](javascript&colon;alert(1))",
        "[a](<java\tscript:alert(1)>)",
        "<javascript:alert(1)>",
        "[a][r]\n\n[r]: javascript:alert(1)",
        "![a](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
    ],
)
def test_no_javascript_url_reaches_the_html(md: MarkdownIt, text: str) -> None:
    html = render(md, text).html
    assert not re.search(r"""(href|src)=["']?\s*[a-z]*script""", html, re.IGNORECASE)


# -- blocks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "::: clinican\nx\n:::",
            [(0, 4, "unknown-block", "unknown block 'clinican' (did you mean 'clinician'?)")],
            id="unknown name",
        ),
        pytest.param(
            "> ::: pacient\n> x\n> :::",
            [(0, 6, "unknown-block", "unknown block 'pacient' (did you mean 'patient'?)")],
            id="unknown name in a quote",
        ),
        pytest.param(
            "::: recommendation strength=strongest certainty=moderate\nx\n:::",
            [
                (
                    0,
                    28,
                    "invalid-block-attribute",
                    "invalid strength 'strongest' for block 'recommendation'"
                    " (did you mean 'strong'?); allowed: strong, conditional",
                )
            ],
            id="invalid value",
        ),
        pytest.param(
            "::: recommendation strength=strong\nx\n:::",
            [
                (
                    0,
                    4,
                    "invalid-block-attribute",
                    "block 'recommendation' requires certainty=..."
                    " (allowed: high, moderate, low, very-low)",
                )
            ],
            id="missing attribute",
        ),
        pytest.param(
            "::: recommendation strength=strong certainty=low grade=A\nx\n:::",
            [
                (
                    0,
                    49,
                    "invalid-block-attribute",
                    "unknown attribute 'grade' for block 'recommendation'; allowed:"
                    " strength=strong|conditional, certainty=high|moderate|low|very-low",
                )
            ],
            id="unknown attribute",
        ),
        pytest.param(
            "::: note kind=x\nx\n:::",
            [(0, 9, "invalid-block-attribute", "block 'note' takes no attributes")],
            id="attributes on a callout",
        ),
        pytest.param(
            "::: clinician level=expert\nx\n:::",
            [(0, 14, "invalid-block-attribute", "block 'clinician' takes no attributes")],
            id="attributes on an audience block",
        ),
        pytest.param(
            "::: recommendation strength=strong strength=strong certainty=low\nx\n:::",
            [
                (
                    0,
                    35,
                    "invalid-block-attribute",
                    "duplicate attribute 'strength' for block 'recommendation'",
                )
            ],
            id="duplicate attribute",
        ),
        pytest.param(
            "::: note\nNever closed.",
            [(0, 0, "unclosed-block", "block 'note' is never closed (end it with a ':::' line)")],
            id="unclosed",
        ),
        pytest.param(
            ":::: clinician\n::: note\nx\n::::",
            [(1, 0, "unclosed-block", "block 'note' is never closed (end it with a ':::' line)")],
            id="inner block closed by its parent's end",
        ),
    ],
)
def test_block_problems(
    md: MarkdownIt, text: str, expected: list[tuple[int, int, str, str]]
) -> None:
    problems = render(md, text).problems
    assert [(p.line0, p.col0, p.code, p.message) for p in problems] == expected
    assert {p.severity for p in problems} == {"error"}


def test_bare_words_on_a_recommendation(md: MarkdownIt) -> None:
    text = "::: recommendation strong moderate\nx\n:::"
    assert [(line0, col0) for line0, col0, _ in where(md, text)] == [
        (0, 4),
        (0, 4),
        (0, 19),
        (0, 26),
    ]


def test_valid_blocks_have_no_problems(md: MarkdownIt) -> None:
    text = (
        ":::: patient\n::: recommendation strength='conditional' certainty=\"very-low\"\n"
        "x\n:::\n::::\n\n::: pitfall\ny\n:::::\n"
    )
    assert render(md, text).problems == ()


# -- uncited claims -----------------------------------------------------------

UNCITED = [
    ("First claim.\n\nSecond claim [@a].\n", [(0, 0, "paragraph has no citation")]),
    ("- one [@a]\n- two\n", [(1, 2, "bullet has no citation")]),
    ("- parent\n  - child [@a]\n  - orphan\n", [(2, 4, "bullet has no citation")]),
    ("Options:\n\n- a [@a]\n- b [@b]\n", []),
    ("Options:\n- a [@a]\n", []),
    ("Options\n\n- a [@a]\n", [(0, 0, "paragraph has no citation")]),
    ("Options:\n\nMore text [@a].\n", [(0, 0, "paragraph has no citation")]),
    ("- first para\n\n  second para [@a]\n", []),
    ("1. one\n", [(0, 3, "list item has no citation")]),
    ("# Heading\n\n| a |\n|---|\n| b |\n\n```\ncode\n```\n\n    indented\n", []),
    ("::: clinician\nUncited inside.\n:::\n", [(1, 0, "paragraph has no citation")]),
    (
        "::: recommendation strength=strong certainty=low\n- x\n:::\n",
        [(1, 2, "bullet has no citation")],
    ),
    ("> quoted claim\n", [(0, 2, "paragraph has no citation")]),
    ("> - claim\n", [(0, 4, "bullet has no citation")]),
    ("![chart](chart.png)\n", []),
    ("- ```\n  code\n  ```\n", []),
    ("Unknown is still a citation [@zz].\n", []),
    ("  Indented claim\n", [(0, 2, "paragraph has no citation")]),
]


@pytest.mark.parametrize(("text", "expected"), UNCITED)
def test_uncited_claims(md: MarkdownIt, text: str, expected: list[tuple[int, int, str]]) -> None:
    problems = [
        p for p in render(md, text, check_uncited=True).problems if p.code == "uncited-claim"
    ]
    assert [(p.line0, p.col0, p.message) for p in problems] == expected
    assert {p.severity for p in problems} <= {"warning"}


def test_uncited_claims_only_when_asked(md: MarkdownIt) -> None:
    assert render(md, "No citation here.\n\n- nor here\n").problems == ()


# -- headings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Dosing in adults", "dosing-in-adults"),
        ("What's the dose? ", "whats-the-dose"),
        ("  Renal -- impairment  ", "renal-impairment"),
        ("Cite 1", "section-cite-1"),
        ("ref-text-3", "section-ref-text-3"),
        ("¿¡!", "section"),
        ("Aciclovir vs. valaciclovir", "aciclovir-vs-valaciclovir"),
        ("Übersicht", "übersicht"),
    ],
)
def test_slugify_heading(title: str, slug: str) -> None:
    assert slugify_heading(title) == slug


# -- robustness and speed -----------------------------------------------------

DEEP = {
    "10,000 >": ">" * 10_000 + " x [@a]",
    "10,000 > lines": "\n".join(">" * i + " x" for i in range(1, 301)),
    "10,000 -": "- " * 10_000 + "x [@a]",
    "nested - lines": "\n".join("  " * i + "- x [@zz]" for i in range(300)),
    "10,000 1.": "1. " * 10_000 + "x",
    "nested :::": "\n".join(":" * (300 - i) + " note" for i in range(297)),
    "::: note x 10,000": "::: note\n" * 10_000,
    "10,000 [": "[" * 10_000 + "@a" + "]" * 10_000,
    "10,000 *": "*" * 10_000 + "a" + "*" * 10_000,
    "10,000 > then list": "> - " * 5_000 + "x",
}


@pytest.mark.parametrize("text", DEEP.values(), ids=DEEP.keys())
def test_deep_nesting_never_recurses_too_far(md: MarkdownIt, text: str) -> None:
    result = render(md, text, check_uncited=True)
    assert isinstance(result.html, str)
    assert clinsite.markdown.MAX_NESTING == md.options["maxNesting"] == 20


MODULES: tuple[ModuleType, ...] = (
    clinsite.citations,
    clinsite.markdown,
    clinsite.mdplugins,
    clinsite.mdplugins.citations,
    clinsite.mdplugins.containers,
)
PATTERNS = {
    f"{module.__name__}.{name}": value
    for module in MODULES
    for name, value in vars(module).items()
    if isinstance(value, re.Pattern)
}
ADVERSARIAL = {
    "[@a;": "[@a;" * 12_500,
    ":::": ":::" * 16_667,
    "::: x=": "::: " + "x=" * 25_000,
    'a="': 'a="' * 16_667,
    "a='": "a='" * 16_667,
    "a=b": "a=b" * 16_667 + '"',
    "spaces": " " * 50_000 + "!",
    "only spaces": " " * 50_000,
    "newlines": "\n" * 50_000,
    "tabs": "\t" * 50_000 + "x",
    "dashes": "-" * 50_000 + "!",
    "colons": ":" * 50_000 + "!",
    "letters": "a" * 50_000 + "!",
    "gt": ">" * 50_000 + "!",
    "controls": "\x01 \x7f" * 16_667 + ":",
    "cite-1": "cite-" + "1" * 50_000 + "x",
    "key a:": "@" + "a:" * 25_000,
    "key a/": "@a" + "/" * 50_000,
    "key a.": "@" + "a." * 25_000 + ".",
    "key a;": "@a; " * 12_500,
}


def test_there_are_regexes_to_guard() -> None:
    assert len(PATTERNS) >= 8


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_regexes_are_linear(name: str) -> None:
    pattern = PATTERNS[name]
    for label, text in ADVERSARIAL.items():
        for method in (pattern.match, pattern.search, pattern.fullmatch):
            start = time.perf_counter()
            method(text)
            elapsed = time.perf_counter() - start
            assert elapsed < 0.5, f"{name}.{method.__name__} on {label!r}: {elapsed:.2f}s"
        start = time.perf_counter()
        pattern.sub("", text)
        assert time.perf_counter() - start < 0.5, f"{name}.sub on {label!r}"


ADVERSARIAL_PAGES: dict[str, Callable[[int], str]] = {
    "[@a;": lambda n: "[@a;" * n,
    "[@a, ": lambda n: "[@a, " * n,
    "[@a](": lambda n: "[@a](" * n,
    "[@a][": lambda n: "[@a][" * n,
    "[@zz] ": lambda n: "[@zz] " * n,
    "[x](gone.md) ": lambda n: "[x](gone.md) " * (n // 2),
    "::: note": lambda n: "::: note\n" * (n // 2),
    "::: recommendation strength=": lambda n: "::: recommendation " + "strength=" * (n // 2),
    "table of [@zz]": lambda n: (
        "| [@zz] " * (n // 2) + "|\n" + "|---" * (n // 2) + "|\n" + "| [@zz] " * (n // 2)
    ),
    "x [@zz] lines": lambda n: "x [@zz]\n" * (n // 2),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL_PAGES))
def test_adversarial_pages_render_in_linear_time(md: MarkdownIt, name: str) -> None:
    """A quarter of the input takes about a quarter of the time (quadratic work: a sixteenth).

    Linear work measures 3.4-5.6 times the quarter's time here (the collector's passes
    grow with the tokens); the bound is 10 times, plus 0.25 s for timer noise.

    Measured against itself, not against a fixed budget: markdown-it needs 0.1-0.8 s for these
    50 KB inputs here and three to four times that on a loaded CI machine, where a fixed 3 s
    budget failed once at 3.01 s. Quadratic work would take minutes at this size.
    """
    make = ADVERSARIAL_PAGES[name]

    def fastest(source: str, runs: int) -> float:
        timings = []
        for _ in range(runs):
            gc.collect()
            start = time.perf_counter()
            render(md, source, check_uncited=True)
            timings.append(time.perf_counter() - start)
        return min(timings)

    small, whole = fastest(make(2_500), 3), fastest(make(10_000), 2)
    assert whole < 10 * small + 0.25, f"{whole:.2f} s for the whole, {small:.2f} s for a quarter"


def five_kb_page() -> str:
    sentence = (
        "Valacyclovir shortens the duration of zoster-associated pain when it is started "
        "within 72 hours of rash onset, most clearly in older adults with moderate pain. "
    )
    parts = ["## Treatment\n"]
    for i in range(10):
        parts.append(sentence * 3 + f"[@k{i % 9 + 1}; @{'abcde'[i % 5]}, p. {i + 1}]\n")
        if i % 3 == 0:
            parts.append(
                f"- First-line option [@k{i % 9 + 1}]\n- See [x](../drugs/valacyclovir.md)\n"
            )
    parts.append(
        "::: recommendation strength=strong certainty=moderate\nOffer it [@a; @b; @c].\n:::\n"
    )
    parts.append("| Drug | Dose |\n|---|---|\n| valacyclovir | 1 g three times daily [@d] |\n")
    return "\n".join(parts)


def test_a_5kb_page_renders_in_milliseconds(md: MarkdownIt) -> None:
    text = five_kb_page()
    assert 4_000 <= len(text.encode()) <= 6_000
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        render(md, text, check_uncited=True)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.025, timings


MARKDOWN_BITS = st.sampled_from(
    [
        "[", "]", "@", "a", "zz", ";", ",", " ", "\n", "\n\n", ">", "- ", "1. ", "*", "`",
        ":::", "::::", " note", " clinician", " recommendation", " strength=strong", "'", '"',
        "|", "|---|", "\\", "(", ")", "x.md", "[l](y.md)", "[@zz]", "[@a; @zz]", "\t", "  ",
        "<", "&", "#", "http://", "!", "=", "\r\n", "\x00", "ü",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(MARKDOWN_BITS, max_size=40).map("".join), st.booleans())
def test_any_text_renders_and_positions_are_in_it(text: str, inline: bool) -> None:
    md = make_markdown()
    result = render_markdown(md, text, make_env(check_uncited=True), inline=inline)
    lines = text.replace("\r\n", "\n").replace("\x00", "\ufffd").split("\n")
    for problem in result.problems:
        assert 0 <= problem.line0 < len(lines)
        assert 0 <= problem.col0 <= len(lines[problem.line0])
    assert_points_at_keys(text.replace("\r\n", "\n"), result.problems)


# The character-by-character scanner the key regex replaced, kept as the oracle.
def _oracle_scan_key(src: str, pos: int, end: int) -> int:
    def is_key_char(ch: str) -> bool:
        return ch.isalnum() or ch == "_"

    if pos >= end or not is_key_char(src[pos]):
        return pos
    pos += 1
    while pos < end:
        ch = src[pos]
        if not is_key_char(ch):
            nxt = src[pos + 1] if pos + 1 < end else ""
            internal = ch in ":.#$%&-+?<>~/" and nxt != "" and is_key_char(nxt)
            if not (internal or (ch in ":/" and nxt == "/")):
                break
        pos += 1
    return pos


def _oracle_parse_citation(src: str, start: int, end: int) -> object:
    """(items, key offsets, end) as the scanner-based parser found them, or None."""
    limit = min(end, start + clinsite.mdplugins.citations.MAX_CITATION_CHARS)
    items: list[tuple[str, str | None]] = []
    offsets: list[int] = []
    pos = start + 1
    while True:
        if pos >= limit or src[pos] != "@":
            return None
        key_end = _oracle_scan_key(src, pos + 1, limit)
        if key_end == pos + 1:
            return None
        offsets.append(pos + 1)
        key = src[pos + 1 : key_end]
        pos = key_end
        while pos < limit and src[pos] in " \t\n":
            pos += 1
        locator = None
        if pos < limit and src[pos] == ",":
            loc_start = pos + 1
            while pos < limit and src[pos] not in ";[]":
                pos += 1
            locator = " ".join(src[loc_start:pos].split()) or None
        if pos >= limit or src[pos] not in ";]":
            return None
        items.append((key, locator))
        if src[pos] == "]":
            return tuple(items), tuple(offsets), pos + 1
        pos += 1
        while pos < limit and src[pos] in " \t\n":
            pos += 1


KEY_BITS = st.sampled_from(
    ["[", "]", "@", ";", ",", " ", "\n", "\t", "a", "Z9", "_", "é", "²", "٣", ":", "/", "//",
     "://", ".", "#", "$", "%", "&", "-", "+", "?", "<", ">", "~", "!", "(", "p. 4", "\u00a0"]
)  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(st.lists(KEY_BITS, max_size=30).map(lambda bits: "[@" + "".join(bits)),
       st.integers(min_value=0, max_value=40))
def test_citation_parser_matches_the_character_scanner(text: str, cut: int) -> None:
    parse_citation = clinsite.mdplugins.citations.parse_citation
    scan_key = clinsite.mdplugins.citations.scan_key
    end = max(2, len(text) - cut)
    parsed = parse_citation(text, 0, end)
    found = None if parsed is None else (
        tuple((item.key, item.locator) for item in parsed.items), parsed.key_offsets, parsed.end)
    assert found == _oracle_parse_citation(text, 0, end)
    for pos in range(len(text)):
        assert scan_key(text, pos, end) == _oracle_scan_key(text, pos, end)


def test_a_bare_render_works_without_a_page_env(md: MarkdownIt) -> None:
    assert md.render("Claim [@a].") == ('<p>Claim<sup class="cite cite-unknown">[?a]</sup>.</p>\n')
