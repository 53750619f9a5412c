"""clinsite.persist: cache files written whole, and kept in memory between the builds of
one process (`keeping`) while each is the very file read or written."""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path

from clinsite import persist


def names(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


def test_a_shared_file_is_unpickled_once_while_it_is_the_same_file(tmp_path: Path,
                                                                  unpickled: list[Path]):
    path, other = tmp_path / "a.pickle", tmp_path / "b.pickle"
    persist.dump(path, {"x": 1})
    persist.dump(other, [2])
    kept: dict = {}
    with persist.keeping(kept):
        first = persist.load(path, shared=True)
        assert persist.load(path, shared=True) is first
        assert persist.load(other) == [2] and persist.load(other) == [2]  # not shared
    assert names(unpickled) == ["a.pickle", "b.pickle", "b.pickle"]
    with persist.keeping(kept):  # the next build
        assert persist.load(path, shared=True) is first
    assert names(unpickled) == ["a.pickle", "b.pickle", "b.pickle"]

    persist.dump(path, {"x": 2})  # replaced by another process (or outside `keeping`)
    with persist.keeping(kept):
        assert persist.load(path, shared=True) == {"x": 2}
    assert names(unpickled) == ["a.pickle", "b.pickle", "b.pickle", "a.pickle"]


def test_a_shared_write_is_what_the_next_load_gets(tmp_path: Path, unpickled: list[Path]):
    path = tmp_path / "a.pickle"
    value = {"x": [1, 2]}
    kept: dict = {}
    with persist.keeping(kept):
        persist.dump(path, value, shared=True)
    with persist.keeping(kept):
        assert persist.load(path, shared=True) is value
        persist.write(path, pickle.dumps("raw"))  # written without its value: forgotten
        assert persist.load(path, shared=True) == "raw"
    assert names(unpickled) == ["a.pickle"]
    assert persist.load(path) == "raw"  # the file itself is always what was written


def test_what_a_build_did_not_touch_is_let_go(tmp_path: Path):
    used, dropped = tmp_path / "used.pickle", tmp_path / "dropped.pickle"
    kept: dict = {}
    with persist.keeping(kept):
        persist.dump(used, 1, shared=True)
        persist.dump(dropped, 2, shared=True)
    assert set(kept) == {str(used), str(dropped)}
    with persist.keeping(kept):
        persist.load(used, shared=True)
    assert set(kept) == {str(used)}


def test_outside_keeping_nothing_is_kept(tmp_path: Path, unpickled: list[Path]):
    path = tmp_path / "a.pickle"
    persist.dump(path, {"x": 1}, shared=True)
    assert persist.load(path, shared=True) is not persist.load(path, shared=True)
    assert names(unpickled) == ["a.pickle", "a.pickle"]


def test_a_file_rewritten_in_place_with_its_old_mtime_is_read_again(tmp_path: Path):
    path = tmp_path / "a.pickle"
    kept: dict = {}
    with persist.keeping(kept):
        persist.dump(path, "old-value", shared=True)
    st = path.stat()
    data = pickle.dumps("NEW-value", protocol=pickle.HIGHEST_PROTOCOL)
    assert len(data) == st.st_size
    path.write_bytes(data)  # in place (the same inode) and the same size...
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # ...and the old mtime (cp -p)
    assert path.stat().st_ino == st.st_ino
    with persist.keeping(kept):
        assert persist.load(path, shared=True) == "NEW-value"  # (its ctime changed)


def test_each_thread_keeps_its_own(tmp_path: Path):
    a, b = tmp_path / "a.pickle", tmp_path / "b.pickle"
    persist.dump(a, [1])
    persist.dump(b, [2])
    mine: dict = {}
    theirs: dict = {}
    inside, go_on = threading.Event(), threading.Event()

    def other() -> None:
        with persist.keeping(theirs):  # starts first, ends first
            inside.set()
            go_on.wait(5)
            persist.load(b, shared=True)

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    with persist.keeping(mine):
        go_on.set()
        thread.join(5)
        persist.load(a, shared=True)
    assert set(mine) == {str(a)} and set(theirs) == {str(b)}
    assert persist.load(a, shared=True) is not persist.load(a, shared=True)  # no scope left
