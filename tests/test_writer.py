"""The output writer: atomic swap, --out guards, recovery after a crash."""

from __future__ import annotations

import time

import pytest

from clinsite.writer import (
    MARKER,
    MARKER_TEXT,
    SiteWriter,
    UnsafeOutput,
    check_output_dir,
    recover,
)

SOURCES = ("content", "references", "templates")


def test_swap_replaces_previous_output(tmp_path):
    out = tmp_path / "site"
    first = SiteWriter(out)
    first.write("index.html", "one")
    first.commit()
    second = SiteWriter(out)
    second.write("index.html", "two")
    assert (out / "index.html").read_text() == "one"  # untouched until commit
    second.commit()
    assert (out / "index.html").read_text() == "two"
    assert (out / MARKER).is_file()
    # The replaced tree is kept as the next build's starting point.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.clinsite-spare", "site"]
    assert (tmp_path / ".site.clinsite-spare/index.html").read_text() == "one"


def test_abort_leaves_previous_output(tmp_path):
    out = tmp_path / "site"
    w = SiteWriter(out)
    w.write("a/index.html", "old")
    w.commit()
    failed = SiteWriter(out)
    failed.write("a/index.html", "new")
    failed.abort()
    assert (out / "a/index.html").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


@pytest.mark.parametrize("rel", ["../x.html", "/etc/x", "a/../../x", ""])
def test_paths_cannot_escape(tmp_path, rel):
    w = SiteWriter(tmp_path / "site")
    with pytest.raises(ValueError):
        w.write(rel, "x")
    w.abort()


def test_same_path_twice_is_refused(tmp_path):
    w = SiteWriter(tmp_path / "site")
    w.write("index.html", "x")
    with pytest.raises(ValueError):
        w.write("index.html", "y")
    w.abort()


def test_guards(tmp_path):
    root = tmp_path / "root"
    (root / "content").mkdir(parents=True)
    check_output_dir(root, root / "site", SOURCES)  # absent: fine
    for bad in (root, tmp_path, root / "content", root / "content" / "x"):
        with pytest.raises(UnsafeOutput):
            check_output_dir(root, bad, SOURCES)
    other = tmp_path / "docs"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    with pytest.raises(UnsafeOutput, match="not a previous clinsite output"):
        check_output_dir(root, other, SOURCES)
    (tmp_path / "empty").mkdir()
    check_output_dir(root, tmp_path / "empty", SOURCES)


def test_recover_from_kill_between_renames(tmp_path):
    out = tmp_path / "site"
    w = SiteWriter(out)
    w.write("index.html", "old")
    w.commit()
    old = tmp_path / ".site.clinsite-old-999"
    out.rename(old)  # as if killed right after moving the old output aside
    (tmp_path / ".site.clinsite-tmp-998").mkdir()
    recover(out)
    assert (out / "index.html").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_commit_is_one_atomic_exchange_on_linux(tmp_path, monkeypatch):
    import sys

    if sys.platform != "linux":
        pytest.skip("renameat2 is Linux-only; elsewhere recover() covers the gap")
    out = tmp_path / "site"
    first = SiteWriter(out)
    first.write("index.html", "old")
    first.commit()
    second = SiteWriter(out)
    second.write("index.html", "new")

    import os

    real_replace = os.replace
    moved: list[str] = []

    def record(src: object, dst: object) -> None:
        moved.append(str(src))
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr("clinsite.writer.os.replace", record)
    second.commit()
    assert str(out) not in moved  # never moved aside: exchanged in one step
    assert (out / "index.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.clinsite-spare", "site"]


# --- the spare: the replaced tree, recycled by the next build --------------------

def _tree(folder):
    import os

    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and not os.path.islink(p)}


def test_a_recycled_tree_never_touches_the_live_one(tmp_path):
    import os

    out = tmp_path / "site"
    for text in ("one", "two"):
        w = SiteWriter(out)
        w.write("a/index.html", text)
        w.write("shared.txt", "same")
        w.commit()
    live = _tree(out)
    w = SiteWriter(out)
    assert w.recycled
    # The spare's files may be hard links of the live tree's: writing one makes a new file.
    os.unlink(w.tmp / "shared.txt")
    os.link(out / "shared.txt", w.tmp / "shared.txt")
    w.written.discard("shared.txt")
    w.write("shared.txt", "changed")
    w.write("a/index.html", "three")
    assert _tree(out) == live
    w.abort()
    assert _tree(out) == live


