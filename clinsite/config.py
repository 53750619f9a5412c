"""site.yaml -> SiteConfig (stage 1 of the pipeline).

Also computes "today" once per run, from SOURCE_DATE_EPOCH when set, so a
build is reproducible and review-overdue checks can be tested.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from clinsite.diagnostics import Diagnostic, error
from clinsite.frontmatter import YamlDoc, decode_source, parse_yaml
from clinsite.schema import Fields

CONFIG_FILE = "site.yaml"
AUDIENCES = ("clinician", "patient", "both")
_KEYS = ("title", "base_url", "publisher", "language", "review", "audiences", "disclaimer",
         "editorial_policy", "description")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")


@dataclass(frozen=True, slots=True)
class SiteConfig:
    title: str
    base_url: str  # absolute, ends with "/"
    publisher: str
    language: str = "en"
    description: str = ""
    review_interval_months: int = 12
    default_audience: str = "clinician"
    disclaimer: str = ""
    editorial_policy: str | None = None
    lines: dict[str, int] = field(default_factory=dict, compare=False)  # key -> line in site.yaml
    values: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False)  # key -> value

    @property
    def base_path(self) -> str:
        """The URL path the site is served under, e.g. ``/clinical/``."""
        return urlsplit(self.base_url).path or "/"


def today() -> dt.date:
    """The build's "today": SOURCE_DATE_EPOCH (UTC) when set, else the clock."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
    return dt.date.today()


def normalise_base_url(value: str) -> str | None:
    """An absolute http(s) URL with a trailing slash, or None if it is not one."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        return None
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return f"{parts.scheme}://{parts.netloc}{path}"


def load_config(root: Path,
                base_url: str | None = None) -> tuple[SiteConfig | None, list[Diagnostic]]:
    """Read and validate site.yaml; `base_url` (from --base-url) overrides the file."""
    file = root / CONFIG_FILE
    if not file.is_file():
        return None, [error(CONFIG_FILE, 1, 1, "missing-config",
                            f"no {CONFIG_FILE} in {root}; is --root the site's folder?")]
    source = decode_source(CONFIG_FILE, file.read_bytes())
    if isinstance(source, Diagnostic):
        return None, [source]
    doc = parse_yaml(CONFIG_FILE, source.text)
    if isinstance(doc, Diagnostic):
        return None, [doc]
    return parse_config(doc, base_url)


def parse_config(doc: YamlDoc,
                 base_url: str | None = None) -> tuple[SiteConfig | None, list[Diagnostic]]:
    """Validate the parsed site.yaml."""
    diags = list(doc.problems)
    fields = Fields(doc, (), diags)
    if not fields.ok:
        diags.append(doc.error((), "wrong-type", "site.yaml must be a mapping of settings"))
        return None, diags
    fields.check_keys(_KEYS, "site.yaml")
    title = fields.text("title", required=True)
    publisher = fields.text("publisher", required=True)
    raw_url = base_url if base_url is not None else fields.text("base_url", required=True)
    url = normalise_base_url(raw_url) if raw_url else None
    if raw_url and url is None:
        where = "--base-url" if base_url is not None else None
        message = f"base_url must be an absolute http(s) URL, not '{raw_url}'"
        if where:
            diags.append(error("--base-url", 0, 0, "invalid-value", message))
        else:
            diags.append(doc.error(("base_url",), "invalid-value", message))
    language = fields.text("language") or "en"
    if not _LANGUAGE.fullmatch(language):
        diags.append(doc.error(("language",), "invalid-value",
                               f"language must be a language tag like 'en' or 'en-GB', "
                               f"not '{language}'"))
        language = "en"
    review = fields.sub("review")
    interval = 12
    if review is not None:
        review.check_keys(("interval_months",), "review")
        interval = review.integer("interval_months", 12, minimum=1)
    audiences = fields.sub("audiences")
    default_audience = "clinician"
    if audiences is not None:
        audiences.check_keys(("default",), "audiences")
        default_audience = audiences.choice("default", AUDIENCES, "clinician") or "clinician"
    policy = fields.text("editorial_policy")
    if policy is not None and not _SLUG.fullmatch(policy):
        diags.append(doc.error(("editorial_policy",), "invalid-value",
                               f"editorial_policy must be a page slug, not '{policy}'"))
        policy = None
    if title is None or publisher is None or url is None:
        return None, diags
    return SiteConfig(
        title=title, base_url=url, publisher=publisher, language=language,
        description=fields.text("description") or "",
        review_interval_months=interval, default_audience=default_audience,
        disclaimer=fields.text("disclaimer") or "", editorial_policy=policy,
        lines={str(k[0]): v[0] for k, v in doc.keys.items() if len(k) == 1},
        values={str(k[0]): v for k, v in doc.values.items() if len(k) == 1},
    ), diags
