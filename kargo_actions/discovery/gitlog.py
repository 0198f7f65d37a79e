"""Reading a mirror's history: one `git log` process streamed commit by commit, paths unquoted."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Generator, Sequence
from dataclasses import field
from datetime import datetime
from pathlib import Path

from kargo_actions.struct import struct

RS, US = "\x1e", "\x1f"
COMMIT_FORMAT = RS + US.join(["%H", "%P", "%cI", "%an <%ae>", "%cn <%ce>", "%s"])


def unquote_path(path: str) -> str:
    """Undo git's C-style quoting of unusual file names."""
    if not (path.startswith('"') and path.endswith('"')):
        return path
    raw, out, i = path[1:-1], bytearray(), 0
    simple = {
        "n": b"\n",
        "t": b"\t",
        '"': b'"',
        "\\": b"\\",
        "a": b"\a",
        "b": b"\b",
        "f": b"\f",
        "r": b"\r",
        "v": b"\v",
    }
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt in simple:
                out += simple[nxt]
                i += 2
                continue
            if raw[i + 1 : i + 4].isdigit():
                out.append(int(raw[i + 1 : i + 4], 8))
                i += 4
                continue
        out += c.encode()
        i += 1
    return out.decode(errors="replace")


@struct(frozen=False)
class LogEntry:
    id: str
    commit_date: datetime
    author: str
    committer: str
    subject: str
    parents: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def stream_log(
    mirror: Path, args: Sequence[str], stdin: str | None = None
) -> Generator[LogEntry, None, None]:
    """Run ONE `git log` and yield its commits as they come; closing the generator stops git."""
    process = subprocess.Popen(
        ["git", "-c", "core.quotePath=false", "log", f"--format={COMMIT_FORMAT}", *args],
        cwd=mirror,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env={**os.environ, "LC_ALL": "C"},
    )
    assert process.stdout is not None
    if stdin is not None:
        assert process.stdin is not None
        process.stdin.write(stdin)
        process.stdin.close()
    entry: LogEntry | None = None
    finished = False
    try:
        for line in process.stdout:
            line = line.rstrip("\n")
            if line.startswith(RS):
                if entry is not None:
                    yield entry
                sha, parents, date, author, committer, subject = line[1:].split(US, 5)
                entry = LogEntry(
                    sha, datetime.fromisoformat(date), author, committer, subject, parents.split()
                )
            elif line and entry is not None:
                entry.paths.append(unquote_path(line))
        if entry is not None:
            yield entry
        finished = True
    finally:
        if not finished and process.poll() is None:
            process.kill()
        stderr = process.stderr.read() if process.stderr else ""
        code = process.wait()
        if finished and code != 0:
            raise RuntimeError(f"git log failed: {stderr.strip()}")
