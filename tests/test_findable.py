"""Citable and findable: cite files, metadata, references index, tags, feeds, history."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from pybtex.database import parse_string

from clinsite.cli import cli
from tests.conftest import summary

COLD = "summaries/cold-sore-not-settling-on-valacyclovir/"
TITLE = ("My cold sore is not settling on valacyclovir 1 g twice daily: is it resistance, "
         "and what next?")


def test_vancouver_citation_of_the_page(sample_site: Path):
    html = (sample_site / COLD / "index.html").read_text()
    text = re.search(r'<p class="cite-text" id="cite-text">([^<]+)</p>', html)
    assert text is not None
    assert text.group(1) == (
        f"clinsite sample site. {TITLE} [Internet]. clinsite sample site; 2026 [updated 2026 Nov "
        "21; cited 2026 Nov 21]. Available from: https://example.org/clinical/summaries/"
        "cold-sore-not-settling-on-valacyclovir/")
    for name in ("cite.bib", "cite.ris", "cite.json"):
        assert f'<a href="{name}" download>' in html


def test_bibtex_download_round_trips(sample_site: Path):
    data = parse_string((sample_site / COLD / "cite.bib").read_text(), "bibtex")
    (key,) = data.entries.keys()
    assert key == "clinsite2026coldsorenotsettlingonvalacyclo"
    entry = data.entries[key]
    assert entry.type == "misc"
    assert entry.fields["title"] == "{" + TITLE + "}"
    assert entry.fields["url"] == "https://example.org/clinical/" + COLD
    assert entry.fields["year"] == "2026"
    assert entry.fields["urldate"] == "2026-11-21"
    assert str(entry.persons["author"][0]) == "{clinsite sample site}"


def test_ris_download(sample_site: Path):
    raw = (sample_site / COLD / "cite.ris").read_bytes().decode()
    lines = raw.split("\r\n")
    assert lines[0] == "TY  - ELEC" and lines[-2] == "ER  - " and lines[-1] == ""
    tags = dict(line.split("  - ", 1) for line in lines[:-2])
    assert tags["TI"] == TITLE
    assert tags["AU"] == "clinsite sample site"
    assert tags["A2"] == "Clinical Summaries (sample)"
    assert (tags["PY"], tags["DA"], tags["Y2"]) == ("2026", "2026/11/21", "2026/11/21")
    assert tags["UR"] == "https://example.org/clinical/" + COLD


def test_csl_json_download(sample_site: Path):
    (item,) = json.loads((sample_site / COLD / "cite.json").read_text())
    assert item["type"] == "webpage"
    assert item["title"] == TITLE
    assert item["URL"] == "https://example.org/clinical/" + COLD
    assert item["issued"] == {"date-parts": [[2026, 11, 21]]}
    assert item["accessed"] == {"date-parts": [[2026, 11, 21]]}
    assert item["author"] == [{"literal": "clinsite sample site"}]


def meta(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<meta name="(citation_[a-z_]+)" content="([^"]*)">', html)


def test_highwire_tags(sample_site: Path):
    html = (sample_site / COLD / "index.html").read_text()
    tags = meta(html)
    first = dict(tags)
    assert first["citation_title"] == TITLE
    assert first["citation_author"] == "clinsite sample site"
    assert first["citation_publication_date"] == "2026/11/21"
    assert first["citation_online_date"] == "2026/11/21"
    assert first["citation_publisher"] == "clinsite sample site"
    assert first["citation_public_url"] == "https://example.org/clinical/" + COLD
    refs = [value for name, value in tags if name == "citation_reference"]
    assert len(refs) == len(re.findall(r'<li id="ref-\d+"', html)) == 10
    assert refs[3] == (
        "citation_title=Resistance of herpes simplex viruses to nucleoside analogues: mechanisms, "
        "prevalence, and management, citation_author=Piret J; citation_author=Boivin G; "
        "citation_journal_title=Antimicrob Agents Chemother; citation_publication_date=2011; "
        "citation_doi=10.1128/AAC.00615-10; citation_pmid=21078929".replace(
            "management, citation", "management; citation"))
    assert '<link rel="canonical" href="https://example.org/clinical/' + COLD + '">' in html
    assert f'<meta property="og:title" content="{TITLE}">' in html


def json_ld(html: str) -> dict:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_json_ld(sample_site: Path):
    data = json_ld((sample_site / COLD / "index.html").read_text())
    assert data["@type"] == "MedicalWebPage"
    assert data["name"] == TITLE
    assert data["url"] == "https://example.org/clinical/" + COLD
    assert data["dateModified"] == "2026-11-21"
    assert "lastReviewed" not in data  # under review: not reviewed yet
    assert data["reviewedBy"][0] == {"@type": "Person", "name": "Dr Alex Example",
                                     "honorificSuffix": "MD (fictional)"}
    assert [a["audienceType"] for a in data["audience"]] == ["Clinician", "Patient"]
    piret = data["citation"][3]
    assert piret["@type"] == "ScholarlyArticle"
    assert piret["sameAs"] == ["https://doi.org/10.1128/AAC.00615-10",
                               "https://pubmed.ncbi.nlm.nih.gov/21078929/"]


def test_json_ld_cannot_be_broken_out_of(make_site, runner):
    hostile = '"</script><script>alert(1)</script> & <!--"'
    root = make_site({"content/summaries/q.md": summary(title=hostile)})
    assert runner.invoke(cli, ["build", "--root", str(root)]).exit_code == 0
    html = (root / "site/summaries/q/index.html").read_text()
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert block is not None and "<" not in block.group(1) and "&" not in block.group(1)
    assert json.loads(block.group(1))["name"] == hostile.strip('"')
    assert "<script>alert(1)" not in html


def test_references_index(sample_site: Path):
    html = (sample_site / "references/index.html").read_text()
    entries = re.findall(r'<li id="(source-[^"]+)">.*?<p class="cited-on">(.*?)</p>', html, re.S)
    assert len(entries) == 11  # every reference of the sample store is cited somewhere
    by_id = dict(entries)
    piret = re.findall(r'<a href="\.\./([^"]+)">[^<]+</a> \((\d+)×\)',
                       by_id["source-piret2011resistance"])
    assert piret == [("summaries/cold-sore-patient-guide/", "4"), (COLD, "13"),
                     ("drugs/valacyclovir/", "5"),
                     ("summaries/resistance-signs-immunocompromised/", "14")]
    cold = (sample_site / COLD / "index.html").read_text()
    backlinks = re.search(r'<li id="ref-4" value="4">.*?<span class="backlinks">(.*?)</span>',
                          cold, re.S)
    assert backlinks is not None and len(re.findall("<a ", backlinks.group(1))) == 13
    page = (sample_site / COLD / "index.html").read_text()
    assert '<a class="ref-citing" href="../../references/#source-piret2011resistance">' in page


def test_tags_home_and_related(sample_site: Path):
    tags = (sample_site / "tags/index.html").read_text()
    assert re.findall(r'<a href="\.\./(tags/[^"]+)">', tags) == [
        "tags/antivirals/", "tags/herpes-simplex/", "tags/immunocompromised/",
        "tags/resistance/"]
    tag = (sample_site / "tags/immunocompromised/index.html").read_text()
    assert re.findall(r'class="listing-title" href="\.\./\.\./([^"]+)"', tag) == [
        "summaries/resistance-signs-immunocompromised/"]
    home = (sample_site / "index.html").read_text()
    assert ('<h2 id="topic-herpes-simplex"><a href="./tags/herpes-simplex/">Herpes simplex</a>'
            "</h2>") in home
    assert '<h2 id="recent-heading">Recently updated</h2>' in home
    page = (sample_site / COLD / "index.html").read_text()
    related = re.search(r'<h2 id="related">Related questions</h2>(.*?)</section>', page, re.S)
    assert related is not None
    assert re.findall(r'href="\.\./\.\./([^"]+)"', related.group(1)) == [
        "summaries/resistance-signs-immunocompromised/", "summaries/cold-sore-patient-guide/"]


def test_sitemap_feed_robots_api_and_404(sample_site: Path):
    sitemap = (sample_site / "sitemap.xml").read_text()
    assert ("<url><loc>https://example.org/clinical/" + COLD + "</loc>"
            "<lastmod>2026-11-21</lastmod></url>") in sitemap
    feed = (sample_site / "feed.xml").read_text()
    assert feed.count("<entry>") == 3
    assert "<updated>2026-11-21T00:00:00Z</updated>" in feed
    assert (sample_site / "robots.txt").read_text() == (
        "User-agent: *\nAllow: /\n\nSitemap: https://example.org/clinical/sitemap.xml\n")
    api = json.loads((sample_site / "api/summaries.json").read_text())
    first = api["summaries"][0]
    assert first["slug"] == "cold-sore-not-settling-on-valacyclovir"
    assert first["review"] == {"status": "under-review", "reviewers": ["a-example", "s-sample"],
                               "reviewed": None}
    assert "10.1128/AAC.00615-10" in first["reference_dois"]
    not_found = (sample_site / "404.html").read_text()
    links = re.findall(r'(?:href|src)="([^"#]+)"', not_found)
    assert links and all(link.startswith("/clinical/") for link in links)


def git(root: Path, *args: str, date: str = "2026-01-01T10:00:00Z") -> None:
    env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", *args], cwd=root, check=True, env=env, capture_output=True)


def history(root: Path) -> list[str]:
    html = (root / "site/summaries/q/index.html").read_text()
    return [re.sub(r"<[^>]+>", "", item).strip()
            for item in re.findall(r"<li><time.*?</li>", html, re.S)]


def test_page_history_from_git(make_site, runner):
    root = make_site({"content/summaries/q.md": summary(review="{status: submitted, "
                                                               "reviewers: [a-example]}")})
    assert runner.invoke(cli, ["build", "--root", str(root)]).exit_code == 0
    assert history(root) == []  # outside git: no history
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "First draft", date="2026-01-01T10:00:00Z")
    page = root / "content/summaries/q.md"
    page.write_text(page.read_text().replace("status: submitted", "status: under-review"))
    git(root, "commit", "-qam", "Send for review", date="2026-02-03T10:00:00Z")
    page.write_text(page.read_text() + "\nMore [@smith2018].\n")
    git(root, "commit", "-qam", "Add a paragraph", date="2026-03-04T10:00:00Z")
    assert runner.invoke(cli, ["build", "--root", str(root)]).exit_code == 0
    entries = history(root)
    assert [re.sub(r" [0-9a-f]{7}$", "", e) for e in entries] == [
        "4 March 2026 — Add a paragraph",
        "3 February 2026 — Send for review (under review)",
        "1 January 2026 — First draft (submitted)",
    ]
    # A reworded commit message, the page's text unchanged: its history is shown anew.
    git(root, "commit", "-q", "--amend", "-m", "Add a cited paragraph",
        date="2026-03-04T10:00:00Z")
    assert runner.invoke(cli, ["build", "--root", str(root)]).exit_code == 0
    assert re.sub(r" [0-9a-f]{7}$", "", history(root)[0]) == \
        "4 March 2026 — Add a cited paragraph"


def test_feed_escaping_matches_the_standard_library():
    import random
    from xml.sax import saxutils

    from clinsite import feeds

    rng = random.Random(5)
    samples = ["", "plain", "a & b < c > d", 'say "hi"', "it's", "both ' and \"",
               "tab\tnew\nreturn\r", "&amp; already"]
    samples += ["".join(rng.choice("ab&<>\"'\t\n\r ") for _ in range(12)) for _ in range(300)]
    for text in samples:
        assert feeds.escape(text) == saxutils.escape(text)
        assert feeds.quoteattr(text) == saxutils.quoteattr(text)
