"""The no-op fast path: a build whose inputs did not change does nothing, in milliseconds.

Before loading anything, a build takes a *stamp* of everything that can change its
output: the size, modification time and inode of every file under site.yaml,
content/, references/ and templates/, of the theme and of clinsite's own code; the
commit git's HEAD points to (page dates and history come from git); "today"; the
build's options. After a successful build the stamp is saved with the build's
diagnostics and the state of the output folders. The next `clinsite build` takes
the stamp again (a few milliseconds for thousands of files) and, when it and the
output are unchanged, reports the same diagnostics without importing the rest of
clinsite. Anything else falls through to the normal build, whose own cache
(clinsite.cache) decides page by page.

Like git's index, a file changed twice within the clock's resolution could keep its
stat; a stamp in which any input was modified within two seconds of the build is
therefore never trusted ("racy"), and the next build does the full check.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import site
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from clinsite import __version__, persist
from clinsite.diagnostics import Diagnostic
from clinsite.writer import MARKER

CACHE_DIR = ".clinsite-cache"  # (clinsite.cache's folder; not imported, to stay light)
_FILE = "stamp.pickle"
_FORMAT = 1
_RACY_NS = 2_000_000_000
_PACKAGE = Path(__file__).resolve().parent
_INPUTS = ("site.yaml", "content", "references", "templates")


@dataclass(frozen=True, slots=True)
class Stamp:
    key: str  # digest of every input's stat, git HEAD, today, the options and version
    racy: bool  # an input was modified within _RACY_NS of taking the stamp


@dataclass(frozen=True, slots=True)
class Saved:
    key: str
    out_dirs: tuple[tuple[str, int, int], ...]  # every output folder: (rel, mtime_ns, inode)
    diagnostics: tuple[Diagnostic, ...]
    pages: int
    format: int = _FORMAT


def build_options(strict: bool, drafts: bool, base_url: str | None,
                  search: bool) -> tuple[object, ...]:
    """The options that change a build's output or verdict (not --jobs, not --quiet)."""
    return (strict, drafts, base_url, search)


def environment() -> tuple[object, ...]:
    """What else a build's output depends on: the Python and the installed packages
    (markdown-it-py, pybtex, Jinja, Pagefind...). Installing, upgrading or removing a
    package adds or removes a folder in site-packages, which changes its mtime."""
    folders = [*site.getsitepackages(), site.getusersitepackages()]
    stats = []
    for folder in folders:
        try:
            st = os.stat(folder)
        except OSError:
            continue
        stats.append((folder, st.st_mtime_ns, st.st_ino))
    return (sys.version, tuple(stats))


def take(root: Path, out: Path, options: tuple[object, ...]) -> Stamp:
    """The stamp of `root`'s inputs for a build with `options` into `out`."""
    now = time.time_ns()
    h = hashlib.blake2b(digest_size=16)
    newest = 0
    for base, rel_root in [(root / name, name) for name in _INPUTS] + [(_PACKAGE, "<clinsite>")]:
        for rel, st_size, st_mtime, st_ino, st_ctime, _ in _walk(base, rel_root):
            h.update(f"{rel}\0{st_size}\0{st_mtime}\0{st_ino}\0{st_ctime}\n".encode())
            newest = max(newest, st_mtime)
    # "Today" (clinsite.config.today) is SOURCE_DATE_EPOCH's day when set, else the clock's;
    # both go in, which avoids importing the configuration code.
    day = (os.environ.get("SOURCE_DATE_EPOCH", ""), dt.date.today().isoformat())
    h.update(repr((_git_head(root), day, str(out.resolve()), options, __version__,
                   environment())).encode())
    return Stamp(h.hexdigest(), newest > now - _RACY_NS)


def replay(cache_dir: Path, out: Path, stamp: Stamp) -> Saved | None:
    """The saved result of the last build (in the cache folder `cache_dir`) if it is still
    the result of this one."""
    if stamp.racy:
        return None
    try:
        saved = persist.load(cache_dir / _FILE)
    except Exception:  # (a damaged cache file can raise almost anything: never an error)
        return None
    if not isinstance(saved, Saved) or saved.format != _FORMAT or saved.key != stamp.key:
        return None
    if not (out / MARKER).is_file():
        return None
    # A file or folder added, removed or renamed anywhere in the output changes the
    # mtime of the folder holding it, which is one of these.
    for rel, mtime, ino in saved.out_dirs:
        try:
            st = os.stat(os.path.join(out, rel))
        except OSError:
            return None
        if (st.st_mtime_ns, st.st_ino) != (mtime, ino):
            return None
    return saved


