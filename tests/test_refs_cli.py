"""`clinsite refs import | add | check`: exact BibTeX from each export format, duplicates
refused, identifiers fetched from a local fixture server, the store's problems listed."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from click.testing import CliRunner

from clinsite.cli import cli
from clinsite.identifiers import latex_to_text
from clinsite.references import load_references
from clinsite.refs.bibtex import base_key, entry_text, latex_escape, unique_key
from clinsite.refs.csl import parse_csl_json
from clinsite.refs.model import Name, Work, page_range
from tests.conftest import BIB, summary

FIXTURES = Path(__file__).parent / "fixtures" / "refs"


def run(runner: CliRunner, root: Path, *args: str):
    return runner.invoke(cli, ["refs", args[0], "--root", str(root), *args[1:]])


# --- refs import: one exact BibTeX file per export format ---

@pytest.mark.parametrize("name", ["zotero.ris", "zotero.json", "pubmed.nbib"])
def test_import_writes_exact_bibtex(make_site: Callable[..., Path], runner: CliRunner,
                                    name: str):
    root = make_site()
    result = run(runner, root, "import", str(FIXTURES / name))
    assert result.exit_code == 0, result.output
    stem, suffix = name.split(".")
    expected = (FIXTURES / f"expected-{stem}-{suffix}.bib").read_text(encoding="utf-8")
    written = (root / "references/imported.bib").read_text(encoding="utf-8")
    assert written == expected
    keys = [line.split("{")[1].rstrip(",") for line in expected.splitlines()
            if line.startswith("@")]
    assert result.stdout.splitlines()[: len(keys)] == [
        f"added {key}: {title}" for key, title in zip(keys, _titles(expected), strict=True)]
    store, problems = load_references(root)  # well formed: the pipeline reads it cleanly
    assert problems == []
    assert set(keys) <= set(store.keys())


def _titles(bib: str) -> list[str]:
    return [line.split("= {{", 1)[1].rsplit("}}", 1)[0] for line in bib.splitlines()
            if line.lstrip().startswith("title ")]


def test_imported_kinds_and_identifiers(make_site: Callable[..., Path], runner: CliRunner):
    root = make_site()
    for name in ("zotero.ris", "zotero.json"):
        assert run(runner, root, "import", str(FIXTURES / name)).exit_code == 0
    store, _ = load_references(root)
    kinds = {key: store.get(key).kind for key in store}
    assert kinds == {"smith2018": "research", "piret2011resistance": "review",
                     "patrias2007citing": "book", "worldndherpes": "web",
                     "bacon2003herpes": "research", "workowski2021sexually": "guideline",
                     "roizman2013herpes": "book"}
    piret = store.get("piret2011resistance")
    assert (piret.doi, piret.pmid) == ("10.1128/AAC.00615-10", "21078929")
    assert store.get("bacon2003herpes").pmcid == "PMC145299"


def test_import_refuses_duplicates_with_a_message_each(make_site: Callable[..., Path],
                                                       runner: CliRunner):
    root = make_site()
    source = str(FIXTURES / "zotero.ris")
    assert run(runner, root, "import", source).exit_code == 0
    before = (root / "references/imported.bib").read_bytes()
    again = run(runner, root, "import", source)
    assert again.exit_code == 0
    assert again.stdout == ""
    assert again.stderr.splitlines() == [
        f"{source}:1:1: warning: not imported: 'Resistance of herpes simplex viruses to "
        "nucleoside analogue…': its DOI 10.1128/AAC.00615-10 is already in "
        "'piret2011resistance' (references/imported.bib:4) [duplicate-reference]",
        f"{source}:24:1: warning: not imported: 'Citing Medicine: The NLM Style Guide for "
        "Authors, Editors,…': the key and title are already in 'patrias2007citing' "
        "(references/imported.bib:18) [duplicate-reference]",
        f"{source}:35:1: warning: not imported: 'Herpes simplex virus': the key and title are "
        "already in 'worldndherpes' (references/imported.bib:30) [duplicate-reference]",
        "Added 0 references to " + str(root / "references/imported.bib") +
        "; 3 duplicates refused.",
    ]
    assert (root / "references/imported.bib").read_bytes() == before


def test_import_refuses_a_pmid_the_store_has(make_site: Callable[..., Path], runner: CliRunner):
    bib = BIB.replace("  pages = {10--20},\n", "  pages = {10--20},\n  pmid = {21078929},\n")
    root = make_site({"references/refs.bib": bib})
    result = run(runner, root, "import", str(FIXTURES / "pubmed.nbib"))
    assert result.exit_code == 0
    assert ("its PMID 21078929 is already in 'smith2018' (references/refs.bib:1) "
            "[duplicate-reference]") in result.stderr
    assert "added workowski2021sexually: " in result.stdout
    assert "piret2011resistance" not in (root / "references/imported.bib").read_text("utf-8")


def test_a_different_work_with_a_taken_key_gets_a_suffix():
    work = Work("article", "research", (Name("Smith", "John"),),
                {"title": "The trial of things", "year": "2018"}, 1)
    assert base_key(work) == "smith2018trial"
    assert unique_key("smith2018trial", {"smith2018trial"}) == "smith2018triala"
    assert unique_key("smith2018trial", {"smith2018trial", "smith2018triala"}) == \
        "smith2018trialb"
    assert unique_key("Smith2018Trial", {"smith2018trial"}) == "Smith2018Triala"


def test_import_disambiguates_keys_within_one_file(make_site: Callable[..., Path],
                                                   runner: CliRunner, tmp_path: Path):
    items = [{"type": "article-journal", "title": f"Trial of things, part {n}",
              "author": [{"family": "Smith", "given": "John"}],
              "issued": {"date-parts": [[2018]]}, "container-title": "J Things"}
             for n in (1, 2, 3)]
    source = tmp_path / "three.json"
    source.write_text(json.dumps(items), encoding="utf-8")
    root = make_site()
    result = run(runner, root, "import", str(source))
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        "added smith2018trial", "added smith2018triala", "added smith2018trialb"]


def test_keys_fold_accents_skip_stopwords_and_lack_of_data():
    def key(family: str, title: str, year: str | None = "2020", literal: bool = False) -> str:
        fields = {"title": title} | ({"year": year} if year else {})
        return base_key(Work("article", None, (Name(family, "A", literal),), fields, 1))

    assert key("Müller-Lüdenscheidt", "The effect of things") == "mullerludenscheidt2020effect"
    assert key("O'Brien", "A 2019 survey") == "obrien2020survey"
    assert key("World Health Organization", "Guidelines", literal=True) == \
        "world2020guidelines"
    assert key("Smith", "What is it?") == "smith2020"
    assert key("Smith", "Trials", year=None) == "smithndtrials"
    assert base_key(Work("misc", None, (), {"title": "Web page"}, 1)) == "anonndweb"


def test_values_are_latex_escaped_and_read_back_by_the_store(make_site: Callable[..., Path],
                                                             runner: CliRunner, tmp_path: Path):
    item = {"type": "article-journal", "title": "Costs & 50% of {x} #1: snake_case ~ here",
            "author": [{"family": "Doe", "given": "Jane"}, {"literal": "Smith & Wesson Group"}],
            "container-title-short": "J. Econ. Health", "issued": {"date-parts": [[2021, 12]]},
            "page": "e1234"}
    source = tmp_path / "one.json"
    source.write_text(json.dumps([item]), encoding="utf-8")
    root = make_site()
    assert run(runner, root, "import", str(source)).exit_code == 0
    text = (root / "references/imported.bib").read_text(encoding="utf-8")
    assert text.endswith(
        "@article{doe2021costs,\n"
        "  author  = {Doe, Jane and {Smith \\& Wesson Group}},\n"
        "  title   = {{Costs \\& 50\\% of \\{x\\} \\#1: snake\\_case \\textasciitilde{} here}},\n"
        "  journal = {J Econ Health},\n"
        "  year    = {2021},\n"
        "  month   = dec,\n"
        "  pages   = {e1234},\n"
        "  kind    = {research}\n"
        "}\n")
    store, problems = load_references(root)
    assert problems == []
    assert store.get("doe2021costs").title == "Costs & 50% of {x} #1: snake_case ~ here"
    assert latex_to_text(latex_escape("a_b & c")) == "a_b & c"


def test_page_ranges():
    assert page_range("459-72") == "459--472"
    assert page_range("1072-80") == "1072--1080"
    assert page_range("114–128") == "114--128"
    assert page_range("e1234") == "e1234"
    assert page_range("S1-S10") == "S1--S10"


def test_entry_text_for_a_chapter():
    work = Work("incollection", "book", (Name("Roizman", "Bernard"),),
                {"title": "Herpes simplex viruses", "booktitle": "Fields Virology",
                 "year": "2013", "publisher": "LWW"}, 1, (Name("Knipe", "David M."),))
    assert entry_text(work, "roizman2013herpes") == (
        "@incollection{roizman2013herpes,\n"
        "  author    = {Roizman, Bernard},\n"
        "  editor    = {Knipe, David M.},\n"
        "  title     = {{Herpes simplex viruses}},\n"
        "  booktitle = {Fields Virology},\n"
        "  publisher = {LWW},\n"
        "  year      = {2013},\n"
        "  kind      = {book}\n"
        "}\n")


def test_import_appends_after_existing_entries(make_site: Callable[..., Path],
                                               runner: CliRunner):
    root = make_site()
    result = run(runner, root, "import", str(FIXTURES / "pubmed.nbib"), "--to", "refs.bib")
    assert result.exit_code == 0, result.output
    text = (root / "references/refs.bib").read_text(encoding="utf-8")
    assert text.startswith(BIB + "\n@article{piret2011resistance,\n")
    assert not (root / "references/imported.bib").exists()


@pytest.mark.parametrize(("to", "message"), [
    ("notes.txt", "the file must end in .bib"),
    ("../elsewhere.bib", "the file must be directly in"),
])
def test_import_to_must_be_a_bib_file_in_references(make_site: Callable[..., Path],
                                                    runner: CliRunner, to: str, message: str):
    root = make_site()
    target = to if "/" not in to else str(root / "references" / to)
    result = run(runner, root, "import", str(FIXTURES / "zotero.ris"), "--to", target)
    assert result.exit_code == 2
    assert message in result.output


def test_broken_input_is_reported_with_its_position(make_site: Callable[..., Path],
                                                    runner: CliRunner, tmp_path: Path):
    root = make_site()
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  {"type": "book", "title": "x",}\n]\n', encoding="utf-8")
    result = run(runner, root, "import", str(broken))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"{broken}:2:33: error: not valid JSON: Expecting property name enclosed in double "
        "quotes [json-syntax]")
    ris = tmp_path / "partial.ris"
    ris.write_text("TY  - JOUR\nAU  - Doe, Jane\nER  - \n\nTY  - BOOK\nTI  - Kept\n"
                   "PY  - 2020\nER  - \nstray text\n", encoding="utf-8")
    result = run(runner, root, "import", str(ris))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        f"{ris}:1:1: error: record has no title (TI or T1); not imported [missing-title]",
        f"{ris}:9:1: error: expected a RIS line such as 'TY  - JOUR' (two letters, two spaces, "
        "a hyphen and a space) [ris-syntax]"]
    assert result.stdout == "added anon2020kept: Kept\n"
    assert "Traceback" not in result.output


def test_unreadable_inputs_are_one_line_errors(make_site: Callable[..., Path],
                                               runner: CliRunner, tmp_path: Path):
    root = make_site()
    latin1 = tmp_path / "latin1.ris"
    latin1.write_bytes("TY  - JOUR\nTI  - Caf\u00e9\nER  - \n".encode("latin-1"))
    result = run(runner, root, "import", str(latin1))
    assert result.exit_code == 1
    assert result.output == (f"Error: {latin1} is not UTF-8 text (byte 0xe9 at offset 20); "
                             "export it again as UTF-8\n")
    unknown = tmp_path / "notes.txt"
    unknown.write_text("just some notes\n", encoding="utf-8")
    result = run(runner, root, "import", str(unknown))
    assert result.exit_code == 2
    assert "cannot tell the format" in result.output


def test_csl_items_record_their_line():
    works, problems = parse_csl_json('[\n{"title": "A"},\n\n  {"title": "B", "type": "book"}]',
                                     "x.json")
    assert problems == []
    assert [(w.line, w.entry_type, w.title) for w in works] == [(2, "misc", "A"),
                                                                (4, "book", "B")]


# --- refs add: Crossref and E-utilities, served from fixtures on 127.0.0.1 ---

@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A local stand-in for Crossref and E-utilities; yields the requests it saw."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path, query = unquote(parts.path), parse_qs(parts.query)
            seen.append(f"{path} {self.headers['Accept']}")
            body, kind = b"", "text/plain"
            if path.lower() == "/crossref/works/10.1128/aac.00615-10":
                body = (FIXTURES / "crossref-aac.00615-10.json").read_bytes()
                kind = "application/json"
            elif path == "/eutils/efetch.fcgi" and query.get("rettype") == ["medline"]:
                ident = query.get("id", [""])[0]
                fixture = FIXTURES / f"efetch-{ident}.txt"
                body = fixture.read_bytes() if fixture.is_file() else b"\n"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("CLINSITE_CROSSREF_URL", f"{base}/crossref")
    monkeypatch.setenv("CLINSITE_EUTILS_URL", f"{base}/eutils/")
    yield seen
    server.shutdown()
    server.server_close()


def test_add_by_doi_from_crossref(make_site: Callable[..., Path], runner: CliRunner,
                                  services: list[str]):
    root = make_site()
    result = run(runner, root, "add", "--doi", "https://doi.org/10.1128/AAC.00615-10")
    assert result.exit_code == 0, result.output
    assert services == ["/crossref/works/10.1128/AAC.00615-10 application/json"]
    assert result.stdout == ("added piret2011resistance: Resistance of Herpes Simplex Viruses "
                             "to Nucleoside Analogues: Mechanisms, Prevalence, and Management\n")
    assert (root / "references/imported.bib").read_text(encoding="utf-8").endswith(
        "@article{piret2011resistance,\n"
        "  author  = {Piret, Jocelyne and Boivin, Guy},\n"
        "  title   = {{Resistance of Herpes Simplex Viruses to Nucleoside Analogues: "
        "Mechanisms, Prevalence, and Management}},\n"
        "  journal = {Antimicrob Agents Chemother},\n"
        "  year    = {2011},\n"
        "  month   = feb,\n"
        "  volume  = {55},\n"
        "  number  = {2},\n"
        "  pages   = {459--472},\n"
        "  doi     = {10.1128/aac.00615-10},\n"
        "  kind    = {research}\n"
        "}\n")
    again = run(runner, root, "add", "--doi", "10.1128/AAC.00615-10")
    assert again.exit_code == 0
    assert "its DOI 10.1128/aac.00615-10 is already in 'piret2011resistance'" in again.stderr


def test_add_by_pmid_from_pubmed(make_site: Callable[..., Path], runner: CliRunner,
                                 services: list[str]):
    root = make_site()
    result = run(runner, root, "add", "--pmid", "34292926")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("added workowski2021sexually: Sexually Transmitted Infections "
                             "Treatment Guidelines, 2021\n")
    expected = (FIXTURES / "expected-pubmed-nbib.bib").read_text(encoding="utf-8")
    workowski = expected[expected.index("@article{workowski"):]
    assert (root / "references/imported.bib").read_text(encoding="utf-8").endswith(workowski)


@pytest.mark.parametrize(("args", "message"), [
    (["--doi", "10.9999/missing"], "Error: Crossref has no record of DOI 10.9999/missing\n"),
    (["--pmid", "1"], "Error: PubMed has no record with PMID 1\n"),
])
def test_add_unknown_identifiers(make_site: Callable[..., Path], runner: CliRunner,
                                 services: list[str], args: list[str], message: str):
    result = run(runner, make_site(), "add", *args)
    assert result.exit_code == 1
    assert result.output == message


def test_add_offline_is_one_clear_line(make_site: Callable[..., Path], runner: CliRunner,
                                       monkeypatch: pytest.MonkeyPatch):
    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CLINSITE_CROSSREF_URL", f"http://127.0.0.1:{port}")
    result = run(runner, make_site(), "add", "--doi", "10.1128/AAC.00615-10")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot reach Crossref at 127.0.0.1:{port} (")
    assert result.output.endswith("are you offline? Export the record and use 'clinsite refs "
                                  "import FILE' instead\n")
    assert result.output.count("\n") == 1


@pytest.mark.parametrize("args", [[], ["--doi", "10.1/x", "--pmid", "1"], ["--doi", "nope"],
                                  ["--pmid", "12a"]])
def test_add_usage_errors(make_site: Callable[..., Path], runner: CliRunner, args: list[str]):
    result = run(runner, make_site(), "add", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


# --- refs check ---

CHECK_BIB = BIB + """
@article{first2019,
  author = {Doe, Anna},
  title = {A first report},
  journal = {J Things},
  year = {2019},
  doi = {10.1000/XYZ},
  pmid = {123},
}

