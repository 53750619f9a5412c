"""Drug-monograph front matter -> a Drug model (part of the content stage).

A monograph's facts live in structured front matter (SPEC §2): key facts,
a dosing table and lists, every text field inline Markdown that may cite.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from clinsite.config import AUDIENCES
from clinsite.models import DosingRow, Drug, Review
from clinsite.schema import Fields

if TYPE_CHECKING:
    from clinsite.content import _Common

DRUG_KEYS = ("title", "brands", "class", "mechanism", "routes", "dosing", "renal",
             "adverse_effects", "interactions", "monitoring", "updated", "review", "audience",
             "draft")
DOSING_KEYS = ("indication", "regimen", "notes", "cite")
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:.#$%&+?<>~/-]*")


def drug_from_front(fields: Fields, common: _Common, updated: dt.date | None,
                    review: Review | None) -> Drug | None:
    """Validate a monograph's front matter; None if a required part is unusable."""
    fields.check_keys(DRUG_KEYS, "drug front-matter")
    title = fields.text("title", required=True)
    dosing = _dosing(fields)
    brands, routes = texts(fields, "brands"), texts(fields, "routes")
    drug_class, mechanism = fields.text("class"), fields.text("mechanism")
    renal = fields.text("renal")
    effects, interactions = texts(fields, "adverse_effects"), texts(fields, "interactions")
    monitoring = texts(fields, "monitoring")
    audience = fields.choice("audience", AUDIENCES, "clinician") or "clinician"
    if title is None or updated is None or review is None:
        return None
    return Drug(title=title, updated=updated, review=review, brands=brands,
                drug_class=drug_class, mechanism=mechanism, routes=routes, dosing=dosing,
                renal=renal, adverse_effects=effects, interactions=interactions,
                monitoring=monitoring, audience=audience, **common)


def texts(fields: Fields, key: str) -> tuple[str, ...]:
    """A list of non-empty text items (a lone string is a list of one)."""
    value: Any = fields.data.get(key)
    if value is None:
        return ()
    items = [value] if isinstance(value, (str, int, float)) else value
    if not isinstance(items, list):
        fields.diags.append(fields.doc.error((*fields.base, key), "wrong-type",
                                             f"'{key}' must be a list of text items"))
        return ()
    result: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)) or \
                not str(item).strip():
            fields.diags.append(fields.doc.error((*fields.base, key, index), "wrong-type",
                                                 f"each '{key}' item must be text"))
            continue
        result.append(str(item).strip())
    return tuple(result)


def _dosing(fields: Fields) -> tuple[DosingRow, ...]:
    value = fields.data.get("dosing")
    if value is None:
        return ()
    if not isinstance(value, list):
        fields.diags.append(fields.doc.error(("dosing",), "wrong-type",
                                             "'dosing' must be a list of {indication, regimen}"))
        return ()
    rows: list[DosingRow] = []
    for index in range(len(value)):
        row = Fields(fields.doc, ("dosing", index), fields.diags)
        if not row.ok:
            fields.diags.append(fields.doc.error(("dosing", index), "wrong-type",
                                                 "each dosing entry must be a mapping with "
                                                 "'indication' and 'regimen'"))
            continue
        row.check_keys(DOSING_KEYS, "dosing")
        indication = row.text("indication", required=True)
        regimen = row.text("regimen", required=True)
        cite = row.words("cite", _KEY, "a citation key")
        if indication is not None and regimen is not None:
            rows.append(DosingRow(indication, regimen, row.text("notes"), cite))
    return tuple(rows)
