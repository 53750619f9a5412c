"""Fast seeded words for the benchmark corpus: sentences drawn from the fixed vocabulary."""

from __future__ import annotations

import random

from clinsite.bench import vocab

_POOL = 1 << 16  # words drawn once; sentences are random slices (fast at N = 10,000)
_CAPITAL = {word: word.capitalize() for word in vocab.WORDS}


class Words:
    """Fast seeded draws: sentences as slices of one pre-drawn word pool."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.random = rng.random
        self.pool = rng.choices(vocab.WORDS, k=_POOL)

    def between(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low + 1))

    def sentence(self, low: int, high: int) -> list[str]:
        size = self.between(low, high)
        start = int(self.random() * (_POOL - size))
        words = self.pool[start:start + size]
        words[0] = _CAPITAL[words[0]]
        return words
