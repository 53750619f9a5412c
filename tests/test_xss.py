"""Guard: hostile text in any input field never becomes executable markup (SPEC §7).

Every payload of `PAYLOADS` is written into every text field that reaches the output
(site.yaml, board.yaml, summaries, drug monographs, pages, Markdown bodies in many
constructs, BibTeX). One site is built per payload, and every output file is checked:
HTML is parsed (`html.parser`) so tags and attributes are judged as a browser would see
them, XML is parsed, JSON is parsed, and the citation downloads must not let a value
break out of its field. Fields that are validated (tags, slugs, identifiers) must reject
every payload with a diagnostic instead.
"""

from __future__ import annotations

import html
import json
import re
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner, Result

from clinsite.cli import cli
from tests.test_jinja_helpers import templates_compiled_once

EPOCH = {"SOURCE_DATE_EPOCH": "1795219200"}

# id -> payload. Single-line unless the construct needs more (reference definitions).
PAYLOADS: dict[str, str] = {
    "script": "<script>alert(1)</script>",
    "script-upper-src": "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "img-onerror": "<img src=x onerror=alert(1)>",
    "svg-onload": "<svg onload=alert(1)>",
    "svg-script": "<svg><script>alert(1)</script></svg>",
    "dq-breakout": '"><script>alert(1)</script>',
    "sq-breakout": "'><script>alert(1)</script>",
    "close-script": "</script><script>alert(1)</script>",
    "js-url": "javascript:alert(1)",
    "js-url-mixed-case": "JaVaScRiPt:alert(1)",
    "js-url-tab": "java\tscript:alert(1)",
    "js-url-decimal-entity": "&#106;avascript:alert(1)",
    "js-url-hex-entity": "&#x6A;avascript:alert(1)",
    "js-url-percent": "%6Aavascript:alert(1)",
    "vbscript-url": "vbscript:msgbox(1)",
    "data-url": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "html-link-js": '<a href="javascript:alert(1)">x</a>',
    "html-link-entity-js": '<a href="&#106;avascript:alert(1)">x</a>',
    "md-link-js": "[x](javascript:alert(1))",
    "md-link-angle-js": "[x](<javascript:alert(1)>)",
    "md-link-entity-js": "[x](&#106;avascript:alert(1))",
    "md-link-percent-js": "[x](javas%63ript:alert(1))",
    "md-link-data": "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "md-link-title-breakout": '[x](https://example.org/ "t\\" onmouseover=\\"alert(1)")',
    "md-link-quote-in-url": '[x](https://example.org/"onmouseover="alert(1))',
    "md-image-js": "![x](javascript:alert(1))",
    "autolink-js": "<javascript:alert(1)>",
    "reference-link-js": "[x][evil]\n\n[evil]: javascript:alert(1)",
    "iframe": '<iframe src="javascript:alert(1)"></iframe>',
    "object": '<object data="javascript:alert(1)"></object>',
    "embed": '<embed src="javascript:alert(1)">',
    "math-xlink": '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "attr-dq-onmouseover": 'x" onmouseover="alert(1)',
    "attr-sq-onmouseover": "x' onmouseover='alert(1)",
    "details-ontoggle": "<details open ontoggle=alert(1)>",
    "form-action": '<form action="javascript:alert(1)"><button>x</button></form>',
    "base-href": '<base href="javascript:alert(1)//">',
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "jinja-expression": "{{ 7*7 }}",
    "jinja-raw": "{% raw %}{{ 7*7 }}{% endraw %}",
    "html-comment": "<!-- x --><script>alert(1)</script><!--",
    "cdata": "<![CDATA[<script>alert(1)</script>]]>",
    "style": "<style>body{background:url(javascript:alert(1))}</style>",
    "css-expression": '<div style="width:expression(alert(1))">x</div>',
    "line-separators": "a\u2028b\u2029</script><script>alert(1)</script>",
}

