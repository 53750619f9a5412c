"""The reference store (clinsite.references): loading, positions, checks, lazy formatting."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from conftest_refs_helpers import SAMPLE_BIB, write_refs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pybtex.database import Entry

from clinsite.diagnostics import Diagnostic
from clinsite.references import Reference, ReferenceStore, load_references
from clinsite.vancouver import FormattedReference, format_entry


def load(tmp_path: Path, files: Mapping[str, str | bytes]) -> tuple[ReferenceStore, list[str]]:
    """Load `files` as ``references/*`` and return the store and formatted diagnostics."""
    store, problems = load_references(write_refs(tmp_path, files))
    return store, [d.format() for d in sorted(problems)]


def load_one(tmp_path: Path, bib: str | bytes) -> tuple[ReferenceStore, list[str]]:
    return load(tmp_path, {"x.bib": bib})


# --- the sample store -----------------------------------------------------------------


def test_sample_loads_cleanly(tmp_path: Path) -> None:
    store, problems = load(tmp_path, {"sample.bib": SAMPLE_BIB})
    assert problems == []
    assert store.keys() == [
        "bacon2003resistance",
        "balfour1994management",
        "foscavir_label",
        "gilbert2002resistance",
        "lalezari1997cidofovir",
        "oipanel_adult_hsv",
        "piret2011resistance",
        "safrin1991foscarnet",
        "schalkwijk2022acyclovir",
        "spruance2003valacyclovir",
        "valtrex2022label",
        "weller1993pharmacokinetics",
        "workowski2021sti",
    ]
    assert len(store) == 13
    assert list(store) == store.keys()


@pytest.mark.parametrize(
    ("key", "line", "col"),
    [
        ("workowski2021sti", 7, 10),
        ("piret2011resistance", 23, 10),
        ("oipanel_adult_hsv", 108, 7),
        ("foscavir_label", 172, 7),
    ],
)
def test_sample_locations(tmp_path: Path, key: str, line: int, col: int) -> None:
    store, _ = load(tmp_path, {"sample.bib": SAMPLE_BIB})
    assert store.location(key) == ("references/sample.bib", line, col)


def test_sample_reference_fields(tmp_path: Path) -> None:
    store, _ = load(tmp_path, {"sample.bib": SAMPLE_BIB})
    assert store.get("piret2011resistance") == Reference(
        key="piret2011resistance",
        kind="review",
        kind_label="Review",
        text="Piret J, Boivin G. Resistance of herpes simplex viruses to nucleoside analogues: "
        "mechanisms, prevalence, and management. Antimicrob Agents Chemother. "
        "2011 Feb;55(2):459-72. doi: 10.1128/AAC.00615-10. PMID: 21078929; PMCID: PMC3028810.",
        html="Piret J, Boivin G. Resistance of herpes simplex viruses to nucleoside analogues: "
        "mechanisms, prevalence, and management. Antimicrob Agents Chemother. "
        "2011 Feb;55(2):459-72. "
        'doi: <a href="https://doi.org/10.1128/AAC.00615-10">10.1128/AAC.00615-10</a>. '
        'PMID: <a href="https://pubmed.ncbi.nlm.nih.gov/21078929/">21078929</a>; '
        'PMCID: <a href="https://www.ncbi.nlm.nih.gov/pmc/articles/PMC3028810/">PMC3028810</a>.',
        doi="10.1128/AAC.00615-10",
        pmid="21078929",
        pmcid="PMC3028810",
        url=None,
        title="Resistance of herpes simplex viruses to nucleoside analogues: mechanisms, "
        "prevalence, and management",
        year="2011",
        authors=("Piret J", "Boivin G"),
        container="Antimicrob Agents Chemother",
        entry_type="article",
        path="references/sample.bib",
        line=23,
    )


def test_sample_label_fields(tmp_path: Path) -> None:
    store, _ = load(tmp_path, {"sample.bib": SAMPLE_BIB})
    ref = store.get("valtrex2022label")
    assert (ref.kind, ref.kind_label, ref.entry_type) == ("label", "Drug label", "misc")
    assert ref.authors == ("GlaxoSmithKline LLC",)
    assert ref.title == (
        "VALTREX (valacyclovir hydrochloride) tablets, for oral use: Full Prescribing Information"
    )
    assert (
        ref.url == "https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=0173-0933&searchdb=ndc"
    )
    assert (ref.doi, ref.pmid, ref.year, ref.container) == (
        None,
        None,
        "2022",
        "GlaxoSmithKline LLC",
    )


@pytest.mark.parametrize(
    ("key", "kind", "label"),
    [
        ("workowski2021sti", "guideline", "Guideline"),
        ("piret2011resistance", "review", "Review"),
        ("spruance2003valacyclovir", "research", "Research"),
        ("foscavir_label", "label", "Drug label"),
        ("oipanel_adult_hsv", "guideline", "Guideline"),
    ],
)
def test_sample_kinds(tmp_path: Path, key: str, kind: str, label: str) -> None:
    store, _ = load(tmp_path, {"sample.bib": SAMPLE_BIB})
    assert (store.get(key).kind, store.get(key).kind_label) == (kind, label)


def test_and_others_is_not_an_author(tmp_path: Path) -> None:
    store, _ = load(tmp_path, {"sample.bib": SAMPLE_BIB})
    assert store.get("weller1993pharmacokinetics").authors == ("Weller S", "Blum MR", "Doucette M")
    assert len(store.get("workowski2021sti").authors) == 9


def test_the_repository_store_formats(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    store, problems = load_references(root)
    assert [d for d in problems if d.severity == "error"] == []
    assert all(store.get(key).text for key in store)


# --- formatting happens once, on first use ----------------------------------------------


def test_entries_are_formatted_once_and_only_when_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def counting(entry: Entry) -> FormattedReference:
        calls.append(entry.key)
        return format_entry(entry)

    monkeypatch.setattr("clinsite.vancouver.format_entry", counting)
    store, _ = load(tmp_path, {"sample.bib": SAMPLE_BIB})
    assert calls == []
    first = store.get("piret2011resistance")
    assert store.get("piret2011resistance") is first
    store.get("bacon2003resistance")
    assert calls == ["piret2011resistance", "bacon2003resistance"]


def test_store_lookups(tmp_path: Path) -> None:
    store, _ = load(tmp_path, {"sample.bib": SAMPLE_BIB})
    assert "piret2011resistance" in store
    assert "Piret2011resistance" not in store  # citing is case-sensitive
    assert store.close_matches("piret2011resistanse") == " (did you mean 'piret2011resistance'?)"
    with pytest.raises(KeyError):
        store.get("nope")


def test_no_references_folder(tmp_path: Path) -> None:
    store, problems = load_references(tmp_path)
    assert (len(store), problems) == (0, [])


def test_only_bib_files_in_name_order(tmp_path: Path) -> None:
    files = {"b.bib": "@misc{k, title={B}}", "a.bib": "@misc{k, title={A}}", "c.txt": "@misc{z,}"}
    store, problems = load(tmp_path, files)
    assert store.keys() == ["k"]
    assert store.get("k").title == "A"
    assert problems == [
        "references/b.bib:1:7: error: duplicate reference key 'k' "
        "(first defined at references/a.bib:1) [duplicate-reference]"
    ]


# --- duplicates -------------------------------------------------------------------------


def test_duplicate_key_across_files(tmp_path: Path) -> None:
    a = "% a\n" * 11 + "@article{smith2019,\n  title = {A}, author={A, B}, journal={J}, year=1}\n"
    b = "\n\n  @article{smith2019, title = {B}, author={A, B}, journal={J}, year=1}\n"
    store, problems = load(tmp_path, {"a.bib": a, "b.bib": b})
    assert problems == [
        "references/b.bib:3:12: error: duplicate reference key 'smith2019' "
        "(first defined at references/a.bib:12) [duplicate-reference]"
    ]
    assert store.get("smith2019").title == "A"
    assert store.location("smith2019") == ("references/a.bib", 12, 10)


def test_duplicate_key_in_one_file(tmp_path: Path) -> None:
    bib = "@misc{dup, title={One}}\n@misc{other, title={x}}\n@misc{dup, title={Two}}\n"
    store, problems = load_one(tmp_path, bib)
    assert problems == [
        "references/x.bib:3:7: error: duplicate reference key 'dup' "
        "(first defined at references/x.bib:1) [duplicate-reference]"
    ]
    assert store.keys() == ["dup", "other"]


def test_keys_differing_only_in_case_are_duplicates(tmp_path: Path) -> None:
    store, problems = load_one(tmp_path, "@misc{Smith2019, title={A}}\n@misc{smith2019, title={B}}")
    assert problems == [
        "references/x.bib:2:7: error: duplicate reference key 'smith2019' (first defined at "
        "references/x.bib:1 as 'Smith2019'; keys differing only in case are the same in BibTeX) "
        "[duplicate-reference]"
    ]
    assert store.keys() == ["Smith2019"]


def test_pybtex_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load_one(tmp_path, "@misc{a, title={A}}\n@misc{a, title={B}}\n@misc{b, title = }\n")
    assert capsys.readouterr() == ("", "")


# --- syntax errors: reported with positions, the rest of the file still loads -----------

SYNTAX = {
    "field without =": (
        "@article{broken,\n  author = {X, Y},\n  title {Missing equals},\n}\n",
        "3:9: error: expected '=' after field name 'title' in entry 'broken'",
    ),
    "missing key": (
        "@article{\n  title = {no key}\n}\n",
        "2:3: error: missing entry key (write it before the first field)",
    ),
    "empty key": (
        "@article{, title = {no key}}\n",
        "1:10: error: missing entry key (write it before the first field)",
    ),
    "unbalanced brace": (
        "@article{a,\n  title = {abc,\n  year = {2020},\n}\n",
        "1:1: error: entry 'a' is not closed before the next entry "
        "(a missing '}' or an unbalanced '{' in a field)",
    ),
    "unterminated string": (
        '@article{a,\n  title = "abc,\n  year = 2020\n}\n',
        "2:11: error: unbalanced '}' or a missing closing '\"' in the value of field 'title' "
        "in entry 'a'",
    ),
    "brace never closed": (
        "@article{a,\n  title = {abc\n",
        "2:11: error: unterminated value of field 'title' in entry 'a': an unbalanced '{' "
        "or a missing closing '\"'",
    ),
    "missing comma": (
        "@misc{a,\n  title = {x}\n  year = {2020}\n}\n",
        "3:3: error: expected ',' or '}' in entry 'a'",
    ),
    "no entry type": (
        "@{a, title={x}}\n",
        "1:2: error: expected an entry type after '@' (such as @article)",
    ),
    "no opening brace": ("@misc a, title={x}}\n", "1:7: error: expected '{' after '@misc'"),
    "missing value": (
        "@misc{a,\n  title = ,\n}\n",
        "2:11: error: expected a value after 'title =' in entry 'a' "
        '(a {braced} or "quoted" text, a number or a @string name)',
    ),
    "undefined string": (
        "@misc{a, title={x}, month = sept}\n",
        "1:29: error: undefined string 'sept' (did you mean 'sep'?)",
    ),
    "unterminated comment": (
        "@comment{ oops\n",
        "1:1: error: unterminated @comment: an unbalanced '{'",
    ),
}


@pytest.mark.parametrize("case", sorted(SYNTAX))
def test_syntax_errors(tmp_path: Path, case: str) -> None:
    bib, expected = SYNTAX[case]
    good = "\n@misc{good, title={Good}, year=2020}\n"
    store, problems = load_one(tmp_path, bib + good)
    assert problems == [f"references/x.bib:{expected} [bibtex-syntax]"]
    assert "good" in store


def test_every_broken_entry_is_reported(tmp_path: Path) -> None:
    bib = (
        "@misc{one, title {x}}\n"
        "@misc{fine1, title={ok}}\n"
        "@misc{two, title = }\n"
        "@misc{fine2, title={ok}}\n"
        "@misc{three, title={x}\n"
        "@misc{fine3, title={ok}}\n"
    )
    store, problems = load_one(tmp_path, bib)
    assert store.keys() == ["fine1", "fine2", "fine3"]
    assert problems == [
        "references/x.bib:1:18: error: expected '=' after field name 'title' in entry 'one' "
        "[bibtex-syntax]",
        "references/x.bib:3:20: error: expected a value after 'title =' in entry 'two' "
        '(a {braced} or "quoted" text, a number or a @string name) [bibtex-syntax]',
        "references/x.bib:5:1: error: entry 'three' is not closed before the next entry "
        "(a missing '}' or an unbalanced '{' in a field) [bibtex-syntax]",
    ]


def test_comments_strings_and_preambles(tmp_path: Path) -> None:
    bib = (
        "% @misc{commented, title={C}}\n"
        "@comment{ @misc{incomment, title={I}} }\n"
        '@preamble{"\\newcommand{\\x}{y}"}\n'
        '@string{nejm = "N Engl J Med"}\n'
        '@article{a, author={A, B}, title={T}, journal=nejm # " (Boston)", year=2020, month=mar}\n'
        "@misc(paren, title={Parenthesised})\n"
    )
    store, problems = load_one(tmp_path, bib)
    assert problems == []
    assert store.keys() == ["a", "paren"]
    assert store.get("a").text == "A B. T. N Engl J Med (Boston). 2020 Mar."


def test_strings_carry_across_files_in_order(tmp_path: Path) -> None:
    files = {"a.bib": '@string{j = "J Things"}', "b.bib": "@misc{k, title={T}, publisher=j}"}
    store, problems = load(tmp_path, files)
    assert (problems, store.get("k").container) == ([], "J Things")


def test_duplicate_field_keeps_the_first(tmp_path: Path) -> None:
    store, problems = load_one(tmp_path, "@misc{a,\n  title={First},\n  TITLE={Second}\n}")
    assert problems == [
        "references/x.bib:3:3: warning: field 'title' given twice in entry 'a'; first value used "
        "[duplicate-field]"
    ]
    assert store.get("a").title == "First"


def test_name_with_too_many_commas(tmp_path: Path) -> None:
    bib = "@article{a, author={Smith, Jr, John, Extra and Doe, A}, title={T}, journal={J}, year=1}"
    store, problems = load_one(tmp_path, bib)
    assert problems == [
        "references/x.bib:1:20: error: author name 'Smith, Jr, John, Extra' in entry 'a' has too "
        "many commas; write 'Last, First' or 'Last, Jr, First' [invalid-reference-field]"
    ]
    assert store.get("a").authors == ("Smith JE Jr", "Doe A")


# --- encodings and line endings ---------------------------------------------------------


def test_not_utf8(tmp_path: Path) -> None:
    data = b"@misc{a, title={ok}}\n@misc{enc, title = {caf\xe9}}\n"
    store, problems = load_one(tmp_path, data)
    assert problems == [
        "references/x.bib:2:24: error: file is not valid UTF-8 (byte 0xe9); save it as UTF-8 "
        "[encoding]"
    ]
    assert store.keys() == ["a", "enc"]


def test_bad_byte_after_multibyte_characters(tmp_path: Path) -> None:
    data = "% ééé\n%  ü ".encode() + b"\xff\n"
    _, problems = load_one(tmp_path, data)
    assert problems == [
        "references/x.bib:2:6: error: file is not valid UTF-8 (byte 0xff); save it as UTF-8 "
        "[encoding]"
    ]


def test_crlf_and_bom_positions(tmp_path: Path) -> None:
    data = "\ufeff@misc{a,\r\n  title = {x},\r\n  kind = {nope}\r\n}\r\n".encode()
    _, problems = load_one(tmp_path, data)
    assert problems == [
        "references/x.bib:3:10: error: unknown kind 'nope' in entry 'a'; expected one of "
        "guideline, research, review, label, book, web [invalid-reference-field]"
    ]


# --- kinds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry_type", "kind"),
    [
        ("article", "research"),
        ("book", "book"),
        ("inbook", "book"),
        ("incollection", "book"),
        ("inproceedings", "book"),
        ("proceedings", "book"),
        ("misc", "web"),
        ("online", "web"),
        ("manual", "web"),
        ("electronic", "web"),
        ("techreport", "research"),
        ("phdthesis", "research"),
        ("unpublished", "research"),
    ],
)
def test_default_kind(tmp_path: Path, entry_type: str, kind: str) -> None:
    store, _ = load_one(tmp_path, f"@{entry_type}{{a, title={{T}}}}")
    assert store.get("a").kind == kind


def test_kind_labels(tmp_path: Path) -> None:
    kinds = ["guideline", "research", "review", "label", "book", "web"]
    bib = "".join(f"@misc{{{k}, title={{T}}, kind={{{k}}}}}\n" for k in kinds)
    store, _ = load_one(tmp_path, bib)
    labels = [store.get(k).kind_label for k in kinds]
    assert labels == ["Guideline", "Research", "Review", "Drug label", "Book", "Web page"]


def test_kind_is_case_insensitive(tmp_path: Path) -> None:
    store, problems = load_one(tmp_path, "@misc{a, title={T}, kind={Guideline}}")
    assert (problems, store.get("a").kind) == ([], "guideline")


def test_unknown_kind(tmp_path: Path) -> None:
    store, problems = load_one(tmp_path, "@misc{a,\n  title={T},\n  kind = {guidline}\n}")
    assert problems == [
        "references/x.bib:3:10: error: unknown kind 'guidline' in entry 'a' "
        "(did you mean 'guideline'?); expected one of guideline, research, review, label, book, "
        "web [invalid-reference-field]"
    ]
    assert store.get("a").kind == "web"


# --- identifiers ------------------------------------------------------------------------


def test_doi_url_is_normalised(tmp_path: Path) -> None:
    store, problems = load_one(tmp_path, "@misc{a, title={T}, doi={https://doi.org/10.1000/ABC}}")
    assert problems == []
    assert store.get("a").doi == "10.1000/ABC"
    assert store.get("a").text == "T. doi: 10.1000/ABC."


INVALID = {
    "doi": ("10.12/x", "a DOI such as 10.1128/AAC.00615-10"),
    "pmid": ("PMID123", "a PubMed id of digits only, such as 21078929"),
    "pmcid": ("3028810", "a PubMed Central id such as PMC3028810"),
    "url": ("javascript:alert(1)", "an http:// or https:// address"),
    "urldate": ("2026-02-30", "a date as YYYY-MM-DD"),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_identifier(tmp_path: Path, name: str) -> None:
    value, expected = INVALID[name]
    bib = f"@misc{{a,\n  title = {{T}},\n  {name} = {{{value}}}\n}}"
    store, problems = load_one(tmp_path, bib)
    col = len(name) + 6
    assert problems == [
        f"references/x.bib:3:{col}: error: invalid {name} '{value}' in entry 'a': "
        f"expected {expected} [invalid-reference-field]"
    ]
    ref = store.get("a")
    assert getattr(ref, name, None) is None
    assert value not in ref.text and value not in ref.html
    assert ref.html == "T."


def test_url_without_urldate_and_with_one(tmp_path: Path) -> None:
    bib = "@online{a, title={T}, url={http://x.org/a}, urldate={2025-01-02}}"
    store, problems = load_one(tmp_path, bib)
    assert problems == []
    assert store.get("a").text == "T [Internet]. [cited 2025 Jan 2]. Available from: http://x.org/a"


# --- incomplete entries -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("bib", "message"),
    [
        (
            "@article{a, author={A, B}, title={T}}",
            "reference 'a' (@article) is missing journal, year",
        ),
        (
            "@book{a, title={T}, year=1}",
            "reference 'a' (@book) is missing author or editor, publisher",
        ),
        ("@online{a, title={T}}", "reference 'a' (@online) is missing url"),
        ("@misc{a, note={only a note}}", "reference 'a' (@misc) is missing title"),
        (
            "@article{a, author={A, B}, title={T}, journal={J}, year={ }}",
            "reference 'a' (@article) is missing year",
        ),
    ],
)
def test_incomplete_reference(tmp_path: Path, bib: str, message: str) -> None:
    store, problems = load_one(tmp_path, bib)
    assert problems == [
        f"references/x.bib:1:{bib.index('{') + 2}: warning: {message} [incomplete-reference]"
    ]
    assert store.get("a").text  # still formatted, as well as it can be (at worst: the key)


def test_book_with_editor_is_complete(tmp_path: Path) -> None:
    _, problems = load_one(tmp_path, "@book{a, editor={E, F}, title={T}, publisher={P}, year=1}")
    assert problems == []


# --- robustness and speed ---------------------------------------------------------------

BIB_ATOMS = [
    "@article{",
    "@misc(",
    "@string{",
    "@comment",
    "k1,",
    "author = ",
    "title=",
    "{",
    "}",
    '"',
    ",",
    "=",
    "#",
    "%",
    "\n",
    " ",
    "and others",
    "{\\'e}",
    "\\",
    "Smith, J",
    "jan",
    "doi = {10.1000/x}",
    "url = {http://a.b}",
    "kind = {x}",
    "--",
    ")",
    "\r\n",
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(BIB_ATOMS), max_size=40), st.binary(max_size=8))
def test_any_input_gives_diagnostics_not_tracebacks(
    tmp_path: Path, atoms: list[str], tail: bytes
) -> None:
    store, problems = load_references(
        write_refs(tmp_path, {"x.bib": "".join(atoms).encode() + tail})
    )
    assert all(isinstance(d, Diagnostic) and d.line >= 1 and d.col >= 1 for d in problems)
    for key in store:
        assert store.get(key).html is not None


def test_two_thousand_entries_load_fast(tmp_path: Path) -> None:
    entry = (
        "@article{{key{i},\n  author = {{Surname{i}, Given M. and Other{i}, Ann}},\n"
        "  title = {{A trial number {i} of {{HIV}} therapy}},\n  journal = {{J Infect Dis}},\n"
        "  year = {{2001}},\n  month = mar,\n  volume = {{{i}}},\n  number = {{2}},\n"
        "  pages = {{100--110}},\n  doi = {{10.1000/t.{i}}},\n  pmid = {{{i}}},\n"
        "  kind = {{research}},\n}}\n"
    )
    root = write_refs(tmp_path, {"big.bib": "".join(entry.format(i=i) for i in range(2000))})
    start = time.perf_counter()
    store, problems = load_references(root)
    elapsed = time.perf_counter() - start
    assert (len(store), problems) == (2000, [])
    assert elapsed < 2.0  # about 0.4 s on a slow CI machine; generous against noise


def test_the_cached_store_keeps_every_entry_digest(tmp_path: Path) -> None:
    """An edit build compares every cited entry's digest with the last build's: the
    pickled store carries them, so they are hashed once per change of a .bib file."""
    root = write_refs(tmp_path, {"sample.bib": SAMPLE_BIB})
    fresh, _ = load_references(root)
    expected = {key: fresh.digest(key) for key in fresh}
    load_references(root, tmp_path / "cache")  # parses, and keeps the store
    kept, problems = load_references(root, tmp_path / "cache")
    assert problems == []
    assert kept._digests == expected and len(expected) == len(kept) > 10
    assert len(list((tmp_path / "cache").glob("references-*.pickle"))) == 1
    # A changed entry is a changed file: a new store, with the new digest.
    (root / "references/sample.bib").write_text(SAMPLE_BIB.replace("{2021}", "{2022}", 1))
    changed, _ = load_references(root, tmp_path / "cache")
    assert [key for key in changed if changed.digest(key) != expected[key]] != []
    assert len(list((tmp_path / "cache").glob("references-*.pickle"))) == 1


A_BIB = """@string{jrn = {Journal of Tests}}
@article{alpha2020, author = {Alpha, Ann}, title = {First}, journal = jrn, year = {2020}}
"""
B_BIB = """@article{beta2021, author = {Beta, Bob}, title = {Second}, journal = jrn, year = {2021}}
@article{Alpha2020, author = {Gamma, Gil}, title = {Again}, journal = {J}, year = {2019}}
"""
C_BIB = """@article{gamma2022, author = {Gamma, Gil}, title = {Third}, journal = {J}, year = {2022}}
"""


def test_a_changed_bib_file_is_parsed_again_alone(tmp_path: Path, monkeypatch) -> None:
    """Each file's entries are kept by its path, its bytes and the @string table the files
    before it left: editing one file parses that file again (and the files after it only
    if it changed an @string); the store and problems are those of a fresh parse."""
    import clinsite.references as references

    root = write_refs(tmp_path, {"a.bib": A_BIB, "b.bib": B_BIB, "c.bib": C_BIB})
    parsed: list[str] = []
    real = references._parse_file

    def counting(path, rel, table):
        parsed.append(rel)
        return real(path, rel, table)

    monkeypatch.setattr(references, "_parse_file", counting)
    cache_dir = tmp_path / "cache"

    def loaded() -> tuple[list[tuple[str, str]], list[str]]:
        store, problems = load_references(root, cache_dir)
        fresh, fresh_problems = references._parse_all(root, sorted(
            (root / "references").glob("*.bib")))
        got = ([(key, store.get(key).text) for key in store],
               [d.format() for d in sorted(problems)])
        assert got == ([(key, fresh.get(key).text) for key in fresh],
                       [d.format() for d in sorted(fresh_problems)])
        return got

    entries, problems = loaded()
    assert parsed[:3] == ["references/a.bib", "references/b.bib", "references/c.bib"]
    assert ("beta2021", "Beta B. Second. Journal of Tests. 2021.") in entries
    assert problems == ["references/b.bib:2:10: error: duplicate reference key 'Alpha2020' "
                        "(first defined at references/a.bib:2 as 'alpha2020'; keys differing "
                        "only in case are the same in BibTeX) [duplicate-reference]"]
    parsed.clear()
    (root / "references/c.bib").write_text(C_BIB.replace("Third", "Third, revised"))
    entries, _ = loaded()
    assert parsed[0] == "references/c.bib" and parsed.count("references/c.bib") == 2
    assert "references/a.bib" not in parsed[:1] and len(parsed) == 4  # (1 + a fresh 3)
    parsed.clear()
    (root / "references/a.bib").write_text(A_BIB.replace("{First}", "{First, revised}"))
    loaded()
    assert parsed[:1] == ["references/a.bib"] and len(parsed) == 4  # (its @strings held)
    parsed.clear()
    (root / "references/a.bib").write_text(A_BIB.replace("Journal of Tests", "J Tests"))
    entries, _ = loaded()
    assert parsed[:3] == ["references/a.bib", "references/b.bib", "references/c.bib"]
    assert len(parsed) == 6 and ("beta2021", "Beta B. Second. J Tests. 2021.") in entries
    assert len(list((cache_dir / references._FILES).iterdir())) == 3  # (stale ones go)
