"""Git plumbing the GitHub test server uses on its bare repositories: merges, trees, commits and refs."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class GitError(Exception):
    """A git command failed; `stderr` says why."""


@dataclass(frozen=True)
class Identity:
    name: str
    email: str
    date: str = ""  # git date format; "" = now


def run_git(repo: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> str:
    """Run git in a bare repository and return stdout without the trailing newline."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        ["git", "--git-dir", str(repo), *args], input=input, capture_output=True, check=False, env=full_env
    )
    if result.returncode != 0:
        raise GitError(result.stderr.decode(errors="replace").strip() or f"git {args[0]} failed")
    return result.stdout.decode().rstrip("\n")


def resolve(repo: Path, rev: str) -> str | None:
    """The commit sha a branch, tag, full ref or sha names, or None."""
    for candidate in (rev, f"refs/heads/{rev}", f"refs/tags/{rev}"):
        try:
            return run_git(repo, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}")
        except GitError:
            continue
    return None


def ref_sha(repo: Path, ref: str) -> str | None:
    """The object a full ref points at (not peeled), or None when the ref does not exist."""
    try:
        return run_git(repo, "rev-parse", "--verify", "--quiet", ref)
    except GitError:
        return None


def object_type(repo: Path, sha: str) -> str | None:
    try:
        return run_git(repo, "cat-file", "-t", sha)
    except GitError:
        return None


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    try:
        run_git(repo, "merge-base", "--is-ancestor", ancestor, descendant)
    except GitError:
        return False
    return True


def merge_tree(repo: Path, base: str, head: str) -> str | None:
    """The tree of merging head into base, or None when they conflict."""
    result = subprocess.run(
        ["git", "--git-dir", str(repo), "merge-tree", "--write-tree", "--no-messages", base, head],
        capture_output=True,
        check=False,
    )
    if result.returncode == 0:
        return result.stdout.decode().split("\n", 1)[0].strip()
    if result.returncode == 1:
        return None
    raise GitError(result.stderr.decode(errors="replace").strip())


def _identity_env(author: Identity, committer: Identity) -> dict[str, str]:
    env = {
        "GIT_AUTHOR_NAME": author.name,
        "GIT_AUTHOR_EMAIL": author.email,
        "GIT_COMMITTER_NAME": committer.name,
        "GIT_COMMITTER_EMAIL": committer.email,
    }
    if author.date:
        env["GIT_AUTHOR_DATE"] = author.date
    if committer.date:
        env["GIT_COMMITTER_DATE"] = committer.date
    return env


def commit_tree(
    repo: Path, tree: str, parents: list[str], message: str, author: Identity, committer: Identity
) -> str:
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    return run_git(repo, *args, input=message.encode(), env=_identity_env(author, committer))


def update_ref(repo: Path, ref: str, new: str, old: str | None) -> None:
    """Move (or create, old = None) a ref atomically; fails when it moved meanwhile."""
    run_git(repo, "update-ref", ref, new, old if old is not None else "0" * 40)


def delete_ref(repo: Path, ref: str) -> None:
    run_git(repo, "update-ref", "-d", ref)


def write_blob(repo: Path, content: bytes) -> str:
    return run_git(repo, "hash-object", "-w", "--stdin", input=content)


@dataclass(frozen=True)
class TreeEntry:
    path: str
    mode: str
    type: str
    sha: str | None  # None deletes the path


def write_tree(repo: Path, base_tree: str | None, entries: list[TreeEntry]) -> str:
    """A new tree: base_tree (or empty) with entries added, replaced or deleted, written through a temp index."""
    with tempfile.TemporaryDirectory() as tmp:
        # update-index wants a work tree even with --cacheinfo; an empty one will do
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_WORK_TREE": tmp}
        if base_tree:
            run_git(repo, "read-tree", base_tree, env=env)
        else:
            run_git(repo, "read-tree", "--empty", env=env)
        for entry in entries:
            if entry.sha is None:
                run_git(repo, "update-index", "--force-remove", "--", entry.path, env=env)
            else:
                run_git(
                    repo,
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    f"{entry.mode},{entry.sha},{entry.path}",
                    env=env,
                )
        return run_git(repo, "write-tree", env=env)


@dataclass(frozen=True)
class LsTreeEntry:
    mode: str
    type: str
    sha: str
    path: str
    size: int | None


def ls_tree(repo: Path, tree: str) -> list[LsTreeEntry]:
    out = run_git(repo, "ls-tree", "-l", "-r", "-t", tree)
    entries: list[LsTreeEntry] = []
    for line in out.splitlines():
        meta, _, path = line.partition("\t")
        mode, kind, sha, size = meta.split()
        entries.append(LsTreeEntry(mode, kind, sha, path, None if size == "-" else int(size)))
    return entries


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: list[str]
    author: Identity
    committer: Identity
    message: str


def _parse_person(value: str) -> Identity:
    name, _, rest = value.partition(" <")
    email, _, when = rest.partition("> ")
    return Identity(name, email, when)


def read_commit(repo: Path, sha: str) -> CommitInfo:
    raw = run_git(repo, "cat-file", "commit", sha)
    head, _, message = raw.partition("\n\n")
    tree = ""
    parents: list[str] = []
    author = committer = Identity("", "")
    for line in head.splitlines():
        key, _, value = line.partition(" ")
        if key == "tree":
            tree = value
        elif key == "parent":
            parents.append(value)
        elif key == "author":
            author = _parse_person(value)
        elif key == "committer":
            committer = _parse_person(value)
    return CommitInfo(sha, tree, parents, author, committer, message)


def commits_between(repo: Path, base: str, head: str) -> list[str]:
    """Commits reachable from head but not base, oldest first."""
    out = run_git(repo, "rev-list", "--reverse", f"{base}..{head}")
    return out.split() if out else []
