"""BibTeX scanning: ``references/*.bib`` text -> raw entries with positions.

Stage: loading (pure). pybtex's own tokenizer, extended to keep the offset of every
key and field, to resolve @string names across files and to carry on after a broken
entry; problems come out as (offset, message) pairs, `Positions` turns offsets into lines.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pybtex.database.input.bibtex import LowLevelParser, SkipEntry, UndefinedMacro, month_names
from pybtex.scanner import PrematureEOF, PybtexSyntaxError
from pybtex.textutils import normalize_whitespace
from pybtex.utils import CaseInsensitiveDict

from clinsite.diagnostics import did_you_mean


def string_macros() -> Any:
    """A fresh @string table, seeded with BibTeX's month names; pass the same one to every file."""
    return CaseInsensitiveDict(month_names)


class Positions:
    """Offset -> 1-based (line, column) for one file's text."""

    __slots__ = ("_starts",)

    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def at(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self._starts, offset) - 1
        return index + 1, offset - self._starts[index] + 1


@dataclass(frozen=True, slots=True)
class RawField:
    """One ``name = value`` with the offsets of the name and of the value."""

    name: str
    value: str
    name_pos: int
    value_pos: int


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One ``@type{key, ...}`` with the offset of its key."""

    type: str
    key: str
    key_pos: int
    fields: tuple[RawField, ...]


_TOP_LEVEL = re.compile(r"%[^\n]*|@")
_ENTRY_LINE = re.compile(r"^[ \t]*@", re.MULTILINE)
_COMMENT = re.compile(r"\s*comment\b\s*", re.IGNORECASE)


class BibScanner(LowLevelParser):  # type: ignore[misc]  # pybtex is untyped
    """pybtex's BibTeX tokenizer, remembering positions and recovering from errors.

    Unlike plain pybtex, a ``%`` line outside entries is a comment, ``@comment{...}``
    is skipped as a whole, and after a broken entry reading resumes at the next line
    that starts with ``@`` (so one unclosed brace does not swallow the rest).
    """

    def __init__(self, text: str, macros: Any) -> None:
        super().__init__(text, macros=macros)
        self.problems: list[tuple[int, str]] = []
        self._key_pos = 0
        self._open: tuple[str, int] | None = None  # an unfinished value or @comment
        self._name_pos = 0
        self._value_pos = 0

    def entries(self) -> Iterator[RawEntry]:
        """Every entry in file order (not @string or @preamble); problems go to `problems`."""
        for command, body in self.parse_bibliography():
            if command.lower() not in ("string", "preamble"):
                yield RawEntry(command, body[0], self._key_pos, tuple(body[1]))

    def parse_bibliography(self) -> Iterator[tuple[str, Any]]:
        while (at := self._next_at()) is not None:
            self.pos, self.command_start = at + 1, at
            self.current_entry_key = None
            try:
                result: tuple[str, Any] = tuple(self.parse_command())
            except SkipEntry:
                continue
            except PybtexSyntaxError as exc:
                self._recover(exc)
                continue
            yield result

    def _next_at(self) -> int | None:
        for match in _TOP_LEVEL.finditer(self.text, self.pos):
            if match.group() == "@":
                return match.start()
        return None

    def handle_error(self, exc: PybtexSyntaxError) -> None:
        """Undefined @string names are reported and read as empty; others end the entry."""
        if not isinstance(exc, UndefinedMacro):
            raise exc
        name = str(exc.args[0])
        hint = did_you_mean(name, [str(k) for k in self.macros])
        self.problems.append((self.pos - len(name), f"undefined string '{name}'{hint}"))

    def parse_command(self) -> Any:
        comment = _COMMENT.match(self.text, self.pos)
        if comment:
            self.pos = comment.end()
            if self.optional([self.LBRACE]):
                self._open = ("@comment", self.command_start)  # skipped whole, like biber
                for _ in self.parse_string(self.RBRACE):
                    pass
                self._open = None
            raise SkipEntry
        return super().parse_command()

    def parse_entry_body(self, body_end: Any) -> None:
        self.eat_whitespace()
        self._key_pos = self.pos
        pattern = self.KEY_PAREN if body_end == self.RPAREN else self.KEY_BRACE
        key = self.required([pattern], description="entry key").value
        self.current_entry_key = key
        if "=" in key or self.text.startswith("=", self._skip_spaces(self.pos)):
            self.pos = self._key_pos
            raise _Problem("entry key expected", self)
        self.parse_entry_fields()

    def parse_entry_fields(self) -> None:
        while True:
            self.current_field_name = None
            self.current_value = []
            self.parse_field()
            if self.current_field_name and self.current_value:
                value = normalize_whitespace("".join(self.current_value))
                raw = RawField(self.current_field_name, value, self._name_pos, self._value_pos)
                self.current_fields.append(raw)
            if not self.optional([self.COMMA]):
                return

    def parse_field(self) -> None:
        name = self.optional([self.NAME])
        if name:
            self.current_field_name = name.value
            self._name_pos = self.pos - len(name.value)
            self.required([self.EQUALS])
            self.parse_value()

    def parse_value(self) -> None:
        self.eat_whitespace()
        self._value_pos = self.pos
        self._open = (f"value of field '{self.current_field_name}'", self._value_pos)
        super().parse_value()
        self._open = None

    def update_lineno(self, value: str) -> None:
        """Not needed: positions are offsets, turned into lines only for problems."""

    def _skip_spaces(self, pos: int) -> int:
        match = self.WHITESPACE.match(self.text, pos)
        return match.end() if match else pos

    def _recover(self, exc: PybtexSyntaxError) -> None:
        """Report the error where it starts, then resume at the next entry line."""
        line_end = self.text.find("\n", self.command_start)
        found = _ENTRY_LINE.search(self.text, line_end) if line_end >= 0 else None
        resume = found.end() - 1 if found else self.end_pos
        self.problems.append(self._describe(exc, resume))
        self._open = None
        self.pos = resume

    def _describe(self, exc: PybtexSyntaxError, resume: int) -> tuple[int, str]:
        """Where the problem starts and what to do, from pybtex's terse message."""
        key, message = self.current_entry_key, str(exc.args[0])
        where = f" in entry '{key}'" if key else ""
        what, start = self._open or ("", self.pos)
        if message == "unbalanced braces":  # only raised inside a "quoted" value
            return start, f"unbalanced '}}' or a missing closing '\"' in the {what}{where}"
        if self._open and (isinstance(exc, PrematureEOF) or self.pos > resume):
            quote = "" if what == "@comment" else " or a missing closing '\"'"
            return start, f"unterminated {what}{where}: an unbalanced '{{'{quote}"
        if self.pos >= resume or isinstance(exc, PrematureEOF):
            before = "the next entry" if resume < self.end_pos else "the end of the file"
            what = f"entry '{key}'" if key else "entry"
            hint = "a missing '}' or an unbalanced '{' in a field"
            return self.command_start, f"{what} is not closed before {before} ({hint})"
        command = self.text[self.command_start : self.pos].strip()
        template = _MESSAGES.get(message, "{message}{where}")
        field_name = self.current_field_name
        text = template.format(message=message, where=where, command=command, field=field_name)
        return self.pos, text


_MESSAGES = {
    "'=' expected": "expected '=' after field name '{field}'{where}",
    "field value expected": "expected a value after '{field} ='{where} (a {{braced}} or "
    '"quoted" text, a number or a @string name)',
    "'}' expected": "expected ',' or '}}'{where}",
    "')' expected": "expected ',' or ')'{where}",
    "'(' or '{' expected": "expected '{{' after '{command}'",
    "a valid name expected": "expected an entry type after '@' (such as @article)",
    "entry key expected": "missing entry key (write it before the first field)",
}


class _Problem(PybtexSyntaxError):  # type: ignore[misc]
    """A syntax problem pybtex itself accepts but we do not (e.g. a missing key)."""
