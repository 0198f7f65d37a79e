"""Pending writes: a write that lost the race waits where every writer sees it, and the next winner lands it.

A write whose plan says under which conditions it stays valid on another tip (`WritePlan.combine`: paths and
the objects they must hold) is published after a lost race as `refs/kargo/pending/<id>` on the remote: a
new, unique ref, so publishing cannot conflict. The ref names a small commit whose only parent is the
write's own ledger commit and whose tree holds `write.json` (summary, conditions, files, tags) and the raw
Freight tag objects. Whoever next wins the ledger ref lands every pending write whose conditions hold on the
tip it built on: one commit whose parents are that tip and each landed write's commit, pushed atomically
with their tags and the deletion of their pending refs (each with a lease on its id), so a pending write
lands once or not at all. A writer knows its write landed when its commit is in the ledger's history.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import field, replace
from pathlib import Path

from kargo_actions.errors import FailedError
from kargo_actions.ledger.git import Git, edit_tree
from kargo_actions.ledger.reader import LedgerTree
from kargo_actions.struct import struct

PENDING_PREFIX = "refs/kargo/pending/"
PENDING_FORMAT = 1
# A pending write that cannot land (the tip changed what it depends on) is its writer's to redo; one left
# longer than this has lost its writer (a job killed while it waited) and is dropped by the next winner.
PENDING_EXPIRY = 60.0
MAX_LANDED = 200  # pending writes landed by one commit; the rest wait for the next one
# Waiting writers leave the landing to the eldest pending write's writer (one push instead of a race of
# all); once the eldest has waited this long, its writer seems gone and any waiting writer lands it.
LANDER_GRACE = 5.0
_CHANGED = "changed"  # what a directory holds once a write in this commit changed a file beneath it


def seen_prefix(remote: str) -> str:
    """Where a clone keeps its copy of the remote's pending refs (refreshed and pruned by each fetch)."""
    return f"refs/kargo/{remote}/pending/"


@struct
class PendingWrite:
    """A published write that has not landed: its own ledger commit, what it writes, what it needs."""

    id: str
    meta: str  # the commit the pending ref names
    commit: str  # the write's ledger commit (its parent: the tip it was built on)
    summary: str
    conditions: Mapping[str, str | None]  # path -> object the tip must hold there (None: nothing)
    files: Mapping[str, str | None]  # path -> blob written (None: removed)
    tags: Mapping[str, str]  # Freight tag name -> tag object id
    tag_blobs: Mapping[str, str]  # Freight tag name -> blob holding the raw tag object
    written_at: float
    valid: bool = True  # whether it can land on the tip it was last checked on (`checked`)

    @property
    def ref(self) -> str:
        return PENDING_PREFIX + self.id

    def checked(self, tip: Combination) -> PendingWrite:
        """This write, marked whether it can land on `tip` (or is there already)."""
        return replace(self, valid=tip.applied(self.files) or tip.valid(self.conditions))


def new_id() -> str:
    """Sorts by publication time (oldest lands first); the random part makes it unique."""
    return f"{time.time_ns() // 1_000_000:013x}-{secrets.token_hex(6)}"


def make_pending(
    git: Git,
    commit: str,
    summary: str,
    conditions: Mapping[str, str | None],
    files: Mapping[str, str | None],
    tags: Mapping[str, str],
    env: Mapping[str, str],
) -> PendingWrite:
    """The commit a pending ref names, made locally (published by the caller's push)."""
    tag_blobs: dict[str, str] = {}
    changes: dict[str, str | None] = {}
    for i, (name, oid) in enumerate(sorted(tags.items())):
        obj = git.reader.get(oid)
        if obj is None or obj[0] != "tag":
            raise FailedError(f"Freight tag object {oid} ({name}) is missing from the repository")
        tag_blobs[name] = changes[f"tags/{i}"] = git.hash_blob(obj[1])
    written_at = time.time()
    doc = {
        "format": PENDING_FORMAT,
        "summary": summary,
        "writtenAt": written_at,
        "conditions": dict(sorted(conditions.items())),
        "files": dict(sorted(files.items())),
        "tags": {name: {"oid": oid, "blob": tag_blobs[name]} for name, oid in sorted(tags.items())},
    }
    changes["write.json"] = git.hash_blob((json.dumps(doc, indent=1) + "\n").encode())
    tree = edit_tree(git, None, changes)
    assert tree is not None
    message = f"pending: {summary}\n"
    meta = git.run("commit-tree", tree, "-p", commit, "-F", "-", input=message.encode(), env=env)
    return PendingWrite(
        id=new_id(),
        meta=meta.stdout.decode().strip(),
        commit=commit,
        summary=summary,
        conditions=dict(conditions),
        files=dict(files),
        tags=dict(tags),
        tag_blobs=tag_blobs,
        written_at=written_at,
    )


