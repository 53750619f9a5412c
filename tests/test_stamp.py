"""The no-op fast path: an unchanged site is reported again without being loaded."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from clinsite import pipeline
from clinsite.cli import cli
from tests.conftest import summary

NOTHING_CHANGED = "(nothing changed)"
UNCITED = """
@article{unused2020,
  author = {Doe, Jane},
  title = {Never cited},
  journal = {J Other},
  year = {2020},
}
"""


def age(root: Path, seconds: float = 60) -> None:
    """Date every input back, as on a real site (an input written within two seconds of
    a build is 'racy' and never trusted)."""
    past = time.time() - seconds
    paths = [root]
    for top in root.iterdir():
        # (not the output, the cache, or the folders a build keeps beside the output: its
        # trash may be being deleted in the background right now)
        if top.name not in ("site", ".clinsite-cache") and not top.name.startswith(".site."):
            paths += [top, *top.rglob("*")]
    for path in paths:
        os.utime(path, (past, past), follow_symlinks=False)


def run(runner, root: Path, *args: str):
    return runner.invoke(cli, ["build", "--root", str(root), *args])


@pytest.fixture
def built(make_site, runner):
    root = make_site({"content/summaries/q.md": summary(), "content/summaries/r.md": summary(
        title="Another question?"), "references/extra.bib": UNCITED})
    age(root)
    first = run(runner, root)
    assert first.exit_code == 0, first.output
    assert NOTHING_CHANGED not in first.output
    return root


def test_an_unchanged_site_is_not_loaded_again(built, runner, monkeypatch):
    first = run(runner, built)  # the first build's warnings, replayed
    monkeypatch.setattr(pipeline, "build", lambda *a, **k: pytest.fail("pipeline ran"))
    page = built / "site/summaries/q/index.html"
    inode = page.stat().st_ino
    again = run(runner, built)
    assert again.exit_code == 0, again.output
    assert NOTHING_CHANGED in again.output
    warnings = [line for line in again.output.splitlines() if ": warning: " in line]
    assert warnings and warnings == [line for line in first.output.splitlines()
                                     if ": warning: " in line]
    assert warnings[0].startswith("references/extra.bib:2:")
    assert page.stat().st_ino == inode


@pytest.mark.parametrize("change", ["edit", "same-size-edit", "new-file", "option", "day",
                                    "output-deleted", "output-added", "template"])
def test_any_change_falls_through_to_a_real_build(built, runner, change, monkeypatch):
    target = built / "content/summaries/q.md"
    args: list[str] = []
    if change == "edit":
        target.write_text(target.read_text() + "\nMore [@smith2018].\n")
    elif change == "same-size-edit":
        text = target.read_text()
        target.write_text(text.replace("Does it work?", "Does it help?"))
        assert len(target.read_text()) == len(text)
    elif change == "new-file":
        (built / "content/summaries/s.md").write_text(summary(title="A third?"))
    elif change == "option":
        args = ["--no-search"]
    elif change == "day":
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795392000")  # a day later
    elif change == "output-deleted":
        (built / "site/summaries/q/cite.ris").unlink()
    elif change == "output-added":
        (built / "site/summaries/q/stray.txt").write_text("x")
    elif change == "template":
        (built / "templates").mkdir(exist_ok=True)
        (built / "templates/page.html").write_text("{% extends 'base.html' %}")
    if change not in ("output-deleted", "output-added"):
        age(built, 30)  # changed, but not racy: the stat differs from the saved one
    result = run(runner, built, *args)
    assert result.exit_code == 0, result.output
    assert NOTHING_CHANGED not in result.output
    if change == "output-deleted":
        assert (built / "site/summaries/q/cite.ris").is_file()


def test_a_recently_written_input_is_never_trusted(built, runner):
    target = built / "content/summaries/q.md"
    target.write_text(target.read_text())  # the same bytes, written just now
    for _ in range(2):
        result = run(runner, built)
        assert result.exit_code == 0 and NOTHING_CHANGED not in result.output


def test_a_new_commit_falls_through(built, runner):
    git = ["git", "-c", "user.name=T", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=built, check=True)
    subprocess.run([*git, "add", "content"], cwd=built, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=built, check=True)
    age(built)
    assert NOTHING_CHANGED not in run(runner, built).output
    assert NOTHING_CHANGED in run(runner, built).output
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "second"], cwd=built,
                   check=True)
    age(built)
    assert NOTHING_CHANGED not in run(runner, built).output  # page history may change


def test_no_cache_and_failed_builds_forget_the_stamp(built, runner):
    assert run(runner, built, "--no-cache").exit_code == 0
    assert not (built / ".clinsite-cache/stamp.pickle").exists()
    assert NOTHING_CHANGED not in run(runner, built).output
    assert NOTHING_CHANGED in run(runner, built).output
    assert run(runner, built, "--strict").exit_code == 1  # the unused-reference warning fails it
    assert NOTHING_CHANGED not in run(runner, built, "--strict").output


def test_installing_a_package_falls_through(built, runner, monkeypatch, tmp_path):
    from clinsite import stamp

    packages = tmp_path / "site-packages"
    packages.mkdir()
    monkeypatch.setattr(stamp.site, "getsitepackages", lambda: [str(packages)])
    assert NOTHING_CHANGED not in run(runner, built).output  # (a new environment)
    assert NOTHING_CHANGED in run(runner, built).output
    (packages / "markdown_it_py-9.9.dist-info").mkdir()  # as `pip install -U` does
    result = run(runner, built)
    assert result.exit_code == 0 and NOTHING_CHANGED not in result.output


def test_a_rewrite_that_keeps_size_and_mtime_falls_through(built, runner):
    target = built / "content/summaries/q.md"
    before = target.stat()
    text = target.read_text()
    target.write_text(text.replace("Does it work?", "Does it help?"))  # same size
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # as `cp -p` leaves it
    assert target.stat().st_mtime_ns == before.st_mtime_ns
    time.sleep(0.01)
    result = run(runner, built)
    assert result.exit_code == 0 and NOTHING_CHANGED not in result.output


def test_the_output_folders_are_every_folder_the_walk_finds(built):
    """`_out_dirs` lists the folders without a `stat` of every file: the same folders, with
    the same mtimes and inodes, as the full walk of the output (links followed)."""
    from clinsite import stamp

    out = built / "site"
    (out / "extra/deep/er").mkdir(parents=True)
    (out / "extra/__pycache__").mkdir()
    (out / "extra/linked").symlink_to(out / "summaries", target_is_directory=True)
    (out / "extra/dangling").symlink_to(out / "nowhere")
    (out / "extra/file-link").symlink_to(out / "index.html")
    walked = tuple((rel, mtime, ino) for rel, _, mtime, ino, _, is_dir
                   in stamp._walk(out, ".") if is_dir)
    listed = stamp._out_dirs(out)
    assert listed == walked
    names = [rel for rel, _, _ in listed]
    assert {"./extra/deep/er", "./extra/linked", "./extra/linked/q", "./summaries/q"} <= \
        set(names)
    assert not any("__pycache__" in rel or "dangling" in rel or "file-link" in rel
                   for rel in names)


def test_the_stamp_takes_the_output_folders_from_the_commit(built, runner, monkeypatch):
    """After a build that wrote the output, the stamp's folders come from the writer (which
    stats them for its journal at the commit), not from listing the output again: the same
    folders, mtimes and inodes as the listing."""
    from clinsite import persist, stamp

    probe = built / "probe"
    (probe / "sub").mkdir(parents=True)
    counts_links = probe.stat().st_nlink == 3  # (ext4, XFS; not btrfs: the walk is used)
    (probe / "sub").rmdir()
    probe.rmdir()
    if not counts_links:
        pytest.skip("this file system does not count a folder's subfolders in its links")
    target = built / "content/summaries/q.md"
    target.write_text(target.read_text() + "\nMore [@smith2018].\n")
    age(built, 30)
    listing = stamp._out_dirs
    monkeypatch.setattr(stamp, "_out_dirs", lambda out: pytest.fail("the output was listed"))
    result = run(runner, built)
    assert result.exit_code == 0, result.output
    monkeypatch.setattr(stamp, "_out_dirs", listing)
    saved = persist.load(built / ".clinsite-cache" / stamp._FILE)
    assert saved.out_dirs == stamp._out_dirs(built / "site")
    assert NOTHING_CHANGED in run(runner, built).output
    (built / "site/summaries/q/stray.txt").write_text("x")  # the check still sees the output
    assert NOTHING_CHANGED not in run(runner, built).output


def test_a_folder_the_commit_does_not_know_makes_the_stamp_list_the_output(built, runner,
                                                                           monkeypatch):
    """An empty folder in the committed output holds none of the build's files, so the
    writer's folders are not all the folders: their link counts show it, and the stamp
    lists the output, so a file later put into that folder is still noticed."""
    from clinsite import persist, stamp
    from clinsite.writer import SiteWriter

    sweep = SiteWriter.sweep

    def sweep_and_leave_a_folder(self, keep):
        removed = sweep(self, keep)
        (self.tmp / "summaries/q/empty").mkdir()
        return removed

    monkeypatch.setattr(SiteWriter, "sweep", sweep_and_leave_a_folder)
    target = built / "content/summaries/q.md"
    target.write_text(target.read_text() + "\nMore [@smith2018].\n")
    age(built, 30)
    assert run(runner, built).exit_code == 0
    monkeypatch.setattr(SiteWriter, "sweep", sweep)
    saved = persist.load(built / ".clinsite-cache" / stamp._FILE)
    assert "./summaries/q/empty" in [rel for rel, _, _ in saved.out_dirs]
    assert saved.out_dirs == stamp._out_dirs(built / "site")
    assert NOTHING_CHANGED in run(runner, built).output
    (built / "site/summaries/q/empty/stray.txt").write_text("x")
    assert NOTHING_CHANGED not in run(runner, built).output
