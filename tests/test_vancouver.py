"""The Vancouver (NLM Citing Medicine) style: exact strings for every kind of entry."""

from __future__ import annotations

import pytest
from conftest_refs_helpers import SAMPLE_BIB
from pybtex.database import Entry
from pybtex.database.input.bibtex import Parser

from clinsite import vancouver
from clinsite.identifiers import latex_to_text, normalize_doi
from clinsite.vancouver import (
    FormattedReference,
    VancouverStyle,
    cited_date,
    format_entry,
    month_abbreviation,
    shorten_pages,
)


def parse(bib: str) -> Entry:
    """The one entry of a BibTeX snippet, parsed by pybtex itself."""
    (entry,) = Parser().parse_string(bib).entries.values()
    return entry


def text(bib: str) -> str:
    return format_entry(parse(bib)).text


def html(bib: str) -> str:
    return format_entry(parse(bib)).html


def article(**fields: str) -> str:
    """An @article with defaults for the fields a test does not care about."""
    values = {"author": "Smith, John", "title": "T", "journal": "J", "year": "2020", **fields}
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in values.items())
    return f"@article{{k,\n{body}\n}}"


# --- every entry of the sample store -------------------------------------------------

SAMPLE_TEXT = {
    "workowski2021sti": "Workowski KA, Bachmann LH, Chan PA, Johnston CM, Muzny CA, Park I, et al. "
    "Sexually Transmitted Infections Treatment Guidelines, 2021. MMWR Recomm Rep. "
    "2021 Jul;70(4):1-187. doi: 10.15585/mmwr.rr7004a1. PMID: 34292926; PMCID: PMC8344968.",
    "piret2011resistance": "Piret J, Boivin G. Resistance of herpes simplex viruses to nucleoside "
    "analogues: mechanisms, prevalence, and management. Antimicrob Agents Chemother. "
    "2011 Feb;55(2):459-72. doi: 10.1128/AAC.00615-10. PMID: 21078929; PMCID: PMC3028810.",
    "gilbert2002resistance": "Gilbert C, Bestman-Smith J, Boivin G. Resistance of herpesviruses "
    "to antiviral drugs: clinical impacts and molecular mechanisms. Drug Resist Updat. "
    "2002;5(2):88-114.",
    "bacon2003resistance": "Bacon TH, Levin MJ, Leary JJ, Sarisky RT, Sutton D. Herpes simplex "
    "virus resistance to acyclovir and penciclovir after two decades of antiviral therapy. "
    "Clin Microbiol Rev. 2003 Jan;16(1):114-28. doi: 10.1128/CMR.16.1.114-128.2003. "
    "PMID: 12525428; PMCID: PMC145299.",
    "spruance2003valacyclovir": "Spruance SL, Jones TM, Blatter MM, Vargas-Cortes M, Barber J, "
    "Hill J, et al. High-dose, short-duration, early valacyclovir therapy for episodic "
    "treatment of cold sores: results of two randomized, placebo-controlled, multicenter "
    "studies. Antimicrob Agents Chemother. 2003 Mar;47(3):1072-80. "
    "doi: 10.1128/AAC.47.3.1072-1080.2003. PMID: 12604544.",
    "safrin1991foscarnet": "Safrin S, Crumpacker C, Chatis P, Davis R, Hafner R, Rush J, et al. "
    "A controlled trial comparing foscarnet with vidarabine for acyclovir-resistant "
    "mucocutaneous herpes simplex in the acquired immunodeficiency syndrome. N Engl J Med. "
    "1991 Aug;325(8):551-5. doi: 10.1056/NEJM199108223250805. PMID: 1649971.",
    "lalezari1997cidofovir": "Lalezari J, et al. A randomized, double-blind, placebo-controlled "
    "trial of cidofovir gel for the treatment of acyclovir-unresponsive mucocutaneous herpes "
    "simplex virus infection in patients with AIDS. J Infect Dis. 1997;176(4):892-8.",
    "oipanel_adult_hsv": "Panel on Guidelines for the Prevention and Treatment of Opportunistic "
    "Infections in Adults and Adolescents with HIV. Guidelines for the Prevention and "
    "Treatment of Opportunistic Infections in Adults and Adolescents with HIV: Herpes Simplex "
    "Virus [Internet]. National Institutes of Health, Centers for Disease Control and "
    "Prevention, HIV Medicine Association of the Infectious Diseases Society of America; "
    "[cited 2026 Nov 21]. Available from: https://clinicalinfo.hiv.gov/en/guidelines/"
    "adult-and-adolescent-opportunistic-infection/herpes-simplex-virus",
    "valtrex2022label": "GlaxoSmithKline LLC. VALTREX (valacyclovir hydrochloride) tablets, for "
    "oral use: Full Prescribing Information [Internet]. GlaxoSmithKline LLC; 2022 "
    "[cited 2026 Nov 21]. Available from: "
    "https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=0173-0933&searchdb=ndc",
    "weller1993pharmacokinetics": "Weller S, Blum MR, Doucette M, et al. Pharmacokinetics of the "
    "acyclovir pro-drug valaciclovir after escalating single- and multiple-dose administration "
    "to normal volunteers. Clin Pharmacol Ther. 1993 Dec;54(6):595-605. "
    "doi: 10.1038/clpt.1993.196. PMID: 8275615.",
    "schalkwijk2022acyclovir": "Schalkwijk HH, Snoeck R, Andrei G. Acyclovir resistance in herpes "
    "simplex viruses: prevalence and therapeutic alternatives. Biochem Pharmacol. "
    "2022;206:115322. doi: 10.1016/j.bcp.2022.115322.",
    "balfour1994management": "Balfour HH, Benson C, Braun J, Cassens B, Erice A, Friedman-Kien A, "
    "et al. Management of acyclovir-resistant herpes simplex and varicella-zoster virus "
    "infections. J Acquir Immune Defic Syndr (1988). 1994 Mar;7(3):254-60. PMID: 8106965.",
    "foscavir_label": "Clinigen. FOSCAVIR (foscarnet sodium) injection: Prescribing Information "
    "[Internet]. Clinigen; [cited 2026 Nov 21]. Available from: "
    "https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=foscavir",
}

