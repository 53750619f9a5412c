"""Summary files of the benchmark corpus: front matter, then sections of cited blocks.

Each paragraph, bullet and table row carries a citation, and each of the page's keys
is cited at least once, so the page builds without warnings.
"""

from __future__ import annotations

import datetime as dt
import random

from clinsite.bench import vocab
from clinsite.bench.words import Words

BENCH_TODAY = dt.date(2026, 11, 1)  # the builds' SOURCE_DATE_EPOCH: no review is overdue
BOARD_IDS = ("r-adeyemi", "r-lindqvist", "r-moreau")


def slug(number: int) -> str:
    return f"q{number:05d}"


class _Citer:
    """Hands out citations for one page: each of its keys once first, then any of them."""

    def __init__(self, words: Words, keys: list[str]) -> None:
        self.random = words.random
        self.keys = keys
        self.unused = list(reversed(keys))

    def next_key(self) -> str:
        if self.unused:
            return self.unused.pop()
        return self.keys[int(self.random() * len(self.keys))]

    def cite(self) -> str:
        """``[@a]``, sometimes ``[@a; @b]`` or ``[@a, p. 12]``."""
        roll = self.random()
        if roll < 0.8:
            key = self.next_key()
            if roll < 0.04:
                return f"[@{key}, p. {2 + int(self.random() * 400)}]"
            return f"[@{key}]"
        size = 2 if roll < 0.93 else 3
        picked: list[str] = []
        while len(picked) < size:
            key = self.next_key()
            if key not in picked:
                picked.append(key)
        return "[" + "; ".join("@" + key for key in picked) + "]"


def _paragraph(words: Words, citer: _Citer) -> tuple[str, int]:
    lines, count = [], 0
    sentences = words.between(2, 4)
    for index in range(sentences):
        sentence = words.sentence(8, 16)
        count += len(sentence)
        cited = index == sentences - 1 or words.random() < 0.3
        lines.append(" ".join(sentence) + (f" {citer.cite()}." if cited else "."))
    return "\n".join(lines), count


def _bullets(words: Words, citer: _Citer) -> tuple[str, int]:
    lead = words.sentence(8, 14)
    lines, count = [" ".join(lead) + f" {citer.cite()}:", ""], len(lead)
    items = words.between(3, 5)
    for index in range(items):
        sentence = words.sentence(6, 12)
        count += len(sentence)
        end = "." if index == items - 1 else ";"
        lines.append(f"- {' '.join(sentence)} {citer.cite()}{end}")
    return "\n".join(lines), count


def _table(words: Words, citer: _Citer) -> tuple[str, int]:
    lead = words.sentence(8, 14)
    lines = [" ".join(lead) + f" {citer.cite()}.", "",
             "| Outcome | Intervention | Comparator | Source |", "| --- | ---: | ---: | --- |"]
    count = len(lead) + 4
    for outcome in words.rng.sample(vocab.TABLE_OUTCOMES, words.between(3, 5)):
        count += len(outcome.split())
        lines.append(f"| {outcome} | {words.between(1, 95)}% | {words.between(1, 95)}% "
                     f"| {citer.cite()} |")
    return "\n".join(lines), count


_BLOCKS = (_paragraph, _bullets, _table)


def render_body(words: Words, citer: _Citer, budget: int) -> str:
    """Sections of paragraphs, lists and tables until `budget` words (at most ~80 more)."""
    plan = [_paragraph, _bullets, _paragraph, _table]  # every page has a list and a table
    parts: list[str] = []
    count = 0
    while count < budget or plan:
        roll = words.random()
        block = plan.pop(0) if plan else _BLOCKS[(roll >= 0.6) + (roll >= 0.9)]
        if not parts or words.random() < 0.4:
            heading = vocab.HEADINGS[int(words.random() * len(vocab.HEADINGS))]
            parts.append(f"## {heading}")
            count += len(heading.split())
        text, size = block(words, citer)
        parts.append(text)
        count += size
    if citer.unused:  # not reached with 8–12 keys, but every key must be cited
        parts.append(" ".join(words.sentence(6, 8)) + " [" +
                     "; ".join("@" + key for key in reversed(citer.unused)) + "].")
    return "\n\n".join(parts) + "\n"


def _title(rng: random.Random) -> str:
    agent, condition = rng.choice(vocab.AGENTS), rng.choice(vocab.CONDITIONS)
    population = rng.choice(vocab.POPULATIONS)
    templates = (
        f"Should {agent} be used for {condition} in {population}?",
        f"What dose of {agent} is right for {condition} in {population}?",
        f"How long should {agent} be continued for {condition}?",
        f"Does {agent} reduce relapse of {condition} in {population}?",
        f"When should {agent} be stopped in {condition}?",
    )
    return rng.choice(templates)


def render_summary(words: Words, number: int, total: int, keys: list[str]) -> str:
    """One summary file: front matter (cited bottom line, review, tags) and a body."""
    rng = words.rng
    citer = _Citer(words, keys)
    bottom = words.sentence(14, 24)
    summary = " ".join(bottom) + f" {citer.cite()}."
    updated = BENCH_TODAY - dt.timedelta(days=rng.randint(30, 300))
    lines = ["---", f'title: "{_title(rng)}"', "summary: >-", f"  {summary}",
             f"updated: {updated.isoformat()}"]
    if rng.random() < 0.5:
        lines.append(f"evidence_current: {(updated - dt.timedelta(days=14)).isoformat()}")
    reviewers = ", ".join(rng.sample(BOARD_IDS, rng.randint(1, 2)))
    approved = rng.random() < 0.7
    lines += ["review:", f"  status: {'approved' if approved else 'under-review'}",
              f"  reviewers: [{reviewers}]"]
    if approved:
        lines.append(f"  reviewed: {(updated + dt.timedelta(days=rng.randint(1, 20))).isoformat()}")
    lines.append(f"tags: [{', '.join(sorted(rng.sample(vocab.TAGS, rng.randint(1, 3))))}]")
    others = [n for n in rng.sample(range(1, total + 1), min(3, total)) if n != number]
    if others and rng.random() < 0.6:
        lines.append(f"related: [{', '.join(slug(n) for n in others[:2])}]")
    budget = rng.randint(720, 800) - len(bottom)
    return "\n".join([*lines, "---", ""]) + "\n" + render_body(words, citer, budget)
