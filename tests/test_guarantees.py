"""SPEC §7 guarantees end to end: nothing lost when a build is killed, reproducible output."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO, summary

BODY = "\n\n".join(f"Paragraph {i} about the question [@smith2018]." for i in range(40)) + "\n"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_build(root: Path, out: Path, **env: str) -> subprocess.Popen[bytes]:
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SOURCE_DATE_EPOCH": "1795219200",
               **env}
    return subprocess.Popen([sys.executable, "-m", "clinsite", "build", "--root", str(root),
                             "--out", str(out), "--quiet"], env=environ, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def restore(folder: Path, tree: dict[str, bytes]) -> None:
    shutil.rmtree(folder)
    for rel, data in tree.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)


def test_killed_build_leaves_old_or_new_tree_and_next_build_recovers(make_site):
    files = {f"content/summaries/q{i:03d}.md": summary(body=BODY, title=f"Question {i}?")
             for i in range(150)}
    root = make_site(files)
    out = root / "site"
    assert run_build(root, out).wait() == 0
    old = snapshot(out)
    for i in range(150):  # the next build changes every page
        path = root / f"content/summaries/q{i:03d}.md"
        path.write_text(path.read_text().replace("Question", "Query"))
    probe = run_build(root, root.parent / "probe")
    started = time.perf_counter()
    assert probe.wait() == 0
    duration = time.perf_counter() - started
    new = snapshot(root.parent / "probe")
    assert new != old
    outcomes = {"old": 0, "new": 0}
    for step in range(12):
        build = run_build(root, out)
        time.sleep(duration * step / 11)
        os.killpg(build.pid, signal.SIGKILL)
        build.wait()
        now = snapshot(out)
        assert now in (old, new), f"kill at {step}/11 of the build left a mixed tree"
        outcomes["old" if now == old else "new"] += 1
        if now == new:  # start the next round from the old tree again, and from the old
            restore(out, old)  # cache: the cache trusts the output it wrote to be untouched
            shutil.rmtree(root / ".clinsite-cache", ignore_errors=True)
    assert outcomes["old"] >= 1
    final = run_build(root, out)
    assert final.wait() == 0, final.stderr.read() if final.stderr else ""
    assert snapshot(out) == new
    leftovers = [p.name for p in root.iterdir() if p.name.startswith(".site.clinsite")
                 and "-gone-" not in p.name]  # (being deleted in the background)
    assert leftovers == [".site.clinsite-spare"]  # the replaced tree, kept to be recycled
    assert (root / ".site.clinsite-spare" / ".clinsite-output").is_file()


def test_reproducible_whatever_the_paths_seed_and_mtimes(tmp_path: Path):
    outputs = []
    for name, seed in (("a", "1"), ("a-much-longer-folder-name", "987654")):
        root = tmp_path / name / "src"
        shutil.copytree(REPO, root, ignore=shutil.ignore_patterns(
            ".git", ".venv", "site", "*.egg-info", "__pycache__", ".*cache"))
        for path in root.rglob("*"):
            os.utime(path, (1_000_000 + len(name), 2_000_000 + len(name)))
        out = tmp_path / name / f"out-{seed}"
        build = run_build(root, out, PYTHONHASHSEED=seed)
        assert build.wait() == 0, build.stderr.read() if build.stderr else ""
        outputs.append(snapshot(out))
    assert outputs[0] == outputs[1]
    for rel, data in outputs[0].items():
        assert str(tmp_path).encode() not in data, f"{rel} holds an absolute path"


def test_symlinks_out_of_the_root_are_refused(make_site, runner, tmp_path: Path):
    from clinsite.cli import cli

    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    root = make_site()
    (root / "templates" / "page.html").symlink_to(secret)
    (root / "references" / "outside.bib").symlink_to(secret)
    (root / "content" / "pages" / "leak.md").symlink_to(secret)
    result = runner.invoke(cli, ["build", "--root", str(root)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:3] == [
        "content/pages/leak.md:1:1: error: symbolic link points outside the site root; refused "
        "[unsafe-symlink]",
        "references/outside.bib:1:1: error: symbolic link points outside the site root; refused "
        "[unsafe-symlink]",
        "templates/page.html:1:1: error: symbolic link points outside the site root; refused "
        "[unsafe-symlink]",
    ]
    assert not (root / "site").exists()


def test_inputs_that_must_simply_work(make_site, runner):
    from clinsite.cli import cli

    line = "naïve café 日本語 العربية 🩺 [@smith2018]."
    big = "\n\n".join(f"Paragraph {i}: {line}" for i in range(70_000))
    assert len(big.encode()) > 5_000_000
    crlf = summary(body="Línea uno [@smith2018].\n\n- 日本語の箇条書き 🩺 [@smith2018]\n",
                   title='"Qué pasa? 日本語 🩺"').replace("\n", "\r\n")
    bib = ("\ufeff@article{accent2020,\r\n  author = {M{\\\"u}ller, J{\\'e}r{\\^o}me and "
           "{World Health Organization}},\r\n  title = {Dose {HIV} {\\&} pages 1--2 in "
           "{\\AA}land},\r\n  journal = {J Ex},\r\n  year = {2020},\r\n}\r\n")
    root = make_site({
        "content/summaries/big.md": summary(body=big, title="Big page?"),
        "content/summaries/crlf.md": "\ufeff" + crlf,
        "content/summaries/tabs.md": summary(title='"Tabs\there?"',
                                             body="Tab\tinside [@accent2020].\n"),
        "references/more.bib": bib,
    })
    result = runner.invoke(cli, ["build", "--root", str(root), "--strict"])
    assert result.exit_code == 0, result.output
    crlf_html = (root / "site/summaries/crlf/index.html").read_text()
    assert "Qué pasa? 日本語 🩺" in crlf_html and "日本語の箇条書き 🩺" in crlf_html
    tabs = (root / "site/summaries/tabs/index.html").read_text()
    assert ("Müller J, World Health Organization. Dose HIV &amp; pages 1–2 in Åland. J Ex. 2020."
            in tabs)
    assert (root / "site/summaries/big/index.html").stat().st_size > 5_000_000


def test_same_output_whatever_the_number_of_jobs(make_site, tmp_path: Path):
    from clinsite.pipeline import BuildOptions, build

    files = {f"content/summaries/q{i:03d}.md": summary(title=f"Question {i}?", body=BODY)
             for i in range(140)}
    root = make_site(files)
    outs = []
    for jobs in (1, 2):
        out = tmp_path / f"jobs-{jobs}"
        assert build(BuildOptions(root=root, out=out, jobs=jobs, cache=False)).ok
        outs.append(snapshot(out))
    assert outs[0] == outs[1]


def test_a_symbolic_link_loop_is_refused_not_a_traceback(make_site):
    from clinsite.pipeline import BuildOptions, build

    root = make_site()
    (root / "content/summaries/loop.md").symlink_to("loop.md")
    (root / "references/loop.bib").symlink_to("loop.bib")
    result = build(BuildOptions(root=root))
    assert not result.ok
    assert [d.format() for d in result.report.sorted() if d.code == "unsafe-symlink"] == [
        "content/summaries/loop.md:1:1: error: symbolic link goes round in a loop; refused "
        "[unsafe-symlink]",
        "references/loop.bib:1:1: error: symbolic link goes round in a loop; refused "
        "[unsafe-symlink]"]
