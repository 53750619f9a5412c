"""Typed reads of YAML mappings, each problem a diagnostic at the value.

The one place where `Any` from YAML becomes typed values: config, content
and board loaders all read their fields through `Fields`, so every type,
requirement and unknown-key check reports the same way.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from typing import Any

from clinsite.diagnostics import Diagnostic, did_you_mean, error, warning
from clinsite.frontmatter import YamlDoc, YamlPath

_TYPE_NAMES = {str: "text", int: "a whole number", bool: "true or false", list: "a list",
               dict: "a mapping", dt.date: "a date (YYYY-MM-DD)"}


def _short(value: Any, limit: int = 60) -> str:
    """A value as it may appear in a message: one line, bounded, whatever its size or depth
    (an alias bomb or 5,000 nested lists must not become a 25 MB diagnostic)."""
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "a mapping"
    text = str(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "…"


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dt.date):
        return "a date"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


class Fields:
    """Reads the fields of one mapping in a YAML document, collecting diagnostics."""

    def __init__(self, doc: YamlDoc, base: YamlPath = (), diags: list[Diagnostic] | None = None):
        self.doc = doc
        self.base = base
        self.diags: list[Diagnostic] = diags if diags is not None else []
        value = doc.data
        for part in base:
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and isinstance(part, int) and part < len(value):
                value = value[part]
            else:
                value = None
        self.ok = isinstance(value, dict)
        self.data: dict[str, Any] = value if isinstance(value, dict) else {}

    def _err(self, key: str | None, code: str, message: str) -> None:
        path = self.base if key is None else (*self.base, key)
        self.diags.append(self.doc.error(path, code, message))

    def sub(self, key: str) -> Fields | None:
        """The nested mapping at `key`, or None (with a diagnostic if it is not one)."""
        if key not in self.data or self.data[key] is None:
            return None
        if not isinstance(self.data[key], dict):
            self._err(key, "wrong-type", f"'{key}' must be a mapping of fields, "
                      f"not {_describe(self.data[key])}")
            return None
        return Fields(self.doc, (*self.base, key), self.diags)

    def check_keys(self, allowed: Collection[str], where: str) -> None:
        """Warn on every key not in `allowed`, suggesting the closest one."""
        for key in self.data:
            if str(key) not in allowed:
                line, col = self.doc.key_pos((*self.base, key))
                self.diags.append(warning(
                    self.doc.path, line, col, "unknown-key",
                    f"unknown {where} key '{key}'{did_you_mean(str(key), allowed)}",
                ))

    def missing(self, key: str, what: str = "") -> None:
        """Report a required field that is absent, at the mapping itself."""
        line, col = self.doc.pos(self.base) if self.base else self.doc.origin
        self.diags.append(error(self.doc.path, line, col, "missing-field",
                                f"required field '{key}' is missing{what}"))

    def text(self, key: str, *, required: bool = False) -> str | None:
        """A non-empty string (numbers are accepted and turned into text)."""
        value = self.data.get(key)
        if value is None:
            if required:
                if key in self.data:
                    self._err(key, "missing-field", f"required field '{key}' is empty")
                else:
                    self.missing(key)
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self._err(key, "wrong-type", f"'{key}' must be text, not {_describe(value)}")
            return None
        text = str(value).strip()
        if not text:
            if required:
                self._err(key, "missing-field", f"required field '{key}' is empty")
            return None
        return text

    def date(self, key: str, *, required: bool = False) -> dt.date | None:
        """A calendar date written YYYY-MM-DD."""
        value = self.data.get(key)
        if value is None:
            if required:
                self.missing(key)
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        self._err(key, "invalid-date",
                  f"'{key}' must be a date written YYYY-MM-DD, not '{_short(value)}'")
        return None

    def choice(self, key: str, choices: Collection[str], default: str | None = None,
               *, required: bool = False) -> str | None:
        """One of a closed set of words."""
        value = self.data.get(key)
        if value is None:
            if required:
                self.missing(key)
            return default
        if not isinstance(value, str) or value not in choices:
            hint = did_you_mean(str(value), choices) if isinstance(value, str) else ""
            allowed = ", ".join(choices)
            self._err(key, "invalid-value",
                      f"'{key}' must be one of {allowed}, not '{_short(value)}'{hint}")
            return default
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self._err(key, "wrong-type", f"'{key}' must be true or false, not '{_short(value)}'")
            return default
        return value

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self._err(key, "invalid-value",
                      f"'{key}' must be a whole number of at least {minimum}, "
                      f"not '{_short(value)}'")
            return default
        return value

    def words(self, key: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
        """A list of strings each matching `pattern` (a lone string is a list of one)."""
        value = self.data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self._err(key, "wrong-type", f"'{key}' must be a list, not {_describe(value)}")
            return ()
        result: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, (str, int)) and not isinstance(item, bool) and \
                    pattern.fullmatch(str(item)):
                if str(item) not in result:
                    result.append(str(item))
                continue
            line, col = self.doc.pos((*self.base, key, index))
            self.diags.append(error(self.doc.path, line, col, "invalid-value",
                                    f"'{key}' entry '{_short(item)}' is not {what}"))
        return tuple(result)

    def position(self, key: str | None = None) -> tuple[int, int]:
        return self.doc.pos(self.base if key is None else (*self.base, key))