SAMPLE = Parser().parse_string(SAMPLE_BIB).entries


def test_every_sample_entry_has_a_golden_string() -> None:
    assert sorted(SAMPLE.keys()) == sorted(SAMPLE_TEXT)


@pytest.mark.parametrize("key", sorted(SAMPLE_TEXT))
def test_sample_entry_text(key: str) -> None:
    assert format_entry(SAMPLE[key]).text == SAMPLE_TEXT[key]


def test_sample_article_html_links_doi_pubmed_and_pmc() -> None:
    assert format_entry(SAMPLE["piret2011resistance"]).html == (
        "Piret J, Boivin G. Resistance of herpes simplex viruses to nucleoside analogues: "
        "mechanisms, prevalence, and management. Antimicrob Agents Chemother. "
        "2011 Feb;55(2):459-72. "
        'doi: <a href="https://doi.org/10.1128/AAC.00615-10">10.1128/AAC.00615-10</a>. '
        'PMID: <a href="https://pubmed.ncbi.nlm.nih.gov/21078929/">21078929</a>; '
        'PMCID: <a href="https://www.ncbi.nlm.nih.gov/pmc/articles/PMC3028810/">PMC3028810</a>.'
    )


def test_sample_label_html_links_and_escapes_the_url() -> None:
    url = "https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=0173-0933&amp;searchdb=ndc"
    assert format_entry(SAMPLE["valtrex2022label"]).html == (
        "GlaxoSmithKline LLC. VALTREX (valacyclovir hydrochloride) tablets, for oral use: "
        "Full Prescribing Information [Internet]. GlaxoSmithKline LLC; 2022 [cited 2026 Nov 21]. "
        f'Available from: <a href="{url}">{url}</a>'
    )


def test_sample_html_without_links_equals_the_text() -> None:
    entry = SAMPLE["gilbert2002resistance"]
    assert format_entry(entry) == FormattedReference(
        SAMPLE_TEXT["gilbert2002resistance"], SAMPLE_TEXT["gilbert2002resistance"]
    )


# --- authors --------------------------------------------------------------------------


def names(count: int) -> str:
    return " and ".join(f"Author{i}, Ann B." for i in range(1, count + 1))


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        ("Smith, John", "Smith J."),
        (names(6), "Author1 AB, Author2 AB, Author3 AB, Author4 AB, Author5 AB, Author6 AB."),
        (
            names(7),
            "Author1 AB, Author2 AB, Author3 AB, Author4 AB, Author5 AB, Author6 AB, et al.",
        ),
        ("Lalezari, Jacob and others", "Lalezari J, et al."),
        (
            "Weller, S. and Blum, M. R. and Doucette, M. and others",
            "Weller S, Blum MR, Doucette M, et al.",
        ),
        ("Dupont, Jean-Pierre", "Dupont JP."),
        ("van der Berg, Jan", "van der Berg J."),
        ("Smith, Jr, John Q.", "Smith JQ Jr."),
        ("Mary Ann de la Cruz", "de la Cruz MA."),
        (r"{\"O}zt{\"u}rk, {\c{S}}ebnem", "Öztürk Ş."),
        ("{{GlaxoSmithKline LLC}}", "GlaxoSmithKline LLC."),
        ("{World Health Organization} and Doe, Anna", "World Health Organization, Doe A."),
    ],
)
def test_authors(authors: str, expected: str) -> None:
    assert text(article(author=authors)) == f"{expected} T. J. 2020."