# Placed by `site_files` into every accepted text field; counted for the closing note.
ACCEPTED_FIELDS = (
    "site.title", "site.publisher", "site.description", "site.disclaimer",
    "board.name", "board.credentials", "board.role", "board.affiliation", "board.disclosures",
    "summary.title", "summary.summary(string)", "summary.summary.clinician",
    "summary.summary.patient",
    "drug.title", "drug.brands", "drug.class", "drug.mechanism", "drug.routes",
    "drug.dosing.indication", "drug.dosing.regimen", "drug.dosing.notes", "drug.renal",
    "drug.adverse_effects", "drug.interactions", "drug.monitoring",
    "page.title",
    "body.paragraph", "body.bullet", "body.ordered-item", "body.h2", "body.h3",
    "body.table-head", "body.table-cell", "body.link-text", "body.link-url",
    "body.link-angle-url", "body.link-title", "body.image-alt", "body.image-url",
    "body.autolink", "body.citation-locator", "body.blockquote", "body.code-span",
    "body.code-fence", "body.clinician-block", "body.recommendation-block",
    "body.warning-block", "body.reference-link-text", "body.reference-definition",
    "bib.title", "bib.author", "bib.journal", "bib.note", "bib.howpublished",
    "bib.publisher", "bib.url(valid prefix)", "bib.doi(valid prefix)",
)
BODIES = 4  # each body.* construct is in a summary, a second summary, a drug and a page
REJECTED_FIELDS = (
    "summary.tags", "summary.related", "summary.review.status", "summary.audience",
    "board.id", "drug.dosing.cite", "bib.url", "bib.doi", "bib.pmid", "bib.kind",
)

# The theme's own scripts: <script src> ending so, and one JSON-LD data block.
THEME_SCRIPTS = ("assets/clinsite-head.js", "assets/clinsite.js", "pagefind/pagefind-ui.js")
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "data", "xlink:href",
                            "poster", "background", "cite", "srcset", "ping", "longdesc",
                            "codebase", "manifest", "icon", "lowsrc", "dynsrc"})
FORBIDDEN_TAGS = frozenset({"iframe", "object", "embed", "svg", "math", "style", "frame",
                            "frameset", "applet", "base", "template", "xmp", "plaintext",
                            "noembed", "isindex", "portal", "marquee", "details"})
RAW_FORBIDDEN = re.compile(
    r"<\s*/?\s*(?:iframe|object|embed|svg|math|style|frame|frameset|applet|base"
    r"|template|xmp|plaintext|noembed|portal|marquee|details|a\s+href\s*=\s*[\"']?"
    r"\s*(?:javascript|vbscript|data):)\b",
    re.IGNORECASE,
)
BAD_SCHEMES = ("javascript", "vbscript", "data")
_STRIP = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f\u3000\ufeff]")


def yq(text: str) -> str:
    """`text` as a YAML double-quoted scalar (JSON strings are YAML)."""
    return json.dumps(text)


def nospace(text: str) -> str:
    return re.sub(r"\s+", "", text)


def body(p: str) -> str:
    """A Markdown body holding `p` in every construct the renderer knows."""
    return f"""\
Paragraph {p} [@xss].

- Item {p} [@xss]

1. Ordered {p} [@xss]

## Heading {p}

### Sub {p}

| Head {p} | B |
|---|---|
| Cell {p} | c [@xss] |

[Link text {p}](https://example.org/) [@xss]

[link url]({p}) [@xss]

[angle url](<{p}>) [@xss]

[titled](https://example.org/ "{p.replace('"', '&quot;')}") [@xss]

![Alt {p}](figure.png) [@xss]

![image url]({p}) [@xss]

<{p}> autolink [@xss]

Locator [@xss, {p}].

> Quote {p} [@xss]

`code {p}` [@xss]

```
fence {p}
```

::: clinician
Clinician {p} [@xss]
:::

::: recommendation strength=strong certainty=moderate
Recommend {p} [@xss]
:::

::: warning
Warning {p} [@xss]
:::

[reference {p}][evil] [@xss]

[evil]: {p}
"""


def bib_value(p: str) -> str:
    """`p` as a braced BibTeX value (the payloads' braces are balanced)."""
    return "{" + p + "}"


