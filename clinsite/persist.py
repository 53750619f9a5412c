"""The build's cache files: written whole or not at all, and loaded out of the garbage
collector's way.

Every cache (clinsite.cache's manifest and buckets, the parsed reference store, the
writer's journal, the no-op stamp) is a pickle written to a temporary name and renamed,
so a killed build leaves the old file or the new one. Loading one creates hundreds of
thousands of objects, none of them garbage: `load` pauses the collector meanwhile and,
within a build (`frozen_gc`), moves them straight to its permanent generation.

A process that builds again and again (`clinsite serve`) can keep (`keeping`) the values of
the files whose readers never change what they load (`shared`): the next build takes such
a file's value from memory, by the file's identity (device, inode, size, mtime and ctime
of the very file read or written: a rename sets the ctime, which no tool can set back),
instead of unpickling it again.
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_frozen_scopes = 0
_UNSET: Any = object()
Identity = tuple[int, int, int, int, int]
Kept = dict[str, tuple[Identity, Any]]  # a file's path -> (its identity, its value)
# While `keeping` (in this thread or task): the values kept, and the paths loaded or
# written in the scope.
_keeping: contextvars.ContextVar[tuple[Kept, set[str]] | None] = contextvars.ContextVar(
    "clinsite_persist_keeping", default=None)


@contextlib.contextmanager
def keeping(values: Kept) -> Iterator[None]:
    """Within this scope (this thread's), `shared` loads and writes remember their values
    in `values` (the caller keeps it from one build to the next) and take them from it
    while the file is the same one. At its end, what the scope neither loaded nor wrote
    (a replaced manifest part, say) is let go."""
    touched: set[str] = set()
    token = _keeping.set((values, touched))
    try:
        yield
    finally:
        _keeping.reset(token)
        for path in values.keys() - touched:
            del values[path]


def _identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@contextlib.contextmanager
def frozen_gc(threshold: tuple[int, int, int] | None = None) -> Iterator[None]:
    """Within this scope, `gc.freeze()` keeps the objects that exist (and that later
    freezes add) out of the cyclic collector's reach; they are handed back to it when
    the outermost scope ends, so a long-running `serve` collects them in the end."""
    global _frozen_scopes
    previous = gc.get_threshold()
    gc.freeze()
    _frozen_scopes += 1
    if threshold is not None:
        gc.set_threshold(*threshold)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        _frozen_scopes -= 1
        if _frozen_scopes == 0:
            gc.unfreeze()


def freeze_loaded() -> None:
    """Within a `frozen_gc` scope, put what exists now (e.g. a cache just unpickled) out
    of the collector's reach at once. Left to it, the first collections after a large
    load walk every loaded object as it ages through the generations: 0.8 s of an edit
    build at N = 10,000. Outside a scope (a cache read by a test, say) it does nothing."""
    if _frozen_scopes:
        gc.freeze()


def load(path: Path, *, shared: bool = False) -> Any:
    """The value pickled at `path`, loaded with the collector paused (then frozen, within
    a build). Raises what opening or unpickling raises: a damaged file can raise almost
    anything, and each caller treats any exception as "no cache". `shared`: the caller
    never changes the value, so while `keeping` it may be the one an earlier build of this
    process loaded or wrote to this same file."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        with path.open("rb") as handle:
            scope = _keeping.get() if shared else None
            if scope is not None:
                kept, touched = scope
                touched.add(str(path))
                identity = _identity(os.fstat(handle.fileno()))
                hit = kept.get(str(path))
                if hit is not None and hit[0] == identity:
                    return hit[1]
            loaded = pickle.load(handle)
            if scope is not None:
                kept[str(path)] = (identity, loaded)
        freeze_loaded()
        return loaded
    finally:
        if enabled:
            gc.enable()


def dump(path: Path, value: object, *, shared: bool = False) -> None:
    """Pickle `value` to `path` (making its folder), whole or not at all. Raises OSError.
    `shared`: as for `load` (the caller no longer changes `value`)."""
    write(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL),
          value if shared else _UNSET)


def write(path: Path, data: bytes, value: Any = _UNSET) -> None:
    """Write `data` (a pickle) to `path` (making its folder), whole or not at all.
    `value`: what `data` is the pickle of, to keep while `keeping` (see `load`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    scope = _keeping.get()
    if scope is None or value is _UNSET or os.name == "nt":  # (Windows: no rename while open)
        tmp.write_bytes(data)
        os.replace(tmp, path)
        if scope is not None:
            scope[1].add(str(path))
            scope[0].pop(str(path), None)
        return
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.replace(tmp, path)
        identity = _identity(os.fstat(handle.fileno()))  # (after the rename: its ctime)
    kept, touched = scope
    touched.add(str(path))
    kept[str(path)] = (identity, value)