def test_no_author_starts_with_the_title() -> None:
    assert text("@article{k, title={Anonymous}, journal={J}, year=2020, volume=3}") == (
        "Anonymous. J. 2020;3."
    )


# --- titles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("{AIDS} and {HIV} in {VALTREX} users", "AIDS and HIV in VALTREX users."),
        ("lower case Is Kept AS written", "lower case Is Kept AS written."),
        (r"Caf{\'e} au lait -- a {DNA} \& {RNA} study", "Café au lait – a DNA & RNA study."),
        (r"{\"u}ber {\emph{E. coli}} in 50\% of \textit{cases}", "über E. coli in 50% of cases."),
        ("Pages 1---2 and ``quotes''", "Pages 1—2 and “quotes”."),
        ("Does it work?", "Does it work?"),
        ("It works!", "It works!"),
        ("Ends with a period.", "Ends with a period."),
    ],
)
def test_title_as_written(title: str, expected: str) -> None:
    assert text(article(title=title)) == f"Smith J. {expected} J. 2020."


def test_latex_in_the_journal_is_rendered_and_escaped_in_html() -> None:
    bib = article(journal=r"J Anat {\&} Physiol")
    assert text(bib) == "Smith J. T. J Anat & Physiol. 2020."
    assert html(bib) == "Smith J. T. J Anat &amp; Physiol. 2020."


# --- journal details ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"month": "feb", "volume": "55", "number": "2", "pages": "459--472"},
            "2020 Feb;55(2):459-72.",
        ),
        ({"volume": "206", "pages": "115322"}, "2020;206:115322."),
        ({"volume": "12", "number": "3", "pages": "e123--e130"}, "2020;12(3):e123-30."),
        ({"month": "Feb", "volume": "12", "pages": "e123"}, "2020 Feb;12:e123."),
        ({"month": "7", "volume": "1"}, "2020 Jul;1."),
        ({"month": "July", "volume": "1"}, "2020 Jul;1."),
        ({"month": "Jul-Aug", "volume": "1"}, "2020 Jul-Aug;1."),
        ({"issue": "4", "volume": "9"}, "2020;9(4)."),
        ({"pages": "1--9"}, "2020:1-9."),
        ({}, "2020."),
    ],
)
def test_journal_details(fields: dict[str, str], expected: str) -> None:
    assert text(article(**fields)) == f"Smith J. T. J. {expected}"


@pytest.mark.parametrize(
    ("pages", "expected"),
    [
        ("459--472", "459-72"),
        ("1072--1080", "1072-80"),
        ("1--187", "1-187"),
        ("551--555", "551-5"),
        ("595--605", "595-605"),
        ("254--260", "254-60"),
        ("88--114", "88-114"),
        ("e123", "e123"),
        ("e123--e130", "e123-30"),
        ("S12-S15", "S12-5"),
        ("45--45", "45"),
        ("1234--56", "1234-56"),
        ("459\u2013472", "459-72"),
        ("12--15, 20--25", "12-5, 20-5"),
        ("xii--xiv", "xii-xiv"),
    ],
)
def test_shorten_pages(pages: str, expected: str) -> None:
    assert shorten_pages(pages) == expected


# --- other entry types ----------------------------------------------------------------

