"""Git plumbing for the ledger: one runner, one long-lived `cat-file --batch` reader, tree editing."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, NamedTuple

from kargo_actions.errors import FailedError, InvalidInputError, Problem

TREE_MODE = "40000"
BLOB_MODE = "100644"


class GitCommandError(FailedError):
    """A git command exited non-zero; carries git's own message."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        self.args_ = list(args)
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(
            f"git {' '.join(args[:2])} failed (exit {returncode}): {self.stderr or 'no message'}"
        )


class TreeEntry(NamedTuple):
    """One entry of a tree object (a tuple: listing 10,000 of them is on `freight list`'s hot path)."""

    mode: str
    kind: str  # "blob" or "tree"
    oid: str
    name: str


class Git:
    """Runs git in one repository with a fixed environment; never touches the work tree or index."""

    def __init__(self, repo: Path, env: Mapping[str, str] | None = None) -> None:
        self.repo = Path(repo)
        self.env = dict(os.environ if env is None else env)
        # Plumbing output must not depend on the user's locale or pager.
        self.env.update({"LC_ALL": "C", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"})
        self._git_dir: Path | None = None
        self._reader: CatFileBatch | None = None
        self._writer: ObjectWriter | None = None

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        full_env = self.env if env is None else {**self.env, **env}
        proc = subprocess.run(
            ["git", *args],
            cwd=self.repo,
            input=input,
            capture_output=True,
            env=full_env,
            check=False,
        )
        if check and proc.returncode != 0:
            raise GitCommandError(args, proc.returncode, proc.stderr.decode(errors="replace"))
        return proc

    def out(self, *args: str, input: bytes | None = None) -> str:
        return self.run(*args, input=input).stdout.decode().strip()

    def git_dir_is(self, git_dir: Path) -> None:
        """Take the git dir as another Git of the same repository found it (no `git rev-parse`)."""
        self._git_dir = git_dir

    @property
    def git_dir(self) -> Path:
        if self._git_dir is None:
            proc = self.run("rev-parse", "--absolute-git-dir", check=False)
            if proc.returncode != 0:
                raise InvalidInputError(
                    [
                        Problem(
                            file=str(self.repo),
                            message="not a git repository",
                            hint="run inside the pipeline repository or pass --repo",
                        )
                    ]
                )
            self._git_dir = Path(proc.stdout.decode().strip())
        return self._git_dir

    @property
    def common_dir(self) -> Path:
        path = Path(self.out("rev-parse", "--git-common-dir"))
        return path if path.is_absolute() else (self.repo / path).resolve()

    def config_get(self, key: str) -> str | None:
        proc = self.run("config", "--get", key, check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def rev_parse_many(self, refs: Sequence[str]) -> dict[str, str | None]:
        """Resolve several full ref names in one process; missing ones map to None."""
        proc = self.run("for-each-ref", "--format=%(refname) %(objectname)", *refs, check=True)
        found: dict[str, str | None] = dict.fromkeys(refs)
        for line in proc.stdout.decode().splitlines():
            name, _, oid = line.partition(" ")
            if name in found:
                found[name] = oid
        return found

    def hash_blob(self, data: bytes) -> str:
        return self.writer.blob(data)

    def mktree(self, entries: Iterable[TreeEntry]) -> str:
        items = list(entries)
        if not items:
            return self.out("mktree", "-z", input=b"")
        return self.writer.tree(items)

    @property
    def writer(self) -> ObjectWriter:
        if self._writer is None:
            self._writer = ObjectWriter(self)
        return self._writer

    @property
    def reader(self) -> CatFileBatch:
        if self._reader is None or self._reader.closed:
            self._reader = CatFileBatch(self)
        return self._reader

    def close(self) -> None:
        # Every helper process is told to end before any is waited for: they exit side by side.
        if self._reader is not None:
            self._reader.end_input()
        if self._writer is not None:
            self._writer.end_input()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def committer_identity(git: Git, config: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """git's committer identity (`Name <email>`) and the environment to add for commits and tags: none when
    git has an identity, else a fallback named for GITHUB_ACTOR (or kargo-actions)."""
    configured = _configured_ident(git.env, config)
    if configured is not None:
        return configured, {}
    proc = git.run("var", "GIT_COMMITTER_IDENT", check=False)
    if proc.returncode == 0:
        return proc.stdout.decode().strip(), {}
    name = git.env.get("GITHUB_ACTOR") or "kargo-actions"
    email = f"{name}@users.noreply.github.com"
    fallback = {
        f"GIT_{who}_{key}": v
        for who in ("AUTHOR", "COMMITTER")
        for key, v in (("NAME", name), ("EMAIL", email))
    }
    return git.run("var", "GIT_COMMITTER_IDENT", check=False, env=fallback).stdout.decode().strip(), fallback


def _configured_ident(env: Mapping[str, str], config: Mapping[str, str]) -> str | None:
    """The identity `git var GIT_COMMITTER_IDENT` names, when the environment or configuration set it plainly
    (git's order: GIT_COMMITTER_* > committer.* > user.* > EMAIL); None whenever git would look further (the
    system's names) or clean the values up (characters git trims or drops): then git is asked."""

    def first(*found: str | None) -> str | None:
        for value in found:
            if value is not None:
                return value
        return None

    name = first(env.get("GIT_COMMITTER_NAME"), config.get("committer.name"), config.get("user.name"))
    email = first(
        env.get("GIT_COMMITTER_EMAIL"),
        config.get("committer.email"),
        config.get("user.email"),
        env.get("EMAIL"),
    )
    for value in (name, email):
        if not value or _UNPLAIN.search(value):
            return None
    return f"{name} <{email}>"


# What git's ident cleanup would change: crud at either end (control characters, space, .,:;"'\), or <, > and
# newlines anywhere.
_UNPLAIN = re.compile(r"""^[\x00-\x20.,:;"'\\]|[\x00-\x20.,:;"'\\]$|[<>\n]""")


class CatFileBatch:
    """One `git cat-file --batch` process serving every object read of a session."""

    def __init__(self, git: Git) -> None:
        self._proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=git.repo,
            env=git.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._stdin: IO[bytes] = self._proc.stdin
        self._stdout: IO[bytes] = self._proc.stdout
        self._lock = threading.Lock()
        self.closed = False

    def _read_one(self) -> tuple[str, bytes] | None:
        header = self._stdout.readline()
        if not header:
            raise FailedError("git cat-file --batch ended unexpectedly")
        parts = header.split()
        if len(parts) == 2 and parts[1] == b"missing":
            return None
        if len(parts) != 3:
            raise FailedError(f"git cat-file --batch answered {header!r}")
        size = int(parts[2])
        data = self._stdout.read(size)
        self._stdout.read(1)  # the newline after each object
        return parts[1].decode(), data

    def get(self, spec: str) -> tuple[str, bytes] | None:
        """(type, content) of one object, or None when it does not exist."""
        with self._lock:
            self._stdin.write(spec.encode() + b"\n")
            self._stdin.flush()
            return self._read_one()

    def get_many(self, specs: Sequence[str]) -> list[tuple[str, bytes] | None]:
        """Many objects in one round trip; a thread feeds stdin so neither pipe can fill up and block."""
        if not specs:
            return []
        payload = b"".join(s.encode() + b"\n" for s in specs)

        def feed() -> None:
            self._stdin.write(payload)
            self._stdin.flush()

        with self._lock:
            writer = threading.Thread(target=feed, daemon=True)
            writer.start()
            results = [self._read_one() for _ in specs]
            writer.join()
            return results

    def end_input(self) -> None:
        """Close the process's input: it ends once it has answered what it was asked."""
        with contextlib.suppress(OSError):
            self._stdin.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.end_input()
        self._proc.wait(timeout=10)
        self._stdout.close()


class ObjectWriter:
    """Long-lived `hash-object --stdin-paths` and `mktree --batch` processes: a write costs no extra spawns."""

    def __init__(self, git: Git) -> None:
        self._git = git
        self._tmp = Path(tempfile.mkdtemp(prefix="kargo-ledger-blobs-"))
        self._count = 0
        self._hasher: subprocess.Popen[bytes] | None = None
        self._mktree: subprocess.Popen[bytes] | None = None

    def _start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["git", *args],
            cwd=self._git.repo,
            env=self._git.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    @staticmethod
    def _ask(proc: subprocess.Popen[bytes], request: bytes, what: str) -> str:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(request)
        proc.stdin.flush()
        answer = proc.stdout.readline().decode().strip()
        if not answer:
            raise FailedError(f"git {what} stopped answering (exit {proc.poll()})")
        return answer

    def blob(self, data: bytes) -> str:
        if self._hasher is None:
            self._hasher = self._start("hash-object", "-w", "--no-filters", "--stdin-paths")
        self._count += 1
        path = self._tmp / f"{self._count}"
        path.write_bytes(data)
        try:
            return self._ask(self._hasher, str(path).encode() + b"\n", "hash-object")
        finally:
            path.unlink()

    def tree(self, entries: Sequence[TreeEntry]) -> str:
        if self._mktree is None:
            # --missing: mktree's existence check is a "quick" lookup that never rescans packs, so a
            # long-lived mktree would refuse objects fetched after it started. Every entry here comes from a
            # tree git just returned or an object just written, so the check adds nothing.
            self._mktree = self._start("mktree", "-z", "--missing", "--batch")
        text = "".join(f"{e.mode} {e.kind} {e.oid}\t{e.name}\0" for e in entries) + "\0"
        return self._ask(self._mktree, text.encode(), "mktree")

    def end_input(self) -> None:
        """Close the processes' input: they end once they have answered what they were asked."""
        for proc in (self._hasher, self._mktree):
            if proc is not None and proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()

    def close(self) -> None:
        self.end_input()
        for proc in (self._hasher, self._mktree):
            if proc is not None:
                proc.wait(timeout=10)
                if proc.stdout is not None:
                    proc.stdout.close()
        self._hasher = self._mktree = None
        shutil.rmtree(self._tmp, ignore_errors=True)


_TREE_ENTRY = re.compile(rb"([0-7]+) ([^\0]*)\0(.{20})", re.DOTALL)


def parse_tree(data: bytes) -> list[TreeEntry]:
    """Entries of a raw tree object (`<mode> <name>\\0<20-byte id>` repeated)."""
    entries: list[TreeEntry] = []
    end = 0
    for match in _TREE_ENTRY.finditer(data):
        if match.start() != end:
            break
        end = match.end()
        mode, name, oid = match.group(1).decode(), match.group(2).decode(), match.group(3).hex()
        if mode in ("40000", "040000"):
            entries.append(TreeEntry(TREE_MODE, "tree", oid, name))
        else:
            entries.append(TreeEntry(mode, "blob", oid, name))
    if end != len(data):
        raise FailedError(f"malformed tree object (at byte {end} of {len(data)})")
    return entries


def read_tree(git: Git, oid: str | None) -> dict[str, TreeEntry]:
    if oid is None:
        return {}
    obj = git.reader.get(oid)
    if obj is None or obj[0] != "tree":
        raise FailedError(f"tree {oid} is missing from the repository")
    return {e.name: e for e in parse_tree(obj[1])}


def edit_tree(git: Git, base: str | None, changes: Mapping[str, str | None]) -> str | None:
    """`base` with each path set to a blob id (or removed for None); only touched dirs are rewritten.

    Returns None when the result is empty (git has no empty directories).
    """
    entries = read_tree(git, base)
    files: dict[str, str | None] = {}
    subdirs: dict[str, dict[str, str | None]] = {}
    for path, oid in changes.items():
        head, sep, rest = path.partition("/")
        if sep:
            subdirs.setdefault(head, {})[rest] = oid
        else:
            files[head] = oid
    for name, oid in files.items():
        if oid is None:
            entries.pop(name, None)
        else:
            entries[name] = TreeEntry(mode=BLOB_MODE, kind="blob", oid=oid, name=name)
    for name, sub in subdirs.items():
        current = entries.get(name)
        sub_base = current.oid if current is not None and current.kind == "tree" else None
        new_oid = edit_tree(git, sub_base, sub)
        if new_oid is None:
            entries.pop(name, None)
        else:
            entries[name] = TreeEntry(mode=TREE_MODE, kind="tree", oid=new_oid, name=name)
    if not entries:
        return None
    return git.mktree(entries.values())