def test_the_sweep_leaves_exactly_what_the_build_produced(tmp_path):
    out = tmp_path / "site"
    w = SiteWriter(out)
    for rel in ("index.html", "old/index.html", "old/deep/x.txt", "keep/index.html"):
        w.write(rel, rel)
    w.commit()
    w = SiteWriter(out)
    w.commit()  # (an empty build: the spare is now the first tree)
    w = SiteWriter(out)
    assert w.recycled and (w.tmp / "old/deep/x.txt").is_file()
    w.write("index.html", "new")
    w.write("keep/index.html", "kept")
    assert w.sweep(set(w.written)) == 2
    w.commit()
    assert _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"new",
                          "keep/index.html": b"kept"}


def test_a_build_killed_while_recycling_leaves_the_live_tree(tmp_path):
    out = tmp_path / "site"
    for text in ("one", "two"):
        w = SiteWriter(out)
        w.write("index.html", text)
        w.commit()
    w = SiteWriter(out)
    w.write("index.html", "half")  # ...and the process dies here
    assert (out / "index.html").read_text() == "two"
    recover(out)
    for _ in range(100):  # (what the dead build had moved aside goes in the background)
        if sorted(p.name for p in tmp_path.iterdir()) == ["site"]:
            break
        time.sleep(0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
    w = SiteWriter(out)  # no spare: an empty folder, as before the first build
    assert not w.recycled and not any(w.tmp.iterdir())


def test_a_symbolic_link_in_a_recycled_tree_is_never_followed(tmp_path):
    out = tmp_path / "site"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "app.css").write_text("theirs")
    for _ in range(2):
        w = SiteWriter(out)
        w.write("index.html", "page")
        w.write("assets/app.css", "ours")
        w.commit()
    # Someone links a folder of the live output elsewhere; it becomes the next spare.
    import shutil

    shutil.rmtree(out / "assets")
    (out / "assets").symlink_to(outside, target_is_directory=True)
    for _ in range(2):
        w = SiteWriter(out)
        w.write("index.html", "page")
        w.write("assets/app.css", "ours")
        w.sweep(set(w.written))
        w.commit()
    assert (outside / "app.css").read_text() == "theirs"  # never written through
    assert not (out / "assets").is_symlink() and (out / "assets/app.css").read_text() == "ours"


def test_a_linked_output_folder_is_never_recycled(tmp_path):
    target = tmp_path / "www"
    w = SiteWriter(target)
    w.write("index.html", "served")
    w.commit()
    out = tmp_path / "site"
    out.symlink_to(target, target_is_directory=True)
    for text in ("one", "two"):
        w = SiteWriter(out)
        assert not w.recycled
        w.write("index.html", text)
        w.commit()
    w = SiteWriter(out)
    w.write("index.html", "failed")
    w.abort()
    assert (target / "index.html").read_text() == "served"  # what the link pointed to
    assert (out / "index.html").read_text() == "two"
    assert not (tmp_path / ".site.clinsite-spare").is_symlink()


# --- the journal: catching the spare up from the list of differences ---------------

def _build(out, journal, files, *, remember=True, fresh=()):
    """One build that writes `files` (rel -> text; None: reuse the live tree's copy)."""
    import os

    w = SiteWriter(out, journal=journal, remember=remember)
    for rel, text in files.items():
        if text is not None:
            w.write(rel, text)
        elif not w.holds(rel):
            w.make_folder(rel.rpartition("/")[0])
            (w.tmp / rel).unlink(missing_ok=True)  # (a recycled tree's older copy)
            os.link(out / rel, w.tmp / rel)
            w.written.add(rel)
        else:
            w.written.add(rel)
    w.sweep(set(files))
    w.commit(fresh)
    w.finish()
    return w