def site_files(p: str) -> dict[str, str]:
    """A complete site with `p` in every accepted text field."""
    q = yq(p)
    tight = nospace(p)
    return {
        "site.yaml": f"""\
title: {q}
base_url: https://example.org/clinical/
publisher: {q}
description: {q}
language: en
disclaimer: {q}
editorial_policy: policy
""",
        "content/board.yaml": f"""\
- id: a-example
  name: {q}
  credentials: {q}
  role: {q}
  affiliation: {q}
  disclosures: {q}
""",
        "content/summaries/s-string.md": f"""\
---
title: {q}
summary: {q}
updated: 2026-01-01
review: {{status: approved, reviewers: [a-example], reviewed: 2026-01-02}}
tags: [xss]
audience: both
---
{body(p)}""",
        "content/summaries/s-mapping.md": f"""\
---
title: {yq("Mapping " + p)}
summary:
  clinician: {q}
  patient: {q}
updated: 2026-01-01
review: {{status: under-review, reviewers: [a-example]}}
---
{body(p)}""",
        "content/drugs/d.md": f"""\
---
title: {q}
brands: [{q}]
class: {q}
mechanism: {q}
routes: [{q}]
dosing:
  - indication: {q}
    regimen: {q}
    notes: {q}
    cite: [xss]
renal: {q}
adverse_effects: [{q}]
interactions: [{q}]
monitoring: [{q}]
updated: 2026-01-01
review: {{status: approved, reviewers: [a-example], reviewed: 2026-01-02}}
---
{body(p)}""",
        "content/pages/policy.md": f"""\
---
title: {q}
updated: 2026-01-01
---
{body(p)}""",
        "references/x.bib": f"""\
@article{{xss,
  author = {bib_value(p)},
  title = {bib_value(p)},
  journal = {bib_value(p)},
  note = {bib_value(p)},
  howpublished = {bib_value(p)},
  year = {{2020}},
  url = {{https://example.org/?q={tight}}},
  doi = {{10.1234/{tight}}},
}}

@book{{xssbook,
  author = {bib_value(p)},
  title = {bib_value(p)},
  publisher = {bib_value(p)},
  note = {bib_value(p)},
  year = {{2021}},
}}

@misc{{xssmisc,
  title = {bib_value(p)},
  howpublished = {bib_value(p)},
  note = {bib_value(p)},
  year = {{2022}},
}}
""",
        # Cite the book and misc entries too, so their formatted text reaches the output.
        "content/pages/more.md": "---\ntitle: More\nupdated: 2026-01-01\n---\n"
                                 "Cited [@xssbook; @xssmisc].\n",
    }


def write_site(root: Path, files: dict[str, str]) -> Path:
    (root / "templates").mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def no_traceback(result: Result) -> None:
    """The run ended by exiting, never by an uncaught exception."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        detail = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"traceback:\n{detail}\n{result.output}")
    assert "Traceback" not in result.output


@pytest.fixture(scope="module", autouse=True)
def compiled_templates_once() -> Iterator[None]:
    """~90 builds: compile the theme once (rendering is unchanged, see the helper)."""
    with templates_compiled_once():
        yield


# --- output checks -------------------------------------------------------------------


def url_scheme(value: str) -> str:
    """The scheme a browser would see in a URL attribute (entities already decoded)."""
    cleaned = _STRIP.sub("", value).lower()
    match = re.match(r"([a-z][a-z0-9+.\-]*):", cleaned)
    return match.group(1) if match else ""


def bad_url(value: str) -> bool:
    """True if the URL (or its percent-decoded form) runs script or loads data."""
    return any(url_scheme(v) in BAD_SCHEMES for v in (value, unquote(value)))


class HtmlAudit(HTMLParser):
    """Collects every problem a browser could turn into script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None
        self._script_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        where = self.get_starttag_text() or tag
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"forbidden tag <{tag}>: {where[:120]}")
        for name, value in attrs:
            if re.fullmatch(r"on[a-z]+", name):
                self.problems.append(f"event handler {name}=: {where[:120]}")
            if name in URL_ATTRIBUTES and value is not None and bad_url(value):
                self.problems.append(f"unsafe URL in {name}=: {where[:120]}")
            if name == "style":
                self.problems.append(f"inline style attribute: {where[:120]}")
        if tag == "meta" and (found.get("http-equiv") or "").lower() not in (
                "", "content-security-policy"):
            self.problems.append(f"meta http-equiv from input: {where[:120]}")
        if tag == "link" and (found.get("rel") or "") not in ("stylesheet", "canonical", "icon",
                                                               "alternate"):
            self.problems.append(f"unexpected <link>: {where[:120]}")
        if tag == "script":
            self._script, self._script_text = found, []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._script_text)))
            self._script = None