def save(cache_dir: Path, out: Path, stamp: Stamp, diagnostics: tuple[Diagnostic, ...],
         pages: int, folders: tuple[tuple[str, int, int], ...] | None = None) -> None:
    """Remember a successful build (a racy stamp is not worth keeping). `folders`: every
    folder of the output with its mtime and inode, relative ('' the top), if the caller
    knows them (clinsite.writer.SiteWriter.committed_folders); else the output is listed
    (0.4-0.8 s at N = 10,000)."""
    path = cache_dir / _FILE
    if stamp.racy:
        path.unlink(missing_ok=True)
        return
    if folders is not None and (out / MARKER).is_file():
        out_dirs = tuple(sorted((f"./{rel}" if rel else ".", mtime, ino)
                                for rel, mtime, ino in folders))
    else:
        out_dirs = _out_dirs(out)
    saved = Saved(stamp.key, out_dirs, diagnostics, pages)
    persist.dump(path, saved)


def forget(cache_dir: Path) -> None:
    """Drop the saved stamp (a failed or clean build: the next one checks everything)."""
    (cache_dir / _FILE).unlink(missing_ok=True)


def _walk(base: Path, rel_root: str) -> list[tuple[str, int, int, int, int, bool]]:
    """(relative path, size, mtime_ns, inode, ctime_ns, is a folder) of `base` and
    everything under it, sorted; symbolic links are followed (a link's target is what the
    build reads). The ctime catches a rewrite that restores the old mtime (`cp -p`)."""
    try:
        st = base.stat()
    except OSError:
        return [(rel_root, -1, 0, 0, 0, False)]
    top_is_dir = base.is_dir()
    found = [(rel_root, 0 if top_is_dir else st.st_size, st.st_mtime_ns, st.st_ino,
              st.st_ctime_ns, top_is_dir)]
    if not top_is_dir:
        return found
    for name, entry in _entries(str(base), rel_root):
        try:
            st = entry.stat()
            is_dir = entry.is_dir()
        except OSError:
            found.append((name, -1, 0, 0, 0, False))  # e.g. a dangling link
            continue
        found.append((name, 0 if is_dir else st.st_size, st.st_mtime_ns, st.st_ino,
                      st.st_ctime_ns, is_dir))
    found.sort()
    return found


def _entries(top: str, rel_top: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(relative path, entry) of everything under folder `top` but `__pycache__`,
    depth first; folders (links followed) are entered, unreadable ones skipped."""
    pending = [(top, rel_top)]
    while pending:
        folder, rel = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name == "__pycache__":
                continue
            name = f"{rel}/{entry.name}"
            yield name, entry
            with contextlib.suppress(OSError):  # (a dangling link: False, not an error)
                if entry.is_dir():
                    pending.append((entry.path, name))


def _out_dirs(out: Path) -> tuple[tuple[str, int, int], ...]:
    """Every folder of the output with its mtime and inode: adding, removing or renaming
    anything in the output changes one of them."""
    if not (out / MARKER).is_file():
        return ()
    try:
        st = out.stat()
    except OSError:
        return ()
    # As `_walk` would find them, without a `stat` of every file (the output holds two or
    # three files a folder): half the time, a tenth of a second at 2,000 pages.
    found = [(".", st.st_mtime_ns, st.st_ino)]
    for name, entry in _entries(str(out), "."):
        try:
            if not entry.is_dir():  # (links followed, as `_walk` does)
                continue
            st = entry.stat()
        except OSError:
            continue
        found.append((name, st.st_mtime_ns, st.st_ino))
    found.sort()
    return tuple(found)


def _git_head(root: Path) -> str:
    """What HEAD points to (its commit), read from the files; '' outside git."""
    folder = root.resolve()
    for candidate in (folder, *folder.parents):
        git = candidate / ".git"
        if git.is_file():  # a worktree or submodule: follow the pointer
            text = git.read_text(encoding="utf-8", errors="replace").strip()
            if not text.startswith("gitdir:"):
                return "?"
            git = (candidate / text[7:].strip()).resolve()
        if git.is_dir():
            return _resolve_head(git)
    return ""


def _resolve_head(git: Path) -> str:
    try:
        head = (git / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return "?"
    if not head.startswith("ref:"):
        return head  # a detached HEAD names its commit
    ref = head[4:].strip()
    common = git
    commondir = git / "commondir"
    if commondir.is_file():
        common = (git / commondir.read_text(encoding="utf-8").strip()).resolve()
    for folder in (git, common):
        try:
            return ref + " " + (folder / ref).read_text(encoding="utf-8").strip()
        except OSError:
            pass
    try:
        packed = (common / "packed-refs").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ref  # an unborn branch
    for line in packed.splitlines():
        if line.endswith(" " + ref):
            return ref + " " + line.split(" ", 1)[0]
    return ref