def test_the_journal_catches_the_spare_up_without_walking_it(tmp_path):
    out, journal = tmp_path / "site", tmp_path / "cache/trees.pickle"
    first = _build(out, journal, {"index.html": "1", "a/index.html": "a", "b/index.html": "b"})
    assert first.mirror is None  # nothing recycled yet
    _build(out, journal, {"index.html": "2", "a/index.html": None, "b/index.html": None,
                          "c/index.html": "c"})
    third = _build(out, journal, {"index.html": "3", "a/index.html": None,
                                  "c/index.html": None, "d/x/index.html": "d"})
    # The spare held the first tree: the second's differences (index, c) were redone.
    assert third.mirror == {"index.html", "a/index.html", "b/index.html", "c/index.html"}
    assert _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"3", "a/index.html": b"a",
                          "c/index.html": b"c", "d/x/index.html": b"d"}
    assert not (out / "b").exists()
    fourth = _build(out, journal, {"index.html": "4", "d/x/index.html": None})
    assert fourth.mirror is not None
    assert _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"4", "d/x/index.html": b"d"}
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "d", "index.html"]
    assert (out / "a/index.html").exists() is False
    assert (out / "a").exists() is False  # emptied folders go


def test_a_hand_made_change_to_the_output_is_never_carried_over(tmp_path):
    out, journal = tmp_path / "site", tmp_path / "cache/trees.pickle"
    pages = {"index.html": "1", "a/index.html": "a"}
    for _ in range(2):
        _build(out, journal, pages)
    (out / "a/stray.html").write_text("by hand")  # into the live tree, later the spare
    w = _build(out, journal, {"index.html": "3", "a/index.html": None})
    assert w.mirror is None  # the live tree is not the one the journal remembers
    assert _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"3", "a/index.html": b"a"}
    w = _build(out, journal, {"index.html": "4", "a/index.html": None})
    assert w.mirror is None  # the spare (with the stray file) is walked and swept
    assert _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"4", "a/index.html": b"a"}
    w = _build(out, journal, {"index.html": "5", "a/index.html": None})
    assert w.mirror is not None  # remembered again
    assert _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"5", "a/index.html": b"a"}
    (tmp_path / ".site.clinsite-spare/a/stray.html").write_text("into the spare")
    w = _build(out, journal, {"index.html": "6", "a/index.html": None})
    assert w.mirror is None
    assert _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"6", "a/index.html": b"a"}


def test_a_build_that_does_not_remember_drops_the_journal(tmp_path):
    out, journal = tmp_path / "site", tmp_path / "cache/trees.pickle"
    for _ in range(2):
        _build(out, journal, {"index.html": "x"})
    other = _build(tmp_path / "elsewhere", journal, {"index.html": "y"}, remember=False)
    assert other.mirror is None and journal.is_file()  # another output's: kept
    w = _build(out, journal, {"index.html": "z"}, remember=False)
    assert w.mirror is None and not journal.exists()
    for text in "123":
        w = _build(out, journal, {"index.html": text})
    assert w.mirror is not None and _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"3"}


def test_journal_paths_must_stay_inside_the_tree():
    from clinsite.writer import _safe_paths

    for rel in ("a", "a/b", "a/..b", "x/.well/y", "pagefind/shard-1/a.pf", "...", "a/.../b"):
        assert _safe_paths([rel]), rel
    for rel in ("", "/a", "a/", "a//b", "..", ".", "../a", "a/..", "a/./b", "a/../b", "a\0b",
                "./a", "a/."):
        assert not _safe_paths(["ok", rel, "ok/too"]), rel
    assert _safe_paths([])


def test_a_journal_with_an_unsafe_path_is_not_used(tmp_path):
    import pickle

    from clinsite.writer import Journal, Tree, read_journal

    out, journal = tmp_path / "site", tmp_path / "cache/trees.pickle"
    for _ in range(2):
        _build(out, journal, {"index.html": "x"})
    assert read_journal(journal, out) is not None
    saved = read_journal(journal, out)
    assert saved is not None
    spoiled = Tree(saved.trees[-1].files, saved.trees[-1].folders,
                   saved.trees[-1].delta | {"../outside.html"})
    journal.write_bytes(pickle.dumps(Journal(saved.out, (saved.trees[0], spoiled))))
    assert read_journal(journal, out) is None


