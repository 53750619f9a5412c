"""The document cache: unchanged content files are neither read nor parsed again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from clinsite import content
from clinsite.pipeline import BuildOptions, build
from tests.conftest import summary


@pytest.fixture
def trusting(monkeypatch):
    """Trust a file's stat at once (not two seconds after it was written)."""
    monkeypatch.setattr(content.DocumentCache, "RACY_NS", -10**12)


@pytest.fixture
def loads(monkeypatch):
    """The content files each build read and parsed, by path."""
    seen: list[str] = []
    real = content._load_file

    def counting(section, rel, *args):
        seen.append(rel)
        return real(section, rel, *args)

    monkeypatch.setattr(content, "_load_file", counting)
    return seen


def test_unchanged_files_come_from_the_cache_with_their_diagnostics(make_site, loads,
                                                                     trusting):
    root = make_site({"content/summaries/a.md": summary(title="A?", unknown_field="x"),
                      "content/summaries/b.md": summary(title="B?")})
    first = build(BuildOptions(root=root))
    assert sorted(loads) == ["content/pages/policy.md", "content/summaries/a.md",
                             "content/summaries/b.md", "content/summaries/q.md"]
    warned = [d.format() for d in first.report.sorted() if d.path == "content/summaries/a.md"]
    assert warned == ["content/summaries/a.md:6:1: warning: unknown summary front-matter key "
                      "'unknown_field' [unknown-key]"]
    loads.clear()
    b = root / "content/summaries/b.md"
    b.write_text(summary(title="B changed?"))
    second = build(BuildOptions(root=root, strict=False))
    assert loads == ["content/summaries/b.md"]  # the only file read again
    assert [d.format() for d in second.report.sorted()
            if d.path == "content/summaries/a.md"] == warned  # replayed from the cache
    assert "B changed?" in (root / "site/summaries/b/index.html").read_text()


def test_a_file_written_just_before_a_build_is_read_again_next_time(make_site, loads,
                                                                    monkeypatch):
    root = make_site()
    real = time.time_ns
    monkeypatch.setattr(content.time, "time_ns", lambda: real() + 10**10)  # 10 s later
    assert build(BuildOptions(root=root)).ok
    monkeypatch.setattr(content.time, "time_ns", real)
    loads.clear()
    (root / "content/summaries/q.md").write_text(summary(title="Now?"))
    assert build(BuildOptions(root=root)).ok
    assert build(BuildOptions(root=root)).ok
    # Read within two seconds of being written: a second write in the same clock tick
    # could keep its stat, so the next build does not trust that entry (the others, yes).
    assert loads == ["content/summaries/q.md", "content/summaries/q.md"]


def test_settings_and_cache_flags_decide_whether_it_is_used(make_site, loads, trusting):
    root = make_site()
    assert build(BuildOptions(root=root)).ok
    loads.clear()
    config = root / "site.yaml"
    config.write_text(config.read_text().replace("Test Summaries", "Other Summaries"))
    assert build(BuildOptions(root=root)).ok
    assert len(loads) == 2  # the settings changed: every file is loaded again
    loads.clear()
    assert build(BuildOptions(root=root, cache=False)).ok
    assert len(loads) == 2  # --no-cache reads everything


def test_documents_survive_the_round_trip_exactly(make_site, trusting):
    from clinsite import cache

    root = make_site({"content/summaries/crlf.md": summary(title="Crlf?").replace("\n", "\r\n")})
    assert build(BuildOptions(root=root)).ok
    documents = cache.load_documents(root / cache.CACHE_DIR, _context(root))
    fresh, _ = content.load_content(root, _config(root))
    cached = {rel: entry[2].item for rel, entry in documents.entries.items()}
    assert cached and all(cached[doc.path] == doc for doc in fresh.all())
    assert all(documents.entries[doc.path][2].source == cache.source_digest(doc)
               for doc in fresh.all())