def read_pending(git: Git, refs: Mapping[str, str], prefix: str) -> list[PendingWrite]:
    """The pending writes these refs name, oldest first; one this version cannot read is left alone (a newer
    kargo-actions wrote it: its own writer lands it)."""
    items = sorted(refs.items())
    specs = [spec for _, oid in items for spec in (oid, f"{oid}:write.json")]
    objects = git.reader.get_many(specs)
    found: list[PendingWrite] = []
    for i, (ref, oid) in enumerate(items):
        commit_obj, doc_obj = objects[2 * i], objects[2 * i + 1]
        if commit_obj is None or doc_obj is None or commit_obj[0] != "commit":
            continue
        parents = [
            line.split()[1] for line in commit_obj[1].split(b"\n\n", 1)[0].decode().splitlines()
            if line.startswith("parent ")
        ]  # fmt: skip
        try:
            doc = json.loads(doc_obj[1])
            if doc.get("format") != PENDING_FORMAT or len(parents) != 1:
                continue
            tags = {str(name): (str(t["oid"]), str(t["blob"])) for name, t in doc["tags"].items()}
            found.append(
                PendingWrite(
                    id=ref.removeprefix(prefix),
                    meta=oid,
                    commit=parents[0],
                    summary=str(doc["summary"]),
                    conditions={str(p): None if o is None else str(o) for p, o in doc["conditions"].items()},
                    files={str(p): None if o is None else str(o) for p, o in doc["files"].items()},
                    tags={name: t[0] for name, t in tags.items()},
                    tag_blobs={name: t[1] for name, t in tags.items()},
                    written_at=float(doc["writtenAt"]),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return found


@struct(frozen=False)
class Combination:
    """What one landing commit carries beyond the winner's own write: files, parents, tags, refs to drop."""

    tree: LedgerTree
    changes: dict[str, str | None] = field(default_factory=dict)
    parents: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    drop: dict[str, str] = field(default_factory=dict)  # pending ref -> the id it must still hold
    summaries: list[str] = field(default_factory=list)
    landed: list[PendingWrite] = field(default_factory=list)
    _tag_blobs: dict[str, str] = field(default_factory=dict)
    _oids: dict[str, str | None] = field(default_factory=dict)

    def holds(self, path: str) -> str | None:
        """The object at `path` on the tip with this commit's changes so far."""
        if path in self.changes:
            return self.changes[path]
        if any(p.startswith(path + "/") for p in self.changes):
            return _CHANGED
        if path not in self._oids:
            self._oids[path] = self.tree.oid(path)
        return self._oids[path]

    def valid(self, conditions: Mapping[str, str | None]) -> bool:
        return all(self.holds(path) == oid for path, oid in conditions.items())

    def applied(self, files: Mapping[str, str | None]) -> bool:
        """Whether the tip already holds exactly what these files write (the write landed before)."""
        return bool(files) and all(self.holds(path) == oid for path, oid in files.items())

    def add_own(self, files: Mapping[str, str | None], commit: str | None) -> None:
        self.changes.update(files)
        if commit is not None:
            self.parents.append(commit)

    def offer(self, write: PendingWrite, now: float) -> None:
        """Land `write` in this commit when its conditions hold; drop it when it is already in, or when it can
        no longer land and its writer has been gone too long."""
        if len(self.landed) >= MAX_LANDED:
            return
        if self.applied(write.files):
            self.parents.append(write.commit)
            self.drop[write.ref] = write.meta
            self.landed.append(write)
            return
        if not self.valid(write.conditions):
            if now - write.written_at > PENDING_EXPIRY:
                self.drop[write.ref] = write.meta
            return
        self.changes.update(write.files)
        self.parents.append(write.commit)
        self.tags.update(write.tags)
        self._tag_blobs.update(write.tag_blobs)
        self.drop[write.ref] = write.meta
        self.summaries.append(write.summary)
        self.landed.append(write)

    def restore_tags(self, git: Git) -> None:
        """Write the landed writes' Freight tag objects into this repository: the same bytes give the same
        ids, signatures included, so the tags pushed are their writers' own."""
        wanted = [(name, oid) for name, oid in self.tags.items() if git.reader.get(oid) is None]
        if not wanted:
            return
        raws = git.reader.get_many([self._tag_blobs[name] for name, _ in wanted])
        tmp = Path(tempfile.mkdtemp(prefix="kargo-ledger-tags-"))
        try:
            paths = []
            for i, raw in enumerate(raws):
                if raw is None:
                    raise FailedError(f"the raw Freight tag {wanted[i][0]} of a pending write is missing")
                paths.append(tmp / str(i))
                paths[-1].write_bytes(raw[1])
            listing = "".join(f"{p}\n" for p in paths).encode()
            made = git.out("hash-object", "-t", "tag", "-w", "--stdin-paths", input=listing).split()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for (name, oid), got in zip(wanted, made, strict=True):
            if got != oid:
                raise FailedError(f"the Freight tag {name} of a pending write does not hash to {oid}")


def landed_message(own: str | None, summaries: Iterable[str]) -> str:
    """The landing commit's first lines: the winner's own summary, then each pending write it lands."""
    landed = list(summaries)
    head = own or f"ledger: {len(landed)} pending write(s) landed"
    if not landed:
        return head
    return head + "\n\nLanded with it:\n" + "".join(f"- {s}\n" for s in landed).rstrip("\n")