def test_what_a_recycled_tree_replaces_is_moved_aside_and_deleted_after_the_build(
        tmp_path, monkeypatch):
    import os

    import clinsite.writer as writer_mod

    removed: list[tuple[str, list[str]]] = []

    def remove(folder, *, large):
        removed.append((folder.name, sorted(p.name for p in folder.iterdir())))

    monkeypatch.setattr(writer_mod, "_remove", remove)
    out, journal = tmp_path / "site", tmp_path / "cache/trees.pickle"
    pages = [f"p{i}/index.html" for i in range(30)]
    _build(out, journal, {rel: "1" for rel in pages})
    _build(out, journal, {rel: "2" for rel in pages})  # every file differs from the spare
    removed.clear()
    w = _build(out, journal, {pages[0]: "3"} | {rel: None for rel in pages[1:]})
    assert w.recycled and w.mirror == set(pages)  # caught up, however large the difference
    # The spare's 30 old copies (catching up) and the live tree's page 0 (rewritten): moved
    # into one folder beside the output, handed to the background deletion at the commit.
    [(name, trash)] = removed
    assert name.startswith(".site.clinsite-gone-") and len(trash) == 31
    assert all(entry.startswith(f"{os.getpid()}-") for entry in trash)
    assert _tree(out) == {MARKER: MARKER_TEXT, pages[0]: b"3"} | {rel: b"2" for rel in pages[1:]}


def test_reusing_files_over_a_tree_the_journal_does_not_know_moves_its_files_aside(
        tmp_path, monkeypatch):
    """After a build without the journal (`--no-cache`), the spare is walked, and each file
    a reused page replaces in it is moved into the trash (a rename), not deleted on the
    build's path (0.22 ms a file on this project's disk: 1.8 s at N = 2,000)."""
    import os

    import clinsite.writer as writer_mod

    removed: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(writer_mod, "_remove", lambda folder, *, large: removed.append(
        (folder.name, sorted(p.name for p in folder.iterdir()))))
    out, journal = tmp_path / "site", tmp_path / "cache/trees.pickle"
    pages = [f"p{i}/index.html" for i in range(30)]
    _build(out, journal, {rel: "1" for rel in pages})
    _build(out, journal, {rel: "2" for rel in pages}, remember=False)
    removed.clear()
    w = SiteWriter(out, journal=journal)
    assert w.recycled and w.mirror is None  # the spare is walked, not caught up
    for rel in pages:
        w.link(rel, str(out / rel))
    w.link(pages[0], str(out / pages[0]))  # (already the live tree's file: nothing to do)
    w.sweep(set(pages))
    live = {rel: (out / rel).stat().st_ino for rel in pages}
    w.commit()
    [(name, trash)] = removed
    assert name.startswith(".site.clinsite-gone-") and len(trash) == 30
    assert all(entry.startswith(f"{os.getpid()}-") for entry in trash)
    assert {rel: (out / rel).stat().st_ino for rel in pages} == live  # the same files
    assert _tree(out) == {MARKER: MARKER_TEXT} | {rel: b"2" for rel in pages}


def test_a_write_never_reaches_the_live_tree_when_the_trash_is_gone(tmp_path):
    """Another build's `recover` may delete this build's trash folder: the recycled copy,
    a hard link of the live tree's file, is then deleted in place before the write."""
    import shutil

    out, journal = tmp_path / "site", tmp_path / "cache/trees.pickle"
    _build(out, journal, {"a.html": "1", "b.html": "1"})
    _build(out, journal, {"a.html": "2", "b.html": "2"})
    _build(out, journal, {"a.html": "3", "b.html": None})
    w = SiteWriter(out, journal=journal)
    assert w.mirror == {"a.html", "b.html"}
    assert (w.tmp / "b.html").stat().st_ino == (out / "b.html").stat().st_ino
    shutil.rmtree(w._trash)
    w.write("b.html", "not committed")
    w.abort()
    assert (out / "b.html").read_text() == "2"


def test_the_trash_name_is_no_longer_than_needed(tmp_path):
    out = tmp_path / ("s" * 220)  # near the 255-byte limit of a file name
    for text in ("1", "2", "3", "4"):
        w = SiteWriter(out)
        w.write("index.html", text)
        w.commit()
    assert (out / "index.html").read_text() == "4" and w.recycled


