"""Citation numbering, range compression and back-links (clinsite.citations)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinsite.citations import (
    CitationGroup,
    CitationItem,
    CitationRegistry,
    Run,
    UnknownCitation,
    compress,
    compress_runs,
    layout_group,
)


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        ([3, 1, 2], "1–3"),
        ([1, 3], "1,3"),
        ([1, 2], "1,2"),
        ([1, 2, 3, 5, 7, 8, 9], "1–3,5,7–9"),
        ([5], "5"),
        ([], ""),
        ([2, 2, 1, 1], "1,2"),
        ([4, 3, 2, 1], "1–4"),
        ([1, 2, 4, 5, 6], "1,2,4–6"),
        ([10, 11, 12, 20], "10–12,20"),
    ],
)
def test_compress(numbers: list[int], expected: str) -> None:
    assert compress(numbers) == expected


def test_compress_uses_an_en_dash() -> None:
    assert compress([1, 2, 3]) == "1\u20133"


def test_compress_runs_gives_each_visible_number() -> None:
    assert compress_runs([9, 1, 2, 3, 5, 7, 8]) == (
        Run(1, 3),
        Run(5, 5),
        Run(7, 9),
    )
    assert Run(1, 3).label() == "1–3"
    assert list(Run(1, 3).numbers) == [1, 2, 3]


def test_layout_group_keeps_located_numbers_single() -> None:
    runs = layout_group([(3, None), (1, None), (2, "p. 4")])
    assert runs == (Run(1, 1), Run(2, 2, "p. 4"), Run(3, 3))


def test_layout_group_folds_only_locator_free_numbers() -> None:
    runs = layout_group([(1, None), (2, None), (3, None), (2, "p. 4"), (1, None)])
    assert runs == (Run(1, 3), Run(2, 2, "p. 4"))


@given(st.lists(st.integers(min_value=1, max_value=60), max_size=30))
def test_compress_covers_exactly_the_numbers(numbers: list[int]) -> None:
    shown: set[int] = set()
    for part in filter(None, compress(numbers).split(",")):
        first, _, last = part.partition("–")
        low, high = int(first), int(last or first)
        assert not last or high - low >= 2  # only runs of 3+ become ranges
        shown.update(range(low, high + 1))
    assert shown == set(numbers)


def items(*keys: str) -> list[CitationItem]:
    return [CitationItem(key) for key in keys]


def test_numbers_by_first_appearance_across_groups() -> None:
    registry = CitationRegistry({"a", "b", "c"})
    assert registry.cite_group(items("b")) == "cite-1"
    assert registry.cite_group(items("c", "a", "b")) == "cite-2"
    assert registry.order == ("b", "c", "a")
    assert [registry.number(k) for k in ("a", "b", "c")] == [3, 1, 2]


def test_a_key_cited_again_keeps_its_number() -> None:
    registry = CitationRegistry({"a", "b"})
    registry.cite_group(items("a"))
    registry.cite_group(items("b"))
    registry.cite_group(items("a"))
    assert registry.number("a") == 1
    assert registry.order == ("a", "b")


def test_groups_in_document_order_with_their_keys() -> None:
    registry = CitationRegistry({"a", "b"})
    registry.cite_group(items("b", "a", "b"))
    registry.cite_group(items("a"))
    assert registry.groups == (
        CitationGroup("cite-1", ("b", "a")),
        CitationGroup("cite-2", ("a",)),
    )


def test_backlinks_include_keys_hidden_in_a_range() -> None:
    registry = CitationRegistry({"a", "b", "c"})
    registry.cite_group(items("a"))
    registry.cite_group(items("b"))
    registry.cite_group(items("c"))
    registry.cite_group(items("c", "a", "b"))  # shown as 1–3: "2" is not visible
    assert registry.backlinks("b") == ["cite-2", "cite-4"]
    assert registry.backlinks("a") == ["cite-1", "cite-4"]
    assert registry.backlinks("never-cited") == []


def test_unknown_keys_are_recorded_not_numbered() -> None:
    registry = CitationRegistry({"smith2018"})
    group = registry.cite_group(
        [CitationItem("smith2019"), CitationItem("smith2018", "p. 3")],
        [(4, 10), (4, 22)],
    )
    assert group == "cite-1"
    assert registry.order == ("smith2018",)
    assert registry.unknown == (UnknownCitation("smith2019", 4, 10),)
    assert not registry.is_cited("smith2019")
    with pytest.raises(KeyError):
        registry.number("smith2019")


def test_a_group_of_unknown_keys_gets_no_id() -> None:
    registry = CitationRegistry({"a"})
    assert registry.cite_group(items("x")) is None
    assert registry.cite_group(items("a")) == "cite-1"
    assert registry.groups == (CitationGroup("cite-1", ("a",)),)


def test_known_keys_can_be_any_collection() -> None:
    registry = CitationRegistry({"a": object(), "b": object()}.keys())
    registry.cite_group(items("b"))
    assert registry.is_known("a")
    assert registry.is_cited("b")
    assert not registry.is_cited("a")
    assert sorted(registry.known) == ["a", "b"]
