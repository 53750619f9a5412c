"""Citation numbering and range compression (pure).

One `CitationRegistry` per page: citation groups go in (in document order, the
`summary` field first, then the body), numbers, group ids and back-links come out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

RANGE_DASH = "\u2013"  # en dash, as in "1–3"


@dataclass(frozen=True, slots=True)
class CitationItem:
    """One cited key, with an optional pinpoint locator (``p. 12``)."""

    key: str
    locator: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive reference numbers shown as one element (``first–last`` or ``first``).

    A run with a locator is always a single number (``first == last``).
    """

    first: int
    last: int
    locator: str | None = None

    @property
    def numbers(self) -> range:
        return range(self.first, self.last + 1)

    def label(self) -> str:
        if self.first == self.last:
            return str(self.first)
        return f"{self.first}{RANGE_DASH}{self.last}"


@dataclass(frozen=True, slots=True)
class CitationGroup:
    """One place in the text that cites: its anchor id and the known keys it cites."""

    id: str
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnknownCitation:
    """A cited key that is not in the reference store, at text coordinates (0-based)."""

    key: str
    line0: int
    col0: int


def layout_group(cited: Iterable[tuple[int, str | None]]) -> tuple[Run, ...]:
    """Sorted, de-duplicated runs for ``(number, locator)`` pairs.

    Runs of three or more locator-free numbers are folded into one range; numbers
    with a locator stay single (``[(1, None), (2, None), (3, 'p. 4')]`` → 1, 2, 3 p. 4).
    """
    unique = set(cited)
    if len(unique) == 1:  # most groups cite one source: one run, nothing to fold
        number, locator = unique.pop()
        return (Run(number, number, locator),)
    pairs = sorted(unique, key=lambda p: (p[0], p[1] is not None, p[1] or ""))
    plain = sorted({n for n, loc in pairs if loc is None})
    runs: list[Run] = []
    i = 0
    while i < len(plain):
        j = i
        while j + 1 < len(plain) and plain[j + 1] == plain[j] + 1:
            j += 1
        if j - i >= 2:
            runs.append(Run(plain[i], plain[j]))
        else:
            runs.extend(Run(n, n) for n in plain[i : j + 1])
        i = j + 1
    runs.extend(Run(n, n, loc) for n, loc in pairs if loc is not None)
    runs.sort(key=lambda r: (r.first, r.locator is not None, r.locator or ""))
    return tuple(runs)


def compress_runs(numbers: Iterable[int]) -> tuple[Run, ...]:
    """The runs of `compress`, for a renderer that links each visible number."""
    return layout_group((n, None) for n in numbers)


def compress(numbers: Iterable[int]) -> str:
    """``[3, 1, 2]`` → ``1–3``; ``[1, 3]`` → ``1,3``; ``[1, 2]`` → ``1,2``."""
    return ",".join(run.label() for run in compress_runs(numbers))


class CitationRegistry:
    """The citation state of one page: numbers by first appearance, groups, unknown keys."""

    def __init__(self, known: Collection[str]) -> None:
        self._known = known
        self._numbers: dict[str, int] = {}
        self._groups: list[CitationGroup] = []
        self._backlinks: dict[str, list[str]] = {}
        self._unknown: list[UnknownCitation] = []
        self._group_count = 0

    def is_known(self, key: str) -> bool:
        return key in self._known

    @property
    def known(self) -> Collection[str]:
        """The keys that may be cited (for "did you mean" suggestions)."""
        return self._known

    def cite_group(
        self,
        items: Sequence[CitationItem],
        positions: Sequence[tuple[int, int]] | None = None,
    ) -> str | None:
        """Register one citation group; return its id (``cite-N``), or None if no key is known.

        Known keys get the next number on their first appearance; unknown keys are
        recorded (at `positions`, text coordinates of each item) and not numbered.
        """
        keys: list[str] = []
        for index, item in enumerate(items):
            if item.key not in self._known:
                line0, col0 = positions[index] if positions else (0, 0)
                self._unknown.append(UnknownCitation(item.key, line0, col0))
                continue
            if item.key not in self._numbers:
                self._numbers[item.key] = len(self._numbers) + 1
            if item.key not in keys:
                keys.append(item.key)
        if not keys:
            return None
        self._group_count += 1
        group = CitationGroup(f"cite-{self._group_count}", tuple(keys))
        self._groups.append(group)
        for key in keys:
            self._backlinks.setdefault(key, []).append(group.id)
        return group.id

    def is_cited(self, key: str) -> bool:
        """Whether `key` is known and has been cited (so it has a number)."""
        return key in self._numbers

    def number(self, key: str) -> int:
        """The reference number of a cited key; KeyError if it was not cited."""
        return self._numbers[key]

    @property
    def order(self) -> tuple[str, ...]:
        """Cited keys by number (the page's reference list)."""
        return tuple(self._numbers)

    @property
    def groups(self) -> tuple[CitationGroup, ...]:
        """Every citation group with a known key, in document order."""
        return tuple(self._groups)

    def backlinks(self, key: str) -> list[str]:
        """Ids of every group citing `key`, in document order (also inside ranges)."""
        return list(self._backlinks.get(key, ()))

    @property
    def unknown(self) -> tuple[UnknownCitation, ...]:
        """Unknown keys in the order they were cited."""
        return tuple(self._unknown)
