"""BibTeX entries of the benchmark corpus: ~95% @article, ~5% @misc web guidelines.

Articles have 1–9 authors with given names (a few with LaTeX accents), title, journal,
year, month, volume, number, pages, DOI and PMID; guidelines a URL and an urldate.
"""

from __future__ import annotations

import random
import re

from clinsite.bench import vocab
from clinsite.bench.words import Words


def _author(rng: random.Random) -> tuple[str, str]:
    """(``Surname, Given M.`` as BibTeX, the surname for the key)."""
    if rng.random() < 0.06:
        surname, plain = rng.choice(vocab.ACCENTED)
    else:
        surname = rng.choice(vocab.SURNAMES)
        plain = re.sub(r"[^a-z]", "", surname.lower())
        surname = "{" + surname + "}" if " " in surname else surname
    given = rng.choice(vocab.GIVEN)
    if rng.random() < 0.5:
        given += f" {chr(rng.randint(65, 90))}."
    return f"{surname}, {given}", plain


def _ref_title(words: Words) -> str:
    subtitle = words.rng.choice(("", "", ": a randomised controlled trial",
                           ": a systematic review and meta-analysis",
                           ": a 12--month prospective cohort study", " in {HIV} infection"))
    return " ".join(words.sentence(6, 14)) + subtitle


def _article(words: Words, index: int) -> tuple[str, str]:
    rng = words.rng
    size = rng.choices(range(1, 10), (2, 3, 4, 5, 5, 4, 3, 2, 2))[0]
    authors = [_author(rng) for _ in range(size)]
    year = rng.randint(1995, 2025)
    title = _ref_title(words)
    key = f"{authors[0][1]}{year}{rng.choice(vocab.WORDS)}"
    first = rng.randint(1, 1900)
    fields = [
        ("author", " and ".join(name for name, _ in authors)), ("title", title),
        ("journal", rng.choice(vocab.JOURNALS)), ("year", str(year)),
        ("month", rng.choice(vocab.MONTHS)), ("volume", str(rng.randint(1, 400))),
        ("number", str(rng.randint(1, 12))), ("pages", f"{first}--{first + rng.randint(3, 18)}"),
        ("doi", f"10.{5000 + index % 4000}/bench.{year}.{index:05d}"),
        ("pmid", str(20_000_000 + index * 7)),
    ]
    if "systematic review" in title:
        fields.append(("kind", "review"))
    return key, _entry("article", key, fields)


def _guideline(words: Words, index: int) -> tuple[str, str]:
    rng = words.rng
    organisation, host = rng.choice(vocab.ORGANISATIONS)
    year = rng.randint(2012, 2025)
    condition = rng.choice(vocab.CONDITIONS)
    key = f"{host.split('.')[1]}{year}{condition.split()[0]}"
    fields = [
        ("author", "{" + organisation + "}"),
        ("title", f"{condition.capitalize()}: diagnosis and management (guideline {index})"),
        ("year", str(year)), ("url", f"https://{host}/guidance/bench-{index:05d}"),
        ("urldate", f"2026-{rng.randint(1, 9):02d}-{rng.randint(1, 28):02d}"),
        ("kind", "guideline"),
    ]
    return key, _entry("misc", key, fields)


def _entry(kind: str, key: str, fields: list[tuple[str, str]]) -> str:
    body = ",\n".join(f"  {name:<7} = {value}" if name == "month" else f"  {name:<7} = {{{value}}}"
                      for name, value in fields)
    return f"@{kind}{{{key},\n{body}\n}}\n"


def make_references(words: Words, count: int) -> tuple[list[str], list[str]]:
    """`count` unique keys and their BibTeX entries: mostly @article, ~5% @misc guidelines."""
    keys: list[str] = []
    entries: list[str] = []
    seen: set[str] = set()
    for index in range(count):
        maker = _guideline if words.random() < 0.05 else _article
        key, text = maker(words, index)
        unique, suffix = key, 1
        while unique in seen:
            suffix += 1
            unique = f"{key}{chr(96 + suffix) if suffix <= 26 else suffix}"
        seen.add(unique)
        keys.append(unique)
        entries.append(text.replace(f"{{{key},", f"{{{unique},", 1))
    return keys, entries