OTHER_TYPES = {
    "book": (
        "@book{k, author={Smith, John}, title={Clinical {HIV} Medicine}, edition={3},"
        " address={New York}, publisher={Springer}, year=2019, note={not printed}}",
        "Smith J. Clinical HIV Medicine. 3rd ed. New York: Springer; 2019.",
    ),
    "book with editors": (
        "@book{k, editor={Smith, John and Doe, Anna}, title={Handbook}, publisher={Elsevier},"
        " address={London}, year=2019, edition={2nd}}",
        "Smith J, Doe A, editors. Handbook. 2nd ed. London: Elsevier; 2019.",
    ),
    "incollection": (
        "@incollection{k, author={Doe, Anna}, title={Antiviral resistance},"
        " editor={Smith, John and Roe, Rich}, booktitle={Viral Infections of Humans},"
        " edition={5}, address={Boston}, publisher={Springer}, year=2014, pages={45--67}}",
        "Doe A. Antiviral resistance. In: Smith J, Roe R, editors. Viral Infections of Humans."
        " 5th ed. Boston: Springer; 2014. p. 45-67.",
    ),
    "incollection with one editor": (
        "@incollection{k, author={Doe, Anna}, title={Chapter}, editor={Smith, John},"
        " booktitle={Book}, publisher={P}, year=2014, pages={101--109}}",
        "Doe A. Chapter. In: Smith J, editor. Book. P; 2014. p. 101-9.",
    ),
    "inbook (BibTeX: part of a book)": (
        "@inbook{k, author={Doe, Anna}, title={Whole Book}, chapter={4}, publisher={P},"
        " address={Place}, year=2014, pages={101--109}}",
        "Doe A. Whole Book. Place: P; 2014. p. 101-9.",
    ),
    "inbook (biblatex: a chapter)": (
        "@inbook{k, author={Doe, Anna}, title={Chapter}, booktitle={Book}, publisher={P},"
        " year=2014, pages={1--9}}",
        "Doe A. Chapter. In: Book. P; 2014. p. 1-9.",
    ),
    "inproceedings": (
        "@inproceedings{k, author={Doe, Anna}, title={A Talk},"
        " booktitle={Proceedings of the 10th Conference}, organization={Society},"
        " address={Paris}, year=2014, pages={12--15}}",
        "Doe A. A Talk. In: Proceedings of the 10th Conference. Paris: Society; 2014. p. 12-5.",
    ),
    "techreport": (
        "@techreport{k, author={Doe, Anna}, title={Report on things}, institution={WHO},"
        " address={Geneva}, year=2019, number={WHO/HIV/2019.1}}",
        "Doe A. Report on things. Geneva: WHO; 2019. Report No.: WHO/HIV/2019.1.",
    ),
    "techreport with url": (
        "@techreport{k, author={Doe, Anna}, title={Report on things}, institution={WHO},"
        " address={Geneva}, year=2019, number={7}, url={https://who.int/r.pdf},"
        " urldate={2024-03-05}}",
        "Doe A. Report on things [Internet]. Geneva: WHO; 2019 [cited 2024 Mar 5]."
        " Report No.: 7. Available from: https://who.int/r.pdf",
    ),
    "phdthesis": (
        "@phdthesis{k, author={Doe, Anna}, title={Resistance}, school={University of Oxford},"
        " address={Oxford}, year=2010}",
        "Doe A. Resistance [dissertation]. Oxford: University of Oxford; 2010.",
    ),
    "mastersthesis with url": (
        "@mastersthesis{k, author={Doe, Anna}, title={Resistance}, school={MIT}, year=2010,"
        " url={https://x.org/t}}",
        "Doe A. Resistance [master's thesis on the Internet]. MIT; 2010."
        " Available from: https://x.org/t",
    ),
    "unpublished": (
        "@unpublished{k, author={Doe, Anna}, title={Draft}, note={in preparation}, year=2024}",
        "Doe A. Draft [unpublished manuscript]. 2024.",
    ),
    "misc without year": (
        "@misc{k, title={Page}, publisher={NHS}, url={https://nhs.uk/x}, urldate={2025-01-09},"
        " howpublished={web}, note={n}, kind={web}}",
        "Page [Internet]. NHS; [cited 2025 Jan 9]. Available from: https://nhs.uk/x",
    ),
    "misc without url": (
        "@misc{k, author={{CDC}}, title={Fact sheet}, organization={CDC}, year=2020}",
        "CDC. Fact sheet. CDC; 2020.",
    ),
    "online": (
        "@online{k, title={Page}, organization={NICE}, year={2023}, url={https://nice.org.uk/g}}",
        "Page [Internet]. NICE; 2023. Available from: https://nice.org.uk/g",
    ),
    "manual": (
        "@manual{k, title={Device manual}, organization={Acme}, year={2021}}",
        "Device manual. Acme; 2021.",
    ),
    "unknown type falls back to misc": (
        "@patent{k, author={Doe, Anna}, title={Widget}, year={2001}, publisher={USPTO}}",
        "Doe A. Widget. USPTO; 2001.",
    ),
    "article with url and a doi.org doi": (
        "@article{k, author={A, B}, title={T}, journal={J}, year=2020, volume=1,"
        " url={https://j.org/a}, urldate={2024-01-01}, doi={https://doi.org/10.1000/XYZ}}",
        "A B. T. J. 2020;1. doi: 10.1000/XYZ. Available from: https://j.org/a",
    ),
}