@article{again2019,
  author = {Doe, Anna},
  title = {A first report (again)},
  journal = {J Things},
  year = {2019},
  doi = {https://doi.org/10.1000/xyz},
  pmid = {123},
}

@book{handbook2020,
  title = {A handbook},
}
"""


def test_refs_check_lists_unused_duplicate_and_incomplete(make_site: Callable[..., Path],
                                                          runner: CliRunner):
    draft = summary("Drafted [@first2019].\n", draft="true")
    root = make_site({"references/refs.bib": CHECK_BIB, "content/summaries/draft.md": draft})
    result = run(runner, root, "check")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "references/refs.bib:20:10: warning: reference 'again2019' has the same DOI as "
        "'first2019' (references/refs.bib:11); keep one entry and cite it [duplicate-doi]",
        "references/refs.bib:20:10: warning: reference 'again2019' has the same PMID as "
        "'first2019' (references/refs.bib:11); keep one entry and cite it [duplicate-pmid]",
        "references/refs.bib:20:10: warning: reference 'again2019' is never cited "
        "[unused-reference]",
        "references/refs.bib:29:7: warning: reference 'handbook2020' (@book) is missing "
        "author or editor, publisher, year [incomplete-reference]",
        "references/refs.bib:29:7: warning: reference 'handbook2020' is never cited "
        "[unused-reference]",
        "Checked 4 references: 5 warnings, 0 errors.",
    ]
    strict = run(runner, root, "check", "--strict", "--format", "github")
    assert strict.exit_code == 1
    assert strict.stderr.splitlines()[0] == (
        "::error file=references/refs.bib,line=20,col=10,title=duplicate-doi::reference "
        "'again2019' has the same DOI as 'first2019' (references/refs.bib:11); keep one entry "
        "and cite it [duplicate-doi]")


def test_refs_check_on_a_clean_store(make_site: Callable[..., Path], runner: CliRunner):
    result = run(runner, make_site(), "check")
    assert result.exit_code == 0
    assert result.stderr == "Checked 1 reference: 0 warnings, 0 errors.\n"
