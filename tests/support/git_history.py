"""Build git histories fast with `git fast-import`: commits, merges, branches, lightweight and annotated tags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.support.git_http_server import fast_import, git

AUTHOR = "Test Author <author@example.com>"
COMMITTER = "Test Committer <committer@example.com>"
TAGGER = "Test Tagger <tagger@example.com>"
EPOCH = 1_700_000_000


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


@dataclass
class History:
    """Accumulates a fast-import stream; marks are returned so tests can tag and merge them."""

    chunks: list[bytes] = field(default_factory=list)
    heads: dict[str, int] = field(default_factory=dict)
    marks: int = 0
    clock: int = EPOCH

    def _tick(self, at: int | None) -> int:
        self.clock = at if at is not None else self.clock + 60
        return self.clock

    def commit(
        self,
        message: str,
        files: dict[str, str | None] | None = None,
        *,
        branch: str = "main",
        at: int | None = None,
        merge: int | None = None,
        parent: int | None = None,
    ) -> int:
        """A commit on `branch`; files map path -> content (None deletes). Returns its mark."""
        self.marks += 1
        when = self._tick(at)
        out = [f"commit refs/heads/{branch}\nmark :{self.marks}\n".encode()]
        out.append(f"author {AUTHOR} {when} +0000\ncommitter {COMMITTER} {when} +0000\n".encode())
        out.append(_data(message))
        base = parent if parent is not None else self.heads.get(branch)
        if base is not None:
            out.append(f"from :{base}\n".encode())
        if merge is not None:
            out.append(f"merge :{merge}\n".encode())
        for path, content in (files or {}).items():
            if content is None:
                out.append(f"D {path}\n".encode())
            else:
                out.append(f"M 100644 inline {path}\n".encode() + _data(content))
        out.append(b"\n")
        self.chunks.append(b"".join(out))
        self.heads[branch] = self.marks
        return self.marks

    def tag(self, name: str, mark: int, message: str | None = None, *, at: int | None = None) -> None:
        """A lightweight tag, or an annotated one when a message is given."""
        if message is None:
            self.chunks.append(f"reset refs/tags/{name}\nfrom :{mark}\n\n".encode())
            return
        when = self._tick(at)
        head = f"tag {name}\nfrom :{mark}\ntagger {TAGGER} {when} +0000\n".encode()
        self.chunks.append(head + _data(message))

    def stream(self) -> bytes:
        return b"".join(self.chunks)

    def write(self, repo: Path) -> None:
        fast_import(repo, self.stream())


def rev(repo: Path, name: str) -> str:
    return git(repo, "rev-parse", f"{name}^{{commit}}").strip()