@pytest.mark.parametrize("case", sorted(OTHER_TYPES))
def test_entry_types(case: str) -> None:
    bib, expected = OTHER_TYPES[case]
    assert text(bib) == expected


def test_note_howpublished_and_kind_are_not_printed() -> None:
    bib = article(note="secret note", howpublished="secret how", kind="guideline")
    assert "secret" not in text(bib)
    assert "guideline" not in text(bib)


# --- HTML safety ------------------------------------------------------------------------


def test_hostile_values_are_escaped_and_never_linked() -> None:
    bib = (
        '@misc{k, title={<script>alert(1)</script> & "q"}, url={javascript:alert(1)},'
        ' doi={10.1000/<b>"x"}, pmid={12a}, pmcid={PMC1}}'
    )
    assert html(bib) == (
        '&lt;script&gt;alert(1)&lt;/script&gt; &amp; "q". '
        'doi: <a href="https://doi.org/10.1000/%3Cb%3E%22x%22">10.1000/&lt;b&gt;"x"</a>. '
        "PMID: 12a; "
        'PMCID: <a href="https://www.ncbi.nlm.nih.gov/pmc/articles/PMC1/">PMC1</a>. '
        "Available from: javascript:alert(1)"
    )


def test_url_quotes_are_escaped_in_the_attribute() -> None:
    assert html('@misc{k, title={T}, url={https://e.org/?a="b"&c=<d>}}') == (
        'T [Internet]. Available from: <a href="https://e.org/?a=&quot;b&quot;&amp;c=&lt;d&gt;">'
        'https://e.org/?a="b"&amp;c=&lt;d&gt;</a>'
    )


@pytest.mark.parametrize("url", ["ftp://x.org/a", "data:text/html,x", "//x.org", "https://"])
def test_only_http_urls_become_links(url: str) -> None:
    assert "<a " not in html(f"@misc{{k, title={{T}}, url={{{url}}}}}")


def test_no_bibtex_protected_spans() -> None:
    assert "span" not in format_entry(SAMPLE["lalezari1997cidofovir"]).html


# --- helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.1128/AAC.00615-10", "10.1128/AAC.00615-10"),
        ("https://doi.org/10.1128/x", "10.1128/x"),
        ("http://dx.doi.org/10.1128/x", "10.1128/x"),
        ("doi: 10.1128/x", "10.1128/x"),
        ("10.12/x", None),
        ("11.1128/x", None),
        ("10.1128/", None),
        ("10.1128/a b", None),
    ],
)
def test_normalize_doi(value: str, expected: str | None) -> None:
    assert normalize_doi(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-21", "2026 Nov 21"),
        ("2024-03-05", "2024 Mar 5"),
        ("2024-03", "2024 Mar"),
        ("2024", "2024"),
        ("21/11/2026", "21/11/2026"),
    ],
)
def test_cited_date(value: str, expected: str) -> None:
    assert cited_date(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("January", "Jan"), ("feb", "Feb"), ("12", "Dec"), ("13", "13"), ("Spring", "Spring")],
)
def test_month_abbreviation(value: str, expected: str) -> None:
    assert month_abbreviation(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("a  b\n c", "a b c"), ("x \\", "x \\"), ("{{A}}", "A"), (r"\{x\}", "{x}"), ("a~b", "a b")],
)
def test_latex_to_text_edge_cases(value: str, expected: str) -> None:
    assert latex_to_text(value) == expected


# --- the style object -----------------------------------------------------------------


def test_format_entry_reuses_one_style(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a style object was created per call")

    monkeypatch.setattr(VancouverStyle, "__init__", refuse)
    assert format_entry(SAMPLE["piret2011resistance"]).text == SAMPLE_TEXT["piret2011resistance"]


def test_pybtex_entry_point_formats_any_type() -> None:
    entry = parse("@patent{k, author={Doe, Anna}, title={Widget}, year={2001}}")
    formatted = VancouverStyle().format_entry("1", entry)
    assert formatted.text.render_as("text") == "Doe A. Widget. 2001."


def test_an_entry_with_nothing_printable_shows_its_key() -> None:
    entry = parse("@misc{<odd>key, note={only a note}}")
    assert format_entry(entry) == FormattedReference("<odd>key", "&lt;odd&gt;key")


def test_templates_are_built_once() -> None:
    style = vancouver.VancouverStyle()
    entry = SAMPLE["piret2011resistance"]
    assert style.template_for(entry) is style.template_for(entry) is vancouver.ARTICLE