def audit_html(rel: str, text: str) -> list[str]:
    """Every reason `text` (one output page) could run script from input."""
    audit = HtmlAudit()
    audit.feed(text)
    audit.close()
    problems = [f"{rel}: {p}" for p in audit.problems]
    json_ld = 0
    for attrs, content in audit.scripts:
        src = attrs.get("src") or ""
        if attrs.get("type") == "application/ld+json" and set(attrs) == {"type"}:
            json_ld += 1
            if "<" in content:
                problems.append(f"{rel}: '<' inside JSON-LD")
            try:
                json.loads(content)
            except ValueError as exc:
                problems.append(f"{rel}: JSON-LD does not parse: {exc}")
        elif src.endswith(THEME_SCRIPTS) and not bad_url(src) and not content.strip() \
                and set(attrs) <= {"src", "defer"}:
            continue
        else:
            problems.append(f"{rel}: script not from the theme: {attrs} {content[:80]!r}")
    if json_ld > 1:
        problems.append(f"{rel}: {json_ld} JSON-LD blocks")
    theme_tags = sum(1 for attrs, _ in audit.scripts
                     if (attrs.get("src") or "").endswith(THEME_SCRIPTS))
    raw_scripts = len(re.findall(r"<\s*script\b", text, re.IGNORECASE))
    if raw_scripts != theme_tags + json_ld:
        problems.append(f"{rel}: {raw_scripts} '<script' in the raw text, "
                        f"{theme_tags + json_ld} from the theme")
    for match in RAW_FORBIDDEN.finditer(text):
        problems.append(f"{rel}: raw markup {match.group()!r}")
    return problems


XML_TAGS = frozenset({
    "urlset", "url", "loc", "lastmod",
    "feed", "title", "id", "link", "updated", "author", "name", "entry", "summary",
})


def audit_xml(rel: str, text: str) -> list[str]:
    """Only the feed's and sitemap's own elements; no scripts, handlers or bad URLs."""
    problems = [f"{rel}: raw markup {m.group()!r}" for m in RAW_FORBIDDEN.finditer(text)]
    try:
        tree = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        return [*problems, f"{rel}: XML does not parse: {exc}"]
    for element in tree.iter():
        name = element.tag.rpartition("}")[2]
        if name not in XML_TAGS:
            problems.append(f"{rel}: unexpected element <{element.tag}>")
        for attr, value in element.attrib.items():
            if re.fullmatch(r"on[a-z]+", attr.rpartition("}")[2].lower()):
                problems.append(f"{rel}: event handler {attr}=")
            if attr == "href" and bad_url(value):
                problems.append(f"{rel}: unsafe href {value!r}")
        for url in (element.text or "",) if name == "loc" or name == "id" else ():
            if bad_url(url):
                problems.append(f"{rel}: unsafe URL {url!r}")
    return problems


def audit_data(rel: str, text: str) -> list[str]:
    """Citation downloads and JSON: a value cannot break out of its field."""
    problems = []
    if rel.endswith(".json"):
        try:
            json.loads(text)
        except ValueError as exc:
            problems.append(f"{rel}: JSON does not parse: {exc}")
    elif rel.endswith(".ris"):
        lines = text.split("\r\n")
        if lines[-1] != "":
            problems.append(f"{rel}: RIS does not end with CRLF")
        for line in lines[:-1]:
            if not re.fullmatch(r"[A-Z][A-Z0-9]  - [^\r\n]*", line):
                problems.append(f"{rel}: a value broke its RIS line: {line[:80]!r}")
            elif line.startswith("UR  - ") and bad_url(line[6:]):
                problems.append(f"{rel}: unsafe UR {line!r}")
    elif rel.endswith(".bib"):
        depth = 0
        for index, ch in enumerate(text):
            if ch in "{}" and (index == 0 or text[index - 1] != "\\"):
                depth += 1 if ch == "{" else -1
                if depth < 0 or (depth == 0 and index != text.rstrip().rindex("}")):
                    problems.append(f"{rel}: a value closed the entry at offset {index}")
                    break
        for name, value in re.findall(r"^\s*(url)\s*=\s*\{(.*)\},?$", text, re.M):
            if bad_url(value):
                problems.append(f"{rel}: unsafe {name} {value!r}")
    return problems


