"""Front-matter splitting, decoding and YAML positions."""

from __future__ import annotations

from clinsite.diagnostics import Diagnostic
from clinsite.frontmatter import SourceText, decode_source, parse_yaml, split_front_matter


def split(text: str):
    return split_front_matter(SourceText("x.md", text))


def test_split_gives_body_line():
    result = split("---\ntitle: A\n---\nBody\n")
    assert not isinstance(result, Diagnostic)
    assert (result.front, result.front_line, result.body, result.body_line) == (
        "title: A\n", 2, "Body\n", 4)


def test_unclosed_front_matter():
    result = split("---\ntitle: A\nBody\n")
    assert isinstance(result, Diagnostic)
    assert result.format() == ("x.md:1:1: error: front matter opened with '---' on line 1 is "
                               "never closed with '---' [front-matter-unclosed]")


def test_missing_and_empty():
    assert split("title: A\n").code == "front-matter-missing"  # type: ignore[union-attr]
    assert split("  \n\n").code == "empty-file"  # type: ignore[union-attr]


def test_bom_and_crlf_are_normalised():
    source = decode_source("x.md", b"\xef\xbb\xbf---\r\ntitle: A\r\n---\r\nBody\r\n")
    assert isinstance(source, SourceText)
    assert source.text == "---\ntitle: A\n---\nBody\n"


def test_bad_utf8_points_at_the_byte():
    result = decode_source("x.md", "---\ntitle: é\n".encode() + b"ok \xff here\n")
    assert isinstance(result, Diagnostic)
    assert result.format() == ("x.md:3:4: error: file is not valid UTF-8 (byte 0xff); "
                               "save it as UTF-8 [encoding]")


def test_bad_utf8_column_counts_characters_not_bytes():
    result = decode_source("x.md", "éé".encode() + b"\xfe")
    assert isinstance(result, Diagnostic)
    assert (result.line, result.col) == (1, 3)


def test_yaml_positions_are_file_positions():
    doc = parse_yaml("x.md", "title: A\nreview:\n  status: ok\n  reviewers: [a, b]\n", 2)
    assert not isinstance(doc, Diagnostic)
    assert doc.pos(("title",)) == (2, 8)
    assert doc.pos(("review", "status")) == (4, 11)
    assert doc.pos(("review", "reviewers", 1)) == (5, 18)
    assert doc.key_pos(("review", "reviewers")) == (5, 3)
    assert doc.pos(("review", "missing")) == (4, 3)  # falls back to the parent


def test_yaml_syntax_error_position():
    result = parse_yaml("x.md", "title: A\ntags: [a, b\n", 2)
    assert isinstance(result, Diagnostic)
    assert result.format() == ("x.md:4:1: error: YAML syntax error: did not find expected "
                               "',' or ']' [yaml-syntax]")


def test_duplicate_key_reported_and_last_wins():
    doc = parse_yaml("x.md", "title: A\ntitle: B\n", 2)
    assert not isinstance(doc, Diagnostic)
    assert doc.data == {"title": "B"}
    assert doc.pos(("title",)) == (3, 8)
    assert [d.format() for d in doc.problems] == [
        "x.md:3:1: error: key 'title' is given twice (first on line 2) [duplicate-key]"]


def test_alias_bomb_is_indexed_once():
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = "" if i == 1 else i - 1
        lines.append(f"a{i}: &a{i} [*a{prev}" + f", *a{prev}" * 8 + "]")
    doc = parse_yaml("x.yaml", "\n".join(lines) + "\n")
    assert not isinstance(doc, Diagnostic)
    assert len(doc.values) < 200


def test_tabs_inside_values_are_fine():
    doc = parse_yaml("x.md", 'title: "a\\tb"\nnote: a\tb\n', 2)
    assert not isinstance(doc, Diagnostic)
    assert doc.data == {"title": "a\tb", "note": "a\tb"}
