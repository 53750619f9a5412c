"""The benchmark's `serve-edit-summary` scenario, run as a script (not imported: the
measured checkout comes first on PYTHONPATH, so `clinsite.serve` is that checkout's).

    python serve_driver.py ROOT REL EDITS.json TIMES.json

Starts a dev server over ROOT without listening (`DevServer.rebuild` is what each save
runs), builds the preview untimed, then for each text in EDITS.json writes it to ROOT/REL,
times the rebuild, restores the file and rebuilds untimed. Writes the timed rebuilds'
seconds to TIMES.json. Exit status 1 and the problems on stderr if a build fails.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _rebuild(server: Any, rel: str) -> Any:
    try:
        status = server.rebuild([rel])
    except TypeError:  # (a checkout whose rebuild takes no changed paths)
        status = server.rebuild()
    if status.failed:
        sys.stderr.write(f"the preview build failed: {status.problems or status.note}\n")
        raise SystemExit(1)
    return status


def main(argv: list[str]) -> int:
    root, rel, edits_file, times_file = Path(argv[1]), argv[2], Path(argv[3]), Path(argv[4])
    edits = json.loads(edits_file.read_text("utf-8"))
    from clinsite.serve import DevServer

    path = root / rel
    original = path.read_bytes()
    times: list[float] = []
    with open(os.devnull, "w", encoding="utf-8") as quiet:
        server = DevServer(root, 8765, stream=quiet)
        try:
            _rebuild(server, rel)
            for text in edits:
                path.write_text(text, "utf-8")
                try:
                    start = time.perf_counter()
                    _rebuild(server, rel)
                    times.append(time.perf_counter() - start)
                finally:
                    path.write_bytes(original)
                _rebuild(server, rel)
        finally:
            server.stop()
    times_file.write_text(json.dumps(times), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