def _config(root: Path):
    from clinsite.config import load_config

    return load_config(root, None)[0]


def _context(root: Path) -> str:
    from clinsite import cache, stamp
    from clinsite.config import today

    return cache.digest(_config(root), today(), stamp.environment())


def test_a_date_taken_from_git_is_checked_against_git_again(make_site, loads, trusting):
    import subprocess

    root = make_site({"content/summaries/q.md": summary(updated=None)})
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "PATH": "/usr/bin:/bin"}

    def commit(date: str) -> None:
        dated = {**env, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        for args in (["add", "."], ["commit", "-qm", "x", "--allow-empty"]):
            subprocess.run(["git", *args], cwd=root, check=True, env=dated)

    subprocess.run(["git", "init", "-q"], cwd=root, check=True, env=env)
    commit("2025-03-04T10:00:00Z")
    assert build(BuildOptions(root=root)).ok
    (root / "content/pages/policy.md").touch()  # (so that the next build is not a no-op)
    loads.clear()
    assert build(BuildOptions(root=root)).ok
    assert "content/summaries/q.md" not in loads
    (root / "content/summaries/note.txt").write_text("not content")  # a commit touching...
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    commit("2025-05-06T10:00:00Z")
    loads.clear()
    assert build(BuildOptions(root=root)).ok
    assert "content/summaries/q.md" not in loads  # ...another file: q's date is the same
    # The same file, a different commit date (an amended commit): loaded again.
    dated = {**env, "GIT_AUTHOR_DATE": "2025-07-08T10:00:00Z",
             "GIT_COMMITTER_DATE": "2025-07-08T10:00:00Z"}
    subprocess.run(["git", "reset", "-q", "--soft", "HEAD~1"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "--amend", "-m", "y", "--reset-author"], cwd=root,
                   check=True, env=dated)
    loads.clear()
    assert build(BuildOptions(root=root)).ok
    assert "content/summaries/q.md" in loads
    assert "2025-07-08" in (root / "site/summaries/q/index.html").read_text()


def test_front_matter_stays_parsed_for_files_the_document_cache_served(make_site, trusting,
                                                                       monkeypatch):
    """The first build of a new day reloads every document (today is part of its key) but
    parses no front matter that has not changed."""
    from clinsite import frontmatter

    parsed: list[str] = []
    real = frontmatter.parse_yaml

    def counting(path, *args):
        parsed.append(path)
        return real(path, *args)

    monkeypatch.setattr(frontmatter, "parse_yaml", counting)
    root = make_site({"content/summaries/b.md": summary(title="B?")})
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1793491200")
    assert build(BuildOptions(root=root)).ok
    assert len(parsed) == 3  # q, b and the policy page
    b = root / "content/summaries/b.md"
    b.write_text(b.read_text() + "\nMore.\n")  # the body only: the front matter is the same
    parsed.clear()
    assert build(BuildOptions(root=root)).ok
    assert parsed == []
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1793491200 + 86400))  # the next day
    assert build(BuildOptions(root=root)).ok
    assert parsed == []


def test_an_edit_reads_one_bucket_of_the_front_matter_cache(make_site, trusting, monkeypatch):
    from clinsite import cache

    parsers = []
    real = cache.load_front

    def capturing(folder):
        parsers.append(real(folder))
        return parsers[-1]

    monkeypatch.setattr(cache, "load_front", capturing)
    root = make_site({f"content/summaries/s{i}.md": summary(title=f"S{i}?") for i in range(40)})
    assert build(BuildOptions(root=root)).ok
    assert len(parsers[-1].buckets) == 16  # every file parsed: every bucket
    edited = root / "content/summaries/s7.md"
    edited.write_text(edited.read_text() + "\nMore.\n")
    assert build(BuildOptions(root=root)).ok
    assert list(parsers[-1].buckets) == [cache._bucket("content/summaries/s7.md")]
    assert parsers[-1].parsed == 0 and parsers[-1].to_save() == {}  # (same front matter)