def output_files(site: Path) -> Iterator[tuple[str, str]]:
    """(relative path, text) of every output file the guard reads (Pagefind excluded)."""
    for path in sorted(site.rglob("*")):
        rel = path.relative_to(site).as_posix()
        if path.is_file() and not rel.startswith("pagefind/") and \
                path.suffix in (".html", ".xml", ".json", ".bib", ".ris"):
            yield rel, path.read_bytes().decode("utf-8")  # keep CRLF: RIS lines end so


def audit_site(site: Path) -> tuple[list[str], int]:
    """Every problem in every output file, and how many files were read."""
    problems: list[str] = []
    count = 0
    for rel, text in output_files(site):
        count += 1
        if rel.endswith(".html"):
            problems += audit_html(rel, text)
        elif rel.endswith(".xml"):
            problems += audit_xml(rel, text)
        else:
            problems += audit_data(rel, text)
    return problems, count


# --- the guard's own tests: the audit must catch what it claims to -------------------


@pytest.mark.parametrize("page", [
    '<p><script>alert(1)</script></p>',
    '<p><SCRIPT>alert(1)</SCRIPT></p>',
    '<img src=x onerror=alert(1)>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href=" JaVa&#x09;Script:alert(1)">x</a>',
    '<a href="data:text/html,x">x</a>',
    '<form action="vbscript:x"></form>',
    '<svg></svg>',
    '<math></math>',
    '<iframe></iframe>',
    '<style>x</style>',
    '<div style="x:expression(1)">',
    '<meta http-equiv="refresh" content="0;url=x">',
    '<script type="application/ld+json">{"a":"</p><p>"}</script>',
    '<script type="application/ld+json">{"a":</script>',
    '<script src="evil.js"></script>',
    '<script src="assets/clinsite.js">alert(1)</script>',
], ids=lambda page: page[:30])
def test_the_audit_catches_executable_markup(page: str) -> None:
    assert audit_html("x.html", f"<html><head></head><body>{page}</body></html>")


def test_the_audit_passes_the_theme_and_escaped_text() -> None:
    page = ('<script src="../assets/clinsite-head.js"></script>'
            '<script src="../assets/clinsite.js" defer></script>'
            '<script type="application/ld+json">{"a":"\\u003cscript\\u003e"}</script>'
            '<p>&lt;script&gt;alert(1)&lt;/script&gt; javascript:alert(1)</p>'
            '<meta name="description" content="&lt;img src=x onerror=alert(1)&gt;">'
            '<a href="https://example.org/?q=javascript:alert(1)">x</a>')
    assert audit_html("x.html", page) == []


def test_the_data_audit_catches_broken_fields() -> None:
    assert audit_data("c.ris", "TY  - ELEC\r\nTI  - a\nUR  - javascript:x\r\nER  - \r\n")
    assert audit_data("c.bib", "@misc{k,\n  title = {a}},\n  url = {x}\n}\n")
    assert audit_data("c.json", '{"a": </script>')
    assert not audit_data("c.bib", "@misc{k,\n  title = {a\\}b},\n}\n")


# --- one build per payload -----------------------------------------------------------


@dataclass(frozen=True)
class Built:
    payload: str
    root: Path
    site: Path
    result: Result