def test_a_file_the_live_tree_holds_exactly_is_kept_not_written_again(tmp_path):
    """A write of the bytes the live output already holds keeps the live file (shared by
    hard link, as a reused page's): no new file, and the journal counts it unchanged."""
    from clinsite.writer import read_journal

    out, journal = tmp_path / "site", tmp_path / "cache/trees.pickle"
    pages = {"index.html": "1", "a/index.html": "aaa", "b/index.html": "bbb"}
    _build(out, journal, pages)
    for mirrored in (False, True):  # the spare not yet caught up from the journal, then so
        before = {rel: (out / rel).stat().st_ino for rel in pages}
        w = SiteWriter(out, journal=journal)
        assert (w.mirror is not None) is mirrored
        assert w.write("index.html", "2" if mirrored else "1!") is True
        assert w.write("a/index.html", "aaa") is False  # the same bytes
        other = "CCC" if mirrored else "BBB"
        assert w.write("b/index.html", other) is True  # the same size, other bytes
        w.sweep(set(pages))
        w.commit()
        assert _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"2" if mirrored else b"1!",
                              "a/index.html": b"aaa", "b/index.html": other.encode()}
        assert (out / "a/index.html").stat().st_ino == before["a/index.html"]
        assert (out / "b/index.html").stat().st_ino != before["b/index.html"]
        delta = read_journal(journal, out).trees[-1].delta
        assert sorted(delta) == ["b/index.html", "index.html"]


def test_a_live_file_is_kept_only_by_a_build_that_keeps_a_journal(tmp_path):
    out = tmp_path / "site"
    first = SiteWriter(out)
    first.write("index.html", "same")
    first.commit()
    inode = (out / "index.html").stat().st_ino
    w = SiteWriter(out, remember=False)  # (`--no-cache`: a clean build writes everything)
    assert w.write("index.html", "same") is True
    w.commit()
    assert (out / "index.html").stat().st_ino != inode


def test_a_symbolic_link_in_the_live_tree_is_never_kept(tmp_path):
    out, journal = tmp_path / "site", tmp_path / "cache/trees.pickle"
    _build(out, journal, {"index.html": "1", "a/index.html": "aaa"})
    outside = tmp_path / "outside.html"
    outside.write_text("aaa")
    (out / "a/index.html").unlink()
    (out / "a/index.html").symlink_to(outside)  # by hand, with the very bytes
    w = SiteWriter(out, journal=journal)
    assert w.write("a/index.html", "aaa") is True
    w.write("index.html", "2")
    w.sweep({"index.html", "a/index.html"})
    w.commit()
    written = out / "a/index.html"
    assert not written.is_symlink() and written.read_text() == "aaa"
    assert written.stat().st_ino != outside.stat().st_ino


# --- a build that replaced much of the output brings the spare up to date itself -------

def _inodes(folder, rels):
    return {rel: (folder / rel).stat().st_ino for rel in rels}


def test_a_large_change_brings_the_spare_up_to_date_once_committed(tmp_path, monkeypatch):
    """From EAGER_CATCH_UP differing paths, the build that made them catches the spare up
    once committed (`finish`), so the next build (an edit) finds an exact copy of the live tree and
    moves nothing aside for it; below, the next build does it, as before."""
    import os

    import clinsite.writer as writer_mod
    from clinsite.writer import read_journal

    monkeypatch.setattr(writer_mod, "EAGER_CATCH_UP", 4)
    retired: list[str] = []
    real_retire = SiteWriter._retire

    def retire(self, path):  # (the paths moved aside: those that were there)
        if os.path.lexists(path):
            retired.append(path)
        real_retire(self, path)

    monkeypatch.setattr(SiteWriter, "_retire", retire)
    out, journal = tmp_path / "site", tmp_path / "cache/trees.pickle"
    spare = tmp_path / ".site.clinsite-spare"
    pages = [f"p{i}/index.html" for i in range(5)] + ["gone/index.html"]
    _build(out, journal, {rel: "1" for rel in pages})
    # Every page differs, one is gone and one is new: 7 paths, caught up by `finish`.
    now = [*pages[:5], "new/index.html"]
    retired.clear()
    _build(out, journal, {rel: "2" for rel in now})
    assert sorted(retired) == sorted(str(spare / rel) for rel in pages)  # its old copies
    assert _inodes(spare, now) == _inodes(out, now)  # the live tree's files, linked
    assert _tree(spare) == _tree(out) and not (spare / "gone").exists()
    saved = read_journal(journal, out)
    assert saved.trees[-1].delta == frozenset() and saved.trees[0].files == set(now)
    # The next build starts from that copy: nothing of the spare to redo.
    retired.clear()
    w = SiteWriter(out, journal=journal)
    assert w.mirror == set(now) and retired == []
    w.write(now[0], "3")
    for rel in now[1:]:
        w.written.add(rel)  # (reused: the new tree holds the live file)
    w.sweep(set(now))
    w.commit()
    w.finish()
    assert _tree(out) == {MARKER: MARKER_TEXT, now[0]: b"3"} | {rel: b"2" for rel in now[1:]}
    # One differing path is below the threshold: the spare is left for the next build.
    assert read_journal(journal, out).trees[-1].delta == {now[0]}
    assert (spare / now[0]).read_text() == "2"


