"""Test helper (no tests here): compile the theme's templates once per test module.

Every `clinsite build`/`check` makes a new Jinja environment and compiles the theme
again (~0.2 s, most of a small site's run). Guards that run hundreds of builds share
Jinja's own bytecode cache between those environments: templates are still loaded
from disk and the cache is keyed by name and checked by source checksum, so what is
rendered does not change, only how often it is compiled.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jinja2
import jinja2.bccache
import pytest


class SharedBytecode(jinja2.BytecodeCache):
    """An in-memory bytecode cache that outlives one environment."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


@contextmanager
def templates_compiled_once() -> Iterator[SharedBytecode]:
    """While active, every new `jinja2.Environment` without a cache shares one."""
    original = jinja2.Environment.__init__
    cache = SharedBytecode()

    def init(self: jinja2.Environment, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("bytecode_cache", cache)
        original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jinja2.Environment, "__init__", init)
        yield cache