@pytest.fixture(scope="module", params=sorted(PAYLOADS))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The site with one payload in every accepted field, built once per payload."""
    payload = PAYLOADS[request.param]
    root = write_site(tmp_path_factory.mktemp("xss"), site_files(payload))
    site = root / "site"
    result = CliRunner().invoke(cli, ["build", "--root", str(root), "--out", str(site)],
                                env=EPOCH)
    return Built(payload, root, site, result)


def test_payload_site_builds(built: Built) -> None:
    """Hostile text is content like any other: the build succeeds (warnings at most)."""
    no_traceback(built.result)
    errors = [line for line in built.result.stderr.splitlines() if ": error: " in line]
    assert built.result.exit_code == 0, errors or built.result.stderr
    assert (built.site / "index.html").is_file()


def test_no_executable_markup_in_any_output_file(built: Built) -> None:
    problems, count = audit_site(built.site)
    assert count >= 20, "the audit read too few files"
    if not one_line(built.payload):  # a known bug, see test_ris_title_cannot_add_fields
        problems = [p for p in problems if "broke its RIS line" not in p]
    assert problems == []


def test_ris_title_cannot_add_fields(tmp_path: Path) -> None:
    title = "Does it work?\nUR  - javascript:alert(1)\nAU  - Forged, Author"
    files = site_files("plain text")
    files["content/summaries/s-string.md"] = files["content/summaries/s-string.md"].replace(
        'title: "plain text"', f"title: {yq(title)}", 1)
    root = write_site(tmp_path, files)
    result = CliRunner().invoke(cli, ["build", "--root", str(root)], env=EPOCH)
    assert result.exit_code == 0, result.stderr
    ris = (root / "site/summaries/s-string/cite.ris").read_bytes().decode("utf-8")
    assert audit_data("cite.ris", ris) == []
    assert "\nUR  - javascript" not in ris.replace("\r\n", "\n")


def test_payload_is_shown_as_text(built: Built) -> None:
    """The guard is only meaningful if the payload really reaches the pages, as text."""
    p = built.payload

    def texts(rel: str, pattern: str) -> list[str]:
        page = (built.site / rel).read_text(encoding="utf-8")
        return [html.unescape(found) for found in re.findall(pattern, page, re.S)]

    assert texts("summaries/s-string/index.html", r"<h1>(.*?)</h1>") == [p]
    assert texts("drugs/d/index.html", r"<h1>(.*?)</h1>") == [p]
    assert texts("policy/index.html", r"<h1>(.*?)</h1>") == [p]
    assert texts("board/index.html", r'<h2 id="a-example-name">(.*?)</h2>') == [f"{p}, {p}"]
    assert texts("index.html", r'<p class="lede">(.*?)</p>')[0] == p
    assert len(texts("summaries/s-string/index.html", r"<p>Paragraph .*?</p>")) == 1
    assert len(texts("drugs/d/index.html", r"<li>Item .*?</li>")) == 1
    refs = texts("references/index.html", r'<span class="ref-text">(.*?)</span>')
    assert len(refs) == 3
    if "alert(1)" in p:  # BibTeX text is LaTeX: braces, '--' and '\\"a' change
        assert all("lert(1)" in ref for ref in refs)


@pytest.mark.parametrize("built", ["jinja-expression", "jinja-raw"], indirect=True)
def test_template_syntax_is_not_evaluated(built: Built) -> None:
    """`{{ 7*7 }}` is shown as written: never 49, never an empty string."""
    for rel, text in output_files(built.site):
        assert not re.search(r"(?<![\w.#/-])49(?![\w.])", text), f"{{{{ 7*7 }}}} ran in {rel}"
        if rel.endswith(".html") and rel.startswith(("summaries/", "drugs/")):
            assert "{{ 7*7 }}" in html.unescape(text), rel
    summary = (built.site / "summaries/s-string/index.html").read_text(encoding="utf-8")
    assert built.payload in html.unescape(summary)


def test_json_ld_is_one_parseable_block(built: Built) -> None:
    for rel in ("summaries/s-string/index.html", "summaries/s-mapping/index.html",
                "drugs/d/index.html"):
        text = (built.site / rel).read_text(encoding="utf-8")
        blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', text, re.S)
        assert len(blocks) == 1, rel
        assert "<" not in blocks[0]
        data = json.loads(blocks[0])
        assert data["name"] in (built.payload, "Mapping " + built.payload)


def test_data_files_keep_the_text_faithfully(built: Built) -> None:
    """Cite-this-page downloads and the API carry the title as data (not markup, not lost)."""
    cite = json.loads((built.site / "summaries/s-string/cite.json").read_text(encoding="utf-8"))
    assert cite[0]["title"] == built.payload
    api = json.loads((built.site / "api/summaries.json").read_text(encoding="utf-8"))
    assert built.payload in {s["title"] for s in api["summaries"]}


# --- JSON files are read by browsers too: `<` escaped as in the JSON-LD ---------------


def test_json_files_escape_angle_brackets(tmp_path: Path) -> None:
    root = write_site(tmp_path, site_files(PAYLOADS["script"]))
    result = CliRunner().invoke(cli, ["build", "--root", str(root)], env=EPOCH)
    assert result.exit_code == 0, result.stderr
    for rel in ("api/summaries.json", "summaries/s-string/cite.json"):
        assert "<script" not in (root / "site" / rel).read_text(encoding="utf-8"), rel


# --- validated fields: every payload refused with a diagnostic at its place ----------


def rejected_files(p: str) -> dict[str, str]:
    q = yq(p)
    return {
        "site.yaml": "title: T\nbase_url: https://example.org/\npublisher: P\n",
        "content/board.yaml": f"- id: {q}\n  name: N\n  credentials: C\n  role: R\n"
                              "  disclosures: D\n",
        "content/summaries/s.md": f"""\
