"""The build's cache files: written whole or not at all, and loaded out of the garbage
collector's way.

Every cache (clinsite.cache's manifest and buckets, the parsed reference store, the
writer's journal, the no-op stamp) is a pickle written to a temporary name and renamed,
so a killed build leaves the old file or the new one. Loading one creates hundreds of
thousands of objects, none of them garbage: `load` pauses the collector meanwhile and,
within a build (`frozen_gc`), moves them straight to its permanent generation.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_frozen_scopes = 0


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


def load(path: Path) -> Any:
    """The value pickled at `path`, loaded with the collector paused (then frozen, within
    a build). Raises what opening or unpickling raises: a damaged file can raise almost
    anything, and each caller treats any exception as "no cache"."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        with path.open("rb") as handle:
            loaded = pickle.load(handle)
        freeze_loaded()
        return loaded
    finally:
        if enabled:
            gc.enable()


def dump(path: Path, value: object) -> None:
    """Pickle `value` to `path` (making its folder), whole or not at all. Raises OSError."""
    write(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def write(path: Path, data: bytes) -> None:
    """Write `data` (a pickle) to `path` (making its folder), whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
