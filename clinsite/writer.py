"""Rendered files -> the output folder, atomically and only where it is safe.

Pages are written into a temporary folder beside --out as they are
rendered; only when the whole build has succeeded is the previous output
moved aside and the new one renamed into its place. A folder is replaced
only if it is empty or carries the marker a previous build left in it.

The output is double-buffered: the tree a build replaces is kept beside --out
as the *spare*, and the next build starts from it instead of from an empty
folder, so that unchanged files (hard links shared with the live tree) and
folders need no work at all. A file is never written in place in the spare:
it is moved aside first (into a trash folder deleted after the build), so the
live tree's copy of it is never touched.
Whatever the spare holds that the build did not produce is swept before the
exchange. A build killed while updating the spare leaves only a temporary
folder, which the next build removes.

With a *journal* (a file in the build cache), the writer also remembers each
tree it committed: its files, its folders' mtimes and inodes, and which paths
differ from the tree before it. The next-but-one build then checks that the spare
and the live tree are still exactly those trees (one `stat` a folder: adding,
removing or renaming anything changes its folder's mtime) and brings the spare up
to date from that list of differences alone, instead of walking it file by file.
If anything does not match, it falls back to the walk. A build that changed many paths
does that catch-up itself, once it is committed (`SiteWriter.finish`).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from clinsite import persist

MARKER = ".clinsite-output"
MARKER_TEXT = b"This folder is clinsite build output; the next build replaces it.\n"
_TMP = ".clinsite-tmp-"
_OLD = ".clinsite-old-"
_SPARE = ".clinsite-spare"
_GONE = ".clinsite-gone-"


class UnsafeOutput(Exception):
    """--out points somewhere a build must not replace."""


def check_output_dir(root: Path, out: Path, sources: tuple[str, ...]) -> None:
    """Raise UnsafeOutput unless `out` may be replaced by a build of `root`."""
    root_r, out_r = root.resolve(), out.resolve()
    if out_r == root_r or root_r.is_relative_to(out_r):
        raise UnsafeOutput(f"--out {out} is the site root or a folder above it; refusing to "
                           "replace it")
    for name in sources:
        source = (root_r / name).resolve()
        if out_r == source or out_r.is_relative_to(source) or source.is_relative_to(out_r):
            raise UnsafeOutput(f"--out {out} is or contains the source folder '{name}'; "
                               "refusing to replace it")
    if out_r.exists():
        if not out_r.is_dir():
            raise UnsafeOutput(f"--out {out} exists and is not a folder")
        if any(out_r.iterdir()) and not (out_r / MARKER).is_file():
            raise UnsafeOutput(f"--out {out} is not empty and is not a previous clinsite output "
                               f"(no {MARKER} file in it); refusing to replace it")


def recover(out: Path) -> None:
    """Tidy what an interrupted build left beside `out` (and restore a lost output)."""
    parent = out.parent
    if not parent.is_dir():
        return
    prefix = f".{out.name}"
    for entry in sorted(parent.iterdir()):
        if entry.name.startswith(prefix + _OLD) and entry.is_dir():
            if not out.exists() and (entry / MARKER).is_file():
                os.replace(entry, out)  # killed between the two renames: put the old one back
            else:
                shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(prefix + _TMP) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(prefix + _GONE) and entry.is_dir():
            _remove(entry, large=True)
        elif entry.name == prefix + _SPARE and not (entry / MARKER).is_file():
            _discard(entry, out)  # not a finished tree: not worth recycling


_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False if unsupported."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(result == 0)


# A previous output of more files than this is deleted by a detached `rm -rf` after
# the build returns (deleting thousands of folders can take seconds); a build that
# starts before it is done simply finishes the job in `recover`.
BACKGROUND_CLEANUP = 4000


def _remove(folder: Path, *, large: bool) -> None:
    if large and shutil.which("rm"):
        try:
            subprocess.Popen(["rm", "-rf", "--", str(folder)], start_new_session=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
            return
        except OSError:
            pass
    shutil.rmtree(folder, ignore_errors=True)


def _real_tree(top: Path) -> tuple[list[str], list[str]]:
    """The files and folders under `top` (relative), after removing every symbolic link
    in it: a recycled tree must never lead a write (or the sweep) outside itself."""
    files: list[str] = []
    folders: list[str] = []
    for folder, dirs, names in os.walk(top):
        rel = os.path.relpath(folder, top)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        for name in list(dirs):
            if os.path.islink(os.path.join(folder, name)):
                os.unlink(os.path.join(folder, name))
                dirs.remove(name)
            else:
                folders.append(prefix + name)
        for name in names:
            if os.path.islink(os.path.join(folder, name)):
                os.unlink(os.path.join(folder, name))
            else:
                files.append(prefix + name)
    return files, folders


def _discard(folder: Path, out: Path) -> None:
    """Rename `folder` out of the way at once, then delete it (in the background if large)."""
    _remove(_set_aside(folder, out), large=True)


def _set_aside(folder: Path, out: Path) -> Path:
    """Rename `folder` out of the way (a name `recover` deletes); its new path."""
    gone = _set_aside_name(out)
    os.replace(folder, gone)
    return gone


def _set_aside_name(out: Path) -> Path:
    """A new name beside `out` that `recover` deletes: as short as the temporary tree's
    while this process has none (a longer name could pass the file system's limit where
    the output's own name is close to it)."""
    base = out.parent / f".{out.name}{_GONE}{os.getpid()}"
    name, count = base, 0
    while os.path.lexists(name):  # (this process's earlier one, still being deleted)
        count += 1
        name = base.with_name(f"{base.name}-{count}")
    return name


@dataclass(frozen=True, slots=True)
class Tree:
    """A committed output tree, as the journal remembers it."""

    files: frozenset[str]  # every file but the marker, relative
    folders: tuple[tuple[str, int, int], ...]  # every folder: (rel, mtime_ns, inode); '' the top
    delta: frozenset[str]  # paths whose file differs from the tree before (or is gone)


@dataclass(frozen=True, slots=True)
class Journal:
    out: str  # the resolved output folder
    trees: tuple[Tree, ...]  # (the spare's, the live tree's), oldest first
    format: int = 1


def _folders_of(files: Iterable[str]) -> set[str]:
    found = {""}
    for rel in files:
        folder = rel.rpartition("/")[0]
        while folder not in found:
            found.add(folder)
            folder = folder.rpartition("/")[0]
    return found


def _folder_stats(top: Path, folders: Iterable[str]) -> tuple[tuple[str, int, int], ...] | None:
    """(rel, mtime_ns, inode) of each folder under `top`; None if one is missing or a link."""
    found = _lstat_folders(top, folders)
    return None if found is None else tuple(
        (rel, st.st_mtime_ns, st.st_ino) for rel, st in found)


def _lstat_folders(top: Path, folders: Iterable[str]
                   ) -> list[tuple[str, os.stat_result]] | None:
    """Each folder under `top` (sorted) with its lstat; None if one is missing or a link."""
    found = []
    base = str(top)
    for rel in sorted(folders):
        try:
            st = os.lstat(os.path.join(base, rel) if rel else base)
        except OSError:
            return None
        if not stat.S_ISDIR(st.st_mode):
            return None
        found.append((rel, st))
    return found


def _every_folder(found: list[tuple[str, os.stat_result]]) -> bool:
    """Whether `found` (`_lstat_folders` of a set holding the top, '') are provably all the
    folders under the top: each one's link count is 2 plus its listed subfolders (true of
    ext4 and XFS; a file system that counts otherwise, such as btrfs, never proves it)."""
    children = {rel: 0 for rel, _ in found}
    for rel in children:
        if rel and (parent := rel.rpartition("/")[0]) in children:
            children[parent] += 1
    return "" in children and all(st.st_nlink == 2 + children[rel] for rel, st in found)


def _matches(top: Path, tree: Tree) -> bool:
    return _folder_stats(top, (rel for rel, _, _ in tree.folders)) == tree.folders


def read_journal(path: Path | None, out: Path) -> Journal | None:
    """The journal at `path` if it is one of `out`'s (else None: never an error)."""
    if path is None:
        return None
    try:
        journal = persist.load(path, shared=True)  # (frozen all through)
    except Exception:  # (a damaged cache file can raise almost anything: never an error)
        return None
    if not isinstance(journal, Journal) or journal.format != 1 or \
            journal.out != str(out.resolve()):
        return None
    for tree in journal.trees:  # (paths are used to unlink: never one leading outside)
        if not _safe_paths([*tree.files, *tree.delta, *(rel for rel, _, _ in tree.folders
                                                           if rel)]):
            return None
    return journal


def live_tree(journal: Journal | None, out: Path) -> Tree | None:
    """The journal's record of the tree in `out`, if that tree is still exactly as the
    build that committed it left it (no file added, removed or renamed since)."""
    if journal is None or not journal.trees or not _matches(out, journal.trees[-1]):
        return None
    return journal.trees[-1]


def _safe_paths(paths: list[str]) -> bool:
    """Whether every path is relative and stays inside its tree: no empty, "." or ".."
    part, no leading or trailing "/" (three string searches over them all, joined: a
    journal holds tens of thousands; five times faster than one regex)."""
    if not paths:
        return True
    text = "\n".join(paths)
    if "\0" in text or "\r" in text:
        return False
    parts = "/" + text.replace("\n", "/") + "/"  # (each path's parts between slashes)
    return "//" not in parts and "/./" not in parts and "/../" not in parts


# From how many differing paths a build brings the spare up to date itself, once committed
# (SiteWriter.finish): below it, the next build does (it checks the spare's folders
# in any case; checking them twice would cost more than the catch-up saves).
EAGER_CATCH_UP = 1000


def _catch_up(top: Path, live: Path, files: frozenset[str], delta: Iterable[str],
              retire: Callable[[str], None]) -> None:
    """Make the tree in `top` a copy of the tree in `live` (whose files are `files`), where
    it differs only at the paths `delta`: each of them is moved aside (`retire`) and, if
    the live tree has it, linked from there; folders left empty go."""
    tmp, out = str(top), str(live)
    made: set[str] = set()
    for rel in sorted(delta):
        target = os.path.join(tmp, rel)
        retire(target)
        folder = rel.rpartition("/")[0]
        if rel in files:
            if folder not in made:
                path = os.path.join(tmp, folder)
                if folder and os.path.isfile(path):
                    retire(path)  # a file where the live tree has a folder
                os.makedirs(path, exist_ok=True)
                made.add(folder)
            os.link(os.path.join(out, rel), target)
        else:
            _prune(top, folder)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        _copy(source, target)


def _copy(source: str, target: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(target)  # a new file: never write into one the live tree may share
    with open(source, "rb") as handle, open(target, "wb") as copy:
        copy.write(handle.read())


def _prune(top: Path, rel: str) -> None:
    """Remove folder `rel` under `top` and its parents while they are empty."""
    while rel:
        try:
            os.rmdir(os.path.join(top, rel))
        except OSError:
            return
        rel = rel.rpartition("/")[0]


class SiteWriter:
    """Writes one build's files into a temporary folder, then swaps it in.

    `journal`: where the committed trees are remembered (see the module's doc), or None;
    with `remember` False the journal is neither used nor kept for this output."""

    def __init__(self, out: Path, *, recycle: bool = True, journal: Path | None = None,
                 remember: bool = True,
                 known: tuple[Journal | None, Tree | None] | None = None) -> None:
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = out.parent / f".{out.name}{_TMP}{os.getpid()}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        spare = out.parent / f".{out.name}{_SPARE}"
        self.recycled = recycle and not spare.is_symlink() and (spare / MARKER).is_file()
        self._held: tuple[list[str], list[str]] = ([], [])  # the spare's files and folders
        self.written: set[str] = set()
        self._made: set[str] = set()  # folders known to exist in tmp
        self._fresh: set[str] = set()  # files this writer (re)created: not the live tree's
        self._journal_path = journal
        self._trash: Path | None = None  # what the build replaced, made when first needed
        self._retired = itertools.count()
        self._trash_lock = threading.Lock()  # (set_aside is called from several threads)
        self._remember_trees = remember and not out.is_symlink()
        # `known`: the journal and live tree a caller has just read and checked.
        journal_read, live = known if known is not None else (None, None)
        if known is None:
            journal_read = read_journal(journal, out)
            live = live_tree(journal_read, out)
        self._journal_ours = journal_read is not None
        if not self._remember_trees:
            journal_read = live = None
        # The live tree as the journal remembers it (None: unknown, or changed since).
        self._live: Tree | None = live
        self._produced: frozenset[str] | None = None  # what the build produced (sweep)
        # The journal's two trees, committed, while the spare is to be caught up (`finish`)
        self._behind: tuple[Tree, Tree] | None = None
        #: When not None, the new tree holds exactly these files, each the live tree's own.
        self.mirror: frozenset[str] | None = None
        #: After the commit, when known to be every folder of the output: each folder's
        #: (rel, mtime_ns, inode), as the journal records them (clinsite.stamp uses them).
        self.committed_folders: tuple[tuple[str, int, int], ...] | None = None
        if self.recycled:
            usable = (self._live is not None and journal_read is not None
                      and len(journal_read.trees) == 2 and _matches(spare, journal_read.trees[0]))
            os.replace(spare, self.tmp)  # from here on, a killed build leaves only a tmp folder
            (self.tmp / MARKER).unlink()
            if usable and self._live is not None and self._catch_up(self._live):
                self.mirror = self._live.files
                self._made = _folders_of(self.mirror)
                self._held = (list(self.mirror), [])  # (sweep prunes what it empties)
            else:
                self._made = set()
                self._held = _real_tree(self.tmp)
        else:
            if spare.is_symlink():
                spare.unlink()
            elif spare.exists():
                self._trash = _set_aside(spare, out)  # (deleted once the build is over)
            self.tmp.mkdir()

    def _catch_up(self, live: Tree) -> bool:
        """Turn the recycled spare (the tree before the live one) into a copy of the live
        tree by redoing only the paths that differ; False if that went wrong (the caller
        then falls back to walking the tree)."""
        try:
            _catch_up(self.tmp, self.out, live.files, live.delta, self._retire)
        except OSError:
            return False
        return True

    def _check(self, rel: str) -> PurePosixPath:
        """`rel` as a path, if it is one this build may write (once)."""
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts or rel in self.written:
            raise ValueError(f"refusing to write output path {rel!r}")
        return pure

    def _target(self, rel: str, pure: PurePosixPath) -> str:
        """Where to create `rel` (`pure`, checked), the path made ready for it."""
        self.written.add(rel)
        self._fresh.add(rel)
        self.make_folder(rel.rpartition("/")[0])
        target = os.path.join(self.tmp, *pure.parts)
        if self.recycled:
            self._retire(target)  # never write into a file the live tree may share
        return target

    def _retire(self, path: str) -> None:
        """Move `path` (a file or folder of the recycled tree, if there) into the trash,
        which is deleted after the build: a rename costs about 0.04 ms, where deleting a
        file's last link frees its blocks on the build's path, about 0.25 ms on ext4 (the
        first edit after a full rebuild replaces every file of the spare: 3.3 s at
        N = 2,000). Starting from an empty folder instead is no cheaper: creating the
        2,000 page folders takes 0.5-0.8 ms each."""
        if self._trash is None and not os.path.lexists(path):
            return  # nothing to move (and no trash to make for it)
        trash = self._trash_folder()
        if trash is not None:
            try:
                os.rename(path, os.path.join(trash, f"{os.getpid()}-{next(self._retired)}"))
                return
            except (FileNotFoundError, NotADirectoryError):  # (a file where a folder was)
                if not os.path.lexists(path):
                    return  # nothing to move
        # No trash (it could not be made, or another build's `recover` deleted it): delete
        # in place, never leave a file the live tree may share to be written into.
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            shutil.rmtree(path)

    def _trash_folder(self) -> Path | None:
        """The trash beside the output, made when first needed; None if it cannot be."""
        with self._trash_lock:
            if self._trash is None:
                name = _set_aside_name(self.out)
                try:
                    name.mkdir()
                except OSError:
                    return None
                self._trash = name
            return self._trash

    def set_aside(self, rel: str) -> None:
        """Take `rel`, a file or folder of the new tree that is not output (the search
        index's working copies), out of it at once: it is renamed into the trash, which is
        deleted after the build, instead of being deleted on the build's path (0.45 s for
        the 2,000 page copies of a clean build at N = 2,000). Safe from several threads."""
        path = os.path.join(self.tmp, rel)
        try:
            self._retire(path)
        except OSError:
            shutil.rmtree(path, ignore_errors=True)

    def make_folder(self, rel: str) -> None:
        """Make sure folder `rel` ('' for the top) exists in the new tree (a recycled
        tree holds no symbolic links: `_real_tree` removed them)."""
        if rel not in self._made:
            parts = rel.split("/") if rel else []
            folders = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
            if self.recycled:  # a file of the recycled tree where this build wants a folder
                for folder in folders:
                    path = os.path.join(self.tmp, folder)
                    if folder not in self._made and os.path.isfile(path):
                        self._retire(path)
                        break
            os.makedirs(os.path.join(self.tmp, rel), exist_ok=True)
            self._made.add(rel)
            self._made.update(folders)

    def write(self, rel: str, data: str | bytes) -> bool:
        """Write one file (a path is written at most once per build); False if the live
        output already held exactly `data` there and its file was kept instead (`_keep`)."""
        data = data.encode("utf-8") if isinstance(data, str) else data
        pure = self._check(rel)
        if self._unchanged(rel, data):
            self._keep(rel)
            return False
        target = self._target(rel, pure)
        with open(target, "wb") as handle:
            handle.write(data)
        return True

    def _unchanged(self, rel: str, data: bytes) -> bool:
        """Whether the live output (of a build that keeps a journal) holds `rel` as a
        regular file of exactly `data`: its size first, then its bytes (reading a file
        takes about 20 µs where replacing it takes about 330 µs on ext4)."""
        if not self._remember_trees:
            return False
        path = os.path.join(self.out, rel)
        try:
            found = os.lstat(path)
            if not stat.S_ISREG(found.st_mode) or found.st_size != len(data):
                return False
            with open(path, "rb") as handle:
                return handle.read() == data
        except (OSError, ValueError):
            return False

    def _keep(self, rel: str) -> None:
        """Put the live output's own file at `rel` in the new tree (it is exactly what the
        build would write): it needs no new file, and the journal counts `rel` as unchanged
        between the two trees, so the build that recycles this one has nothing to redo
        there. The file is shared by hard link, as a reused page's are."""
        if self.mirror is None or rel not in self.mirror:  # (else the new tree holds it)
            self.link(rel, os.path.join(self.out, rel))
        self.written.add(rel)

    def link(self, rel: str, source: str) -> None:
        """Put a hard link of `source` (a file of the live tree, reused by this build) at
        `rel` in the new tree, or a copy where hard links fail. A different file that a
        recycled tree holds there is moved aside first, like anything a build replaces
        (`_retire`): after a build whose tree the journal does not know (`--no-cache`),
        the first build that recycles it replaces every file it reuses (8,000 at
        N = 2,000: 1.8 s of `unlink`)."""
        self.make_folder(rel.rpartition("/")[0])
        target = os.path.join(self.tmp, rel)
        try:
            os.link(source, target)
        except FileExistsError:  # a recycled tree's copy: often the very same file
            if os.stat(source).st_ino == os.stat(target).st_ino:
                return
            self._retire(target)
            _link_or_copy(source, target)
        except OSError:
            _copy(source, target)

    def copy(self, rel: str, source: Path) -> None:
        """Write a copy of file `source` (see `write`)."""
        self.write(rel, source.read_bytes())

    def holds(self, rel: str) -> bool:
        """Whether the new tree already holds the live tree's own file `rel`."""
        return self.mirror is not None and rel in self.mirror

    def sweep(self, keep: set[str]) -> int:
        """Remove what a recycled tree held beyond `keep` (every file this build
        produced, relative paths), and the folders left empty; the files removed."""
        files, folders = self._held
        self._produced = frozenset(keep)
        removed = 0
        gone = []
        for rel in files:
            if rel not in keep:
                # (Gone already; or a folder, or under a file, that this build made there)
                with contextlib.suppress(FileNotFoundError, NotADirectoryError,
                                         IsADirectoryError):
                    os.unlink(os.path.join(self.tmp, rel))
                    removed += 1
                    gone.append(rel)
        if self.mirror is not None:  # only the folders that lost a file can be empty
            for rel in gone:
                _prune(self.tmp, rel.rpartition("/")[0])
            return removed
        for rel in sorted(folders, key=lambda f: f.count("/"), reverse=True):
            with contextlib.suppress(OSError):  # (not empty: it holds this build's files)
                os.rmdir(os.path.join(self.tmp, rel))
        return removed

    def commit(self, fresh: Iterable[str] = ()) -> None:
        """Swap the finished tree in place of the previous output.

        `fresh`: files made anew for this build by others than this writer (pages written
        by worker processes, search files), for the journal; it records the tree if
        `sweep` was told what the build produced.

        On Linux the two folders are exchanged in one atomic step, so a build killed
        at any moment leaves either the old or the new complete tree. Elsewhere the
        old tree is moved aside first; a build killed between the two renames leaves
        it beside --out, and the next build's `recover` puts it back."""
        (self.tmp / MARKER).write_bytes(MARKER_TEXT)
        old = self.out.parent / f".{self.out.name}{_OLD}{os.getpid()}"
        if self.out.exists() and _exchange(self.tmp, self.out):
            os.replace(self.tmp, old)  # the previous tree
        else:
            if self.out.exists():
                os.replace(self.out, old)
            os.replace(self.tmp, self.out)
        if old.is_symlink():  # --out was a link: the link goes, what it pointed to stays
            old.unlink()
        elif old.exists():
            spare = self.out.parent / f".{self.out.name}{_SPARE}"
            if (old / MARKER).is_file():  # kept as the next build's starting point
                if spare.exists():
                    _discard(spare, self.out)
                os.replace(old, spare)
            else:
                _remove(old, large=len(self.written) > BACKGROUND_CLEANUP)
        self._remember(fresh)
        self._empty_trash()

    def _remember(self, fresh: Iterable[str]) -> None:
        """Write the journal: the tree now spare (if it was still as remembered) and the
        tree just committed, with the paths that differ between them."""
        if self._journal_path is None:
            return
        produced = self._produced
        folders = None
        if produced is not None and self._remember_trees:
            found = _lstat_folders(self.out, _folders_of(produced))
            if found is not None:
                folders = tuple((rel, st.st_mtime_ns, st.st_ino) for rel, st in found)
                if _every_folder(found):
                    self.committed_folders = folders
        if produced is None or folders is None:
            if self._journal_ours:  # it describes trees that are gone
                self._journal_path.unlink(missing_ok=True)
            return
        previous = self._live
        trees: tuple[Tree, ...]
        if previous is None:
            trees = (Tree(produced, folders, produced),)
        else:
            changed = set(self._fresh)
            changed.update(fresh)
            changed.update(previous.files - produced)
            changed.update(produced - previous.files)
            trees = (previous, Tree(produced, folders, frozenset(changed)))
            if len(changed) >= EAGER_CATCH_UP:
                self._behind = trees
        persist.dump(self._journal_path, Journal(str(self.out.resolve()), trees), shared=True)

    def finish(self) -> None:
        """After a committed build that replaced much of the output (`EAGER_CATCH_UP`
        paths or more), bring the spare (the tree it replaced) up to date with the live
        tree now, rather than at the start of the next build: the next edit then starts
        from an exact copy of the live tree instead of redoing every path of the spare
        (0.05-0.1 ms a path here: 0.5-0.8 s at N = 2,000 after a change to site.yaml,
        about 5 s at N = 10,000). The caller calls it last, once the build's own caches
        are saved: a build stopped meanwhile leaves the journal written at the commit,
        whose record of the spare no longer matches it, so the next build walks it. The
        spare is caught up only if it is still the tree the journal remembers."""
        behind, self._behind = self._behind, None
        if behind is None or self._journal_path is None:
            return
        spare_tree, live = behind
        spare = self.out.parent / f".{self.out.name}{_SPARE}"
        if spare.is_symlink() or not (spare / MARKER).is_file() or \
                not _matches(spare, spare_tree) or not _matches(self.out, live):
            return
        try:
            _catch_up(spare, self.out, live.files, live.delta, self._retire)
            caught = _folder_stats(spare, _folders_of(live.files))
            if caught is not None:
                trees = (Tree(live.files, caught, frozenset()),
                         Tree(live.files, live.folders, frozenset()))
                persist.dump(self._journal_path, Journal(str(self.out.resolve()), trees),
                             shared=True)
        except OSError:
            pass  # (the journal's record of the spare no longer matches it: it is walked)
        finally:
            self._empty_trash()

    def abort(self) -> None:
        """Drop the temporary tree and the trash, before returning: the previous output is
        untouched, and nothing of this build is left beside it."""
        shutil.rmtree(self.tmp, ignore_errors=True)
        self._empty_trash(wait=True)

    def _empty_trash(self, *, wait: bool = False) -> None:
        """Delete the trash: in the background (a detached `rm -rf`) unless `wait`."""
        if self._trash is not None:
            _remove(self._trash, large=not wait)
            self._trash = None
