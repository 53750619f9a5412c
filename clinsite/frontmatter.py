"""Source files -> text, front matter and YAML values with their positions.

The loaders' shared first stage: decode a file (BOM, CRLF, bad UTF-8 with
the byte's line and column), split the `---` front matter off the body, and
parse YAML with PyYAML's C loader while keeping every node's mark, so each
later check can point at the exact value it rejects.
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import yaml

from clinsite.diagnostics import Diagnostic, error

try:  # the C loader is an order of magnitude faster; fall back where absent
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Base = yaml.SafeLoader


class _Loader(_Base):  # type: ignore[misc]
    """Safe loading, but dates stay text: `2026-13-01` must become a diagnostic
    at its own position (schema.Fields.date), not a failure of the whole file."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _Base.yaml_implicit_resolvers.items()
    }

YamlPath = tuple[str | int, ...]


class YamlDoc:
    """A YAML value plus the 1-based file position of every key and value in it.

    The positions are only read to place a diagnostic, and a site's documents hold tens
    of thousands of them: pickled (in the document and front-matter caches), they are one
    `marshal` string, unpacked on first use. Unpickling them as dictionaries was half of
    loading the document cache."""

    __slots__ = ("_packed", "_positions", "data", "origin", "path", "problems")

    def __init__(self, path: str, data: Any, values: dict[YamlPath, tuple[int, int]] | None = None,
                 keys: dict[YamlPath, tuple[int, int]] | None = None,
                 spans: dict[YamlPath, tuple[int, int]] | None = None,
                 problems: list[Diagnostic] | None = None,
                 origin: tuple[int, int] = (1, 1)) -> None:
        self.path = path
        self.data = data
        self._positions: _Positions | None = (
            values if values is not None else {}, keys if keys is not None else {},
            spans if spans is not None else {})
        self._packed: bytes | None = None
        self.problems: list[Diagnostic] = problems if problems is not None else []
        self.origin = origin

    @property
    def values(self) -> dict[YamlPath, tuple[int, int]]:
        """Where each value starts, by its path."""
        return self._unpacked()[0]

    @property
    def keys(self) -> dict[YamlPath, tuple[int, int]]:
        """Where the mapping key naming each path starts."""
        return self._unpacked()[1]

    @property
    def spans(self) -> dict[YamlPath, tuple[int, int]]:
        """Each scalar value's (start, end) offsets in the front matter's text."""
        return self._unpacked()[2]

    def _unpacked(self) -> _Positions:
        positions = self._positions
        if positions is None:  # (`_packed` is never cleared: safe if two threads get here)
            try:
                positions = marshal.loads(self._packed or b"")
                if not (isinstance(positions, tuple) and len(positions) == 3 and
                        all(isinstance(part, dict) for part in positions)):
                    raise ValueError("not three position tables")
            except Exception:  # (a damaged cache: values placed at the front matter's start)
                positions = ({}, {}, {})
            self._positions = positions
        return positions

    def __reduce__(self) -> tuple[Any, ...]:
        positions = self._positions
        packed = self._packed if positions is None else marshal.dumps(positions)
        return _packed_yaml_doc, (self.path, self.data, packed, self.problems, self.origin)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, YamlDoc):
            return NotImplemented
        return (self.path, self.data, self._unpacked(), self.problems, self.origin) == \
            (other.path, other.data, other._unpacked(), other.problems, other.origin)

    __hash__ = None  # type: ignore[assignment]  # (mutable contents, as before)

    def __repr__(self) -> str:
        return f"YamlDoc(path={self.path!r}, data={self.data!r}, origin={self.origin!r})"

    def pos(self, path: YamlPath) -> tuple[int, int]:
        """Position of the value at `path`, or of its nearest located parent."""
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), self.origin)

    def key_pos(self, path: YamlPath) -> tuple[int, int]:
        """Position of the mapping key that names `path` (its value if unknown)."""
        return self.keys.get(path) or self.pos(path)

    def error(self, path: YamlPath, code: str, message: str) -> Diagnostic:
        line, col = self.pos(path)
        return error(self.path, line, col, code, message)


_Positions = tuple[dict[YamlPath, tuple[int, int]], dict[YamlPath, tuple[int, int]],
                   dict[YamlPath, tuple[int, int]]]