def test_a_spare_changed_during_the_build_is_not_caught_up_but_walked(tmp_path, monkeypatch):
    """The spare is caught up only if it is still exactly the tree the journal remembers:
    a file added to the output while the build ran (the output becomes the spare at the
    commit) is found by the next build's walk and swept, never published."""
    import clinsite.writer as writer_mod
    from clinsite.writer import read_journal

    monkeypatch.setattr(writer_mod, "EAGER_CATCH_UP", 1)
    out, journal = tmp_path / "site", tmp_path / "cache/trees.pickle"
    pages = ["index.html", "a/index.html"]
    _build(out, journal, {rel: "1" for rel in pages})
    w = SiteWriter(out, journal=journal)
    for rel in pages:
        w.write(rel, "2")
    (out / "a/stray.html").write_text("by hand, during the build")
    w.sweep(set(pages))
    w.commit()
    w.finish()
    saved = read_journal(journal, out)
    assert saved.trees[-1].delta == set(pages)  # not caught up
    assert (tmp_path / ".site.clinsite-spare/a/stray.html").is_file()
    w = _build(out, journal, {"index.html": "3", "a/index.html": None})
    assert w.mirror is None  # walked
    assert _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"3", "a/index.html": b"2"}


def test_a_folder_that_became_a_file_is_swept_and_caught_up(tmp_path, monkeypatch):
    """A path that was a folder and is now a file (or the reverse): the sweep and the
    catch-up find nothing under what is now a file, instead of failing."""
    import clinsite.writer as writer_mod
    from clinsite.writer import read_journal

    monkeypatch.setattr(writer_mod, "EAGER_CATCH_UP", 1)
    out, journal = tmp_path / "site", tmp_path / "cache/trees.pickle"
    _build(out, journal, {"index.html": "1", "a/b/index.html": "1"})
    _build(out, journal, {"index.html": "2", "a/b/index.html": "2"})
    _build(out, journal, {"index.html": "3", "a/b": "3"})  # the folder a/b, now a file
    assert _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"3", "a/b": b"3"}
    assert read_journal(journal, out).trees[-1].delta == frozenset()  # caught up
    assert _tree(tmp_path / ".site.clinsite-spare") == _tree(out)
    w = _build(out, journal, {"index.html": "4", "a/b/c.html": "4"})  # and back
    assert w.mirror is not None
    assert _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"4", "a/b/c.html": b"4"}


def test_a_file_above_a_folder_the_build_wants_is_moved_aside(tmp_path):
    """The recycled tree holds a file `a` where this build writes `a/b/c.html` (an asset
    that became a folder of assets, say): the file is moved aside, not a crash."""
    out, journal = tmp_path / "site", tmp_path / "cache/trees.pickle"
    _build(out, journal, {"index.html": "1", "a": "1"})
    _build(out, journal, {"index.html": "2", "a": "2"})
    _build(out, journal, {"index.html": "3", "a/b/c.html": "3"})
    assert _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"3", "a/b/c.html": b"3"}
    _build(out, journal, {"index.html": "4", "a/b/c.html": "4", "a/d/e.html": "4"})
    assert _tree(out) == {MARKER: MARKER_TEXT, "index.html": b"4", "a/b/c.html": b"4",
                          "a/d/e.html": b"4"}