---
title: T
summary: S [@ok]
updated: 2026-01-01
review: {{status: {q}}}
audience: {q}
tags: [{q}]
related: [{q}]
---
Body [@ok].
""",
        "content/drugs/d.md": f"""\
---
title: D
dosing:
  - indication: I
    regimen: R
    cite: [{q}]
updated: 2026-01-01
review: {{status: submitted}}
---
Body [@ok].
""",
        "references/x.bib": f"""\
@article{{ok,
  author = {{A, B}}, title = {{T}}, journal = {{J}}, year = {{2020}},
  url = {bib_value(p)},
  doi = {bib_value(p)},
  pmid = {bib_value(p)},
  kind = {bib_value(p)},
}}
""",
    }


def rejections(p: str) -> list[tuple[str, int, str]]:
    """(file, line, code) of the diagnostic each rejected field must produce."""
    bib_lines = p.count("\n") + 1  # a BibTeX value keeps its line breaks in the file
    return [
        ("content/board.yaml", 1, "invalid-value"),  # id
        ("content/summaries/s.md", 5, "invalid-value"),  # review.status
        ("content/summaries/s.md", 6, "invalid-value"),  # audience
        ("content/summaries/s.md", 7, "invalid-value"),  # tags
        ("content/summaries/s.md", 8, "invalid-value"),  # related
        ("content/drugs/d.md", 6, "invalid-value"),  # dosing cite
        *[("references/x.bib", 3 + i * bib_lines, "invalid-reference-field")
          for i in range(4)],  # url, doi, pmid, kind
    ]


assert len(rejections("x")) == len(REJECTED_FIELDS)


def one_line(p: str) -> bool:
    return not re.search(r"[\n\r\u2028\u2029\x85]", p)


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_validated_fields_refuse_every_payload(name: str, tmp_path: Path) -> None:
    p = PAYLOADS[name]
    root = write_site(tmp_path, rejected_files(p))
    result = CliRunner().invoke(cli, ["build", "--root", str(root)], env=EPOCH)
    no_traceback(result)
    assert result.exit_code == 1, result.stderr
    assert not (root / "site").exists(), "a rejected site was written"
    # A multi-line payload is echoed in the message (see test_diagnostics_stay_one_line).
    found = {(m[0], int(m[1]), m[2]) for m in re.findall(
        r"^([^:\n]+):(\d+):\d+: error: (?:.|\n)*? \[([a-z-]+)\]$", result.stderr, re.M)}
    missing = [r for r in rejections(p) if r not in found]
    assert missing == [], result.stderr
    if one_line(p):
        # With a single-line payload, every stderr line is one diagnostic or the summary.
        for line in result.stderr.splitlines():
            assert re.fullmatch(r"[^:]+:\d+:\d+: (error|warning): .+ \[[a-z-]+\]", line) or \
                line.startswith("Build failed"), line


# --- diagnostics: stderr is an output too (terminals, CI logs, problem matchers) ------


DIAGNOSTIC_LINE = re.compile(r"[^:]+:\d+:\d+: (error|warning): .+ \[[a-z-]+\]")


@pytest.mark.parametrize("value", [
    "ok\ncontent/summaries/q.md:1:1: error: forged diagnostic [forged]",
    "ok\rcontent/summaries/q.md:1:1: error: forged diagnostic [forged]",
    "ok\x1b[2J\x1b]0;title\x07",
], ids=["newline", "carriage-return", "escape"])
def test_diagnostics_stay_one_line_without_control_characters(value: str,
                                                              tmp_path: Path) -> None:
    files = {
        "site.yaml": "title: T\nbase_url: https://example.org/\npublisher: P\n",
        "content/summaries/q.md": "---\ntitle: T\nsummary: S\nupdated: 2026-01-01\n"
                                  f"review: {{status: submitted}}\ntags: [{yq(value)}]\n---\n"
                                  "Body.\n",
    }
    root = write_site(tmp_path, files)
    result = CliRunner().invoke(cli, ["check", "--root", str(root)], env=EPOCH)
    no_traceback(result)
    assert result.exit_code == 1
    lines = result.stderr.split("\n")[:-1]
    assert all(DIAGNOSTIC_LINE.fullmatch(line) for line in lines[:-1]), lines
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", result.stderr)


# --- keys: BibTeX and citation keys may hold '<' and '>' ------------------------------


@pytest.mark.parametrize("key", ["x</script><script>", "x<svg>", "a>b<img/src/x", "k&amp"])
def test_hostile_citation_keys(key: str, tmp_path: Path) -> None:
    files = {
        "site.yaml": "title: T\nbase_url: https://example.org/\npublisher: P\n",
        "content/summaries/s.md": "---\ntitle: T\nsummary: S [@" + key + "]\nupdated: 2026-01-01"
                                  "\nreview: {status: submitted}\n---\nBody [@" + key + "].\n",
        "content/drugs/d.md": "---\ntitle: D\ndosing:\n  - {indication: I, regimen: R, cite: ["
                              + yq(key) + "]}\nupdated: 2026-01-01\nreview: {status: submitted}"
                              "\n---\nBody [@" + key + "].\n",
        "references/x.bib": "@article{" + key + ",\n  author = {A, B}, title = {T},"
                            " journal = {J}, year = {2020},\n}\n",
    }
    root = write_site(tmp_path, files)
    result = CliRunner().invoke(cli, ["build", "--root", str(root)], env=EPOCH)
    no_traceback(result)
    assert result.exit_code == 0, result.stderr  # pandoc keys may hold '<', '>', '/', '&'
    problems, _ = audit_site(root / "site")
    assert problems == []


# --- site.yaml's base_url is validated as http(s) only; the rest of it is text -------


@pytest.mark.parametrize("url", ['https://example.org/x"><script>alert(1)</script>/',
                                 "https://example.org/x'onmouseover='alert(1)'/"])
def test_hostile_base_url(url: str, tmp_path: Path) -> None:
    files = site_files("plain")
    files["site.yaml"] = files["site.yaml"].replace("https://example.org/clinical/", yq(url))
    root = write_site(tmp_path, files)
    result = CliRunner().invoke(cli, ["build", "--root", str(root)], env=EPOCH)
    no_traceback(result)
    assert result.exit_code == 0, result.stderr
    problems, _ = audit_site(root / "site")
    assert problems == []


# --- the closing note's numbers ------------------------------------------------------


def combinations() -> int:
    """Payload x field placements: body constructs appear in four documents each."""
    body = sum(1 for f in ACCEPTED_FIELDS if f.startswith("body."))
    per_payload = len(ACCEPTED_FIELDS) - body + body * BODIES + len(REJECTED_FIELDS)
    return len(PAYLOADS) * per_payload


def test_corpus_size() -> None:
    assert len(PAYLOADS) >= 30
    assert len(set(PAYLOADS.values())) == len(PAYLOADS)
    assert combinations() >= 6000  # 45 payloads x 136 placements when written