def _packed_yaml_doc(path: str, data: Any, packed: bytes, problems: list[Diagnostic],
                     origin: tuple[int, int]) -> YamlDoc:
    """A YamlDoc as unpickled: its positions still packed (see YamlDoc)."""
    doc = YamlDoc.__new__(YamlDoc)
    doc.path, doc.data, doc.problems, doc.origin = path, data, problems, origin
    doc._positions, doc._packed = None, packed
    return doc


@dataclass(frozen=True, slots=True)
class SourceText:
    """A decoded source file: text with LF line ends and no BOM."""

    path: str
    text: str


def decode_source(path: str, raw: bytes) -> SourceText | Diagnostic:
    """Decode UTF-8 (BOM allowed); a bad byte is reported at its line and column."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        col = len(before[line_start:].decode("utf-8", "replace")) + 1
        return error(
            path, line, col, "encoding",
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8",
        )
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return SourceText(path, text)


@dataclass(frozen=True, slots=True)
class Split:
    """A file split into front matter and body, with where each starts (1-based)."""

    front: str
    front_line: int
    body: str
    body_line: int


def split_front_matter(source: SourceText) -> Split | Diagnostic:
    """Split `---` front matter from the body; unclosed or absent is an error."""
    text = source.text
    if not text.strip():
        return error(source.path, 1, 1, "empty-file", "file is empty; it needs front matter")
    first, _, rest = text.partition("\n")
    if first.rstrip() != "---":
        return error(
            source.path, 1, 1, "front-matter-missing",
            "file must start with front matter: a '---' line, YAML fields, then '---'",
        )
    lines = rest.split("\n")
    for index, line in enumerate(lines):
        if line.rstrip() in ("---", "..."):
            front = "\n".join(lines[:index]) + "\n"
            body = "\n".join(lines[index + 1 :])
            return Split(front, 2, body, index + 3)
    return error(
        source.path, 1, 1, "front-matter-unclosed",
        "front matter opened with '---' on line 1 is never closed with '---'",
    )


def parse_yaml(path: str, text: str, first_line: int = 1) -> YamlDoc | Diagnostic:
    """Parse one YAML document, keeping the file position of every node."""
    too_deep = _flow_depth_over(text, MAX_YAML_DEPTH)
    if too_deep is not None:  # libyaml's C parser overflows the stack near 25,000 levels
        line = text.count("\n", 0, too_deep) + first_line
        col = too_deep - (text.rfind("\n", 0, too_deep) + 1) + 1
        return error(path, line, col, "yaml-syntax",
                     f"YAML nested more than {MAX_YAML_DEPTH} levels deep")
    loader = _Loader(text)
    node = None
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line if mark else 0) + first_line
        col = (mark.column if mark else 0) + 1
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem and exc.context.startswith("expected"):
            problem = f"{exc.context} {exc.problem}"  # e.g. a second document in the file
        return error(path, line, col, "yaml-syntax", f"YAML syntax error: {problem}")
    except yaml.YAMLError as exc:
        return error(path, first_line, 1, "yaml-syntax", f"YAML error: {exc}")
    except (ValueError, TypeError, OverflowError, IndexError, KeyError, AttributeError,
            RecursionError) as exc:  # e.g. `!!int x`, a date like 2024-02-30, deep nesting
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        where = _failing_scalar(node) if node is not None else None
        line, col = ((where.line + first_line, where.column + 1) if where is not None
                     else (first_line, 1))
        return error(path, line, col, "yaml-value", f"invalid YAML value: {detail}")
    finally:
        loader.dispose()
    doc = YamlDoc(path, data, origin=(first_line, 1))
    if node is not None:
        _index(node, (), doc, first_line)
    return doc


MAX_YAML_DEPTH = 200


def _failing_scalar(root: yaml.Node) -> Any:
    """The mark of the first scalar whose value cannot be constructed (`!!int en`)."""
    probe = _Loader("")
    stack, seen = [root], set()
    try:
        while stack:
            node = stack.pop(0)
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.ScalarNode):
                try:
                    probe.construct_object(node)
                except Exception:
                    return node.start_mark
            elif isinstance(node, yaml.MappingNode):
                stack[:0] = [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                stack[:0] = list(node.value)
    finally:
        probe.dispose()
    return None


def _flow_depth_over(text: str, limit: int) -> int | None:
    """Index of the first `[`/`{` nested deeper than `limit` (quotes ignored: a
    conservative, linear pre-check; front matter never legitimately nests deep)."""
    if text.count("[") + text.count("{") <= limit:
        return None
    depth = 0
    for index, ch in enumerate(text):
        if ch in "[{":
            depth += 1
            if depth > limit:
                return index
        elif ch in "]}" and depth:
            depth -= 1
    return None


def _index(node: yaml.Node, path: YamlPath, doc: YamlDoc, first_line: int) -> None:
    """Record the position of `node` and of everything below it (iteratively)."""
    stack: list[tuple[yaml.Node, YamlPath]] = [(node, path)]
    seen: set[int] = set()
    while stack:
        current, here = stack.pop()
        if id(current) in seen:  # an alias: indexed once, so "billion laughs" stays small
            continue
        seen.add(id(current))
        mark = current.start_mark
        doc.values[here] = (mark.line + first_line, mark.column + 1)
        doc.spans[here] = (current.start_mark.index, current.end_mark.index)
        children: list[tuple[yaml.Node, YamlPath]] = []
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                child = (*here, key)
                km = key_node.start_mark
                if child in doc.keys:  # PyYAML silently keeps the last one
                    doc.problems.append(error(
                        doc.path, km.line + first_line, km.column + 1, "duplicate-key",
                        f"key '{key}' is given twice (first on line {doc.keys[child][0]})",
                    ))
                doc.keys[child] = (km.line + first_line, km.column + 1)
                children.append((value_node, child))
        elif isinstance(current, yaml.SequenceNode):
            children = [(item, (*here, i)) for i, item in enumerate(current.value)]
        stack.extend(reversed(children))  # document order, so a repeated key's last value wins


Entries = dict[str, tuple[str, YamlDoc]]  # path -> (digest of the front matter, parsed)


class ParseCache:
    """Parsed front matter by file and a digest of its text, kept between builds (see
    clinsite.cache): a file whose front matter did not change is not parsed again. The
    entries are kept in buckets by path (`bucket_of`), each loaded (by `loader`) only when
    one of its files must be parsed: when every document comes from
    clinsite.content.DocumentCache, none is read at all."""

    def __init__(self, loader: Callable[[int], Entries] | None = None,
                 bucket_of: Callable[[str], int] | None = None) -> None:
        self._loader = loader
        self._bucket_of = bucket_of or (lambda path: 0)
        self.buckets: dict[int, Entries] = {}  # the buckets loaded
        self.used: Entries = {}
        self.kept: list[str] = []  # files whose documents came from elsewhere
        self.parsed = 0  # how many were parsed (not found) in this build

    def _entries(self, path: str) -> Entries:
        index = self._bucket_of(path)
        if index not in self.buckets:
            self.buckets[index] = self._loader(index) if self._loader is not None else {}
        return self.buckets[index]

    def parse(self, path: str, text: str, first_line: int = 1) -> YamlDoc | Diagnostic:
        key = hashlib.blake2b(f"{path}\0{first_line}\0{text}".encode(),
                              digest_size=16).hexdigest()
        known = self._entries(path).get(path)
        if known is not None and known[0] == key:
            doc = known[1]
        else:
            parsed = parse_yaml(path, text, first_line)
            if isinstance(parsed, Diagnostic):
                return parsed
            doc = parsed
            self.parsed += 1
        self.used[path] = (key, doc)
        return doc

    def keep(self, path: str) -> None:
        """A file this build did not need to parse (its document came from
        clinsite.content.DocumentCache): its entry stays for a later build."""
        self.kept.append(path)

    def to_save(self) -> dict[int, Entries]:
        """The buckets to write again: those loaded whose entries changed, each with the
        entries of the files this build has (parsed or kept)."""
        present = set(self.kept) | self.used.keys()
        grouped: dict[int, Entries] = {index: {} for index in self.buckets}
        for path in present:
            index = self._bucket_of(path)
            if index in grouped:
                entry = self.used.get(path) or self.buckets[index].get(path)
                if entry is not None:
                    grouped[index][path] = entry
        return {index: entries for index, entries in grouped.items()
                if entries != self.buckets[index]}
