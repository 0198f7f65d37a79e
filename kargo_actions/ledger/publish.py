"""Making and publishing ledger commits: who writes (identity, signing), a write's own commit and the
commit that lands it with pending writes, fetching the branch and the pending writes, the atomic push that
is the compare-and-swap, publishing and withdrawing a pending write, the local ref transactions after them.

`Ledger` (store.py) builds on this class; `Ledger.write` decides what to push, this module how.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Generic

from kargo_actions.errors import FailedError, InvalidInputError, Problem
from kargo_actions.ledger.config import LedgerConfig, SigningPolicy
from kargo_actions.ledger.continuity import is_ancestor
from kargo_actions.ledger.git import committer_identity, edit_tree
from kargo_actions.ledger.pending import (
    PENDING_PREFIX,
    Combination,
    PendingWrite,
    landed_message,
    seen_prefix,
)
from kargo_actions.ledger.plans import ResultT, WritePlan
from kargo_actions.ledger.reader import LedgerRepo, LedgerTree
from kargo_actions.ledger.records import LEDGER_FORMAT, MARKER_PATH, LedgerMarker, dump_record
from kargo_actions.ledger.tags import TagWriter
from kargo_actions.struct import struct

ZERO_OID = "0" * 40
# Push rejections that mean "someone wrote first": rebuild on the new tip and try again. "stale info" is
# also a pending ref's lease failing: another writer landed (or dropped) that pending write first.
_RACE_MARKERS = ("non-fast-forward", "fetch first", "stale info", "cannot lock ref", "failed to update ref")


@struct
class OwnWrite(Generic[ResultT]):
    """A write's own commit: built on `base`, what it writes (path -> blob, None removes), its tags."""

    plan: WritePlan[ResultT]
    base: str | None
    commit: str
    tags: dict[str, str]
    blobs: dict[str, str | None]

    def combinable(self) -> bool:
        return self.plan.combine is not None

    def holds(self, snap: LedgerTree) -> bool:
        """Whether this commit's write is still right on `snap` (its base, or its conditions hold there)."""
        if self.base == snap.commit:
            return True
        if self.base is None:  # the ledger's first commit, with its marker: rebuilt on the one that won
            return False
        return self.plan.combine is not None and Combination(snap).valid(self.plan.combine)


class LedgerRemote(LedgerRepo):
    """A ledger's writer: its identity, its commits, its refs here and on its remote."""

    pending_refs: dict[str, str] | None = None  # the remote's pending writes, as the last fetch found them

    def __init__(
        self,
        repo: Path,
        config: LedgerConfig | None = None,
        *,
        rng: random.Random | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(repo, config, env=env)
        self.rng = rng or random.Random()  # noqa: S311 - jitter and aliases, not secrets
        self._tags = TagWriter(self.git)
        self._ident: tuple[str, dict[str, str]] | None = None  # git's committer, extra environment
        self._actor: str | None = None
        self._published: str | None = None  # the ledger commit this process last pushed (see `write`)
        self._no_pending = False  # the remote refused a pending write's ref: this process races instead
        self._without: str | None = None  # the newest tip seen without this process's pending write
        self._tip_seen: tuple[str | None, float] = (None, 0.0)  # a remote tip, and since when (monotonic)
        self._ahead = 0  # pending writes older than this process's, at the last listing

    def close(self) -> None:
        super().close()
        self._tags.close()

    def signing_key_configured(self) -> bool:
        cfg = self.git_config()
        if cfg.get("user.signingkey"):
            return True
        return cfg.get("gpg.format") == "ssh" and bool(cfg.get("gpg.ssh.defaultkeycommand"))

    def will_sign(self) -> bool:
        policy = self.config.signing
        if policy is SigningPolicy.NEVER:
            return False
        configured = self.signing_key_configured()
        if policy is SigningPolicy.REQUIRED and not configured:
            raise InvalidInputError(
                [
                    Problem(
                        path="ledger.signing",
                        message="signing policy is 'required' but git has no signing key configured",
                        hint="set user.signingkey (and gpg.format ssh for SSH keys), or use --sign auto",
                    )
                ]
            )
        return configured

    def actor(self) -> str:
        """Who is writing: GITHUB_ACTOR in Actions, else the git identity."""
        if self._actor is None:
            ident = self.git.env.get("GITHUB_ACTOR") or self._committer()[0]
            self._actor = re.sub(r"\s+\d+ [+-]\d{4}$", "", ident) or "unknown"
        return self._actor

    def _identity(self) -> dict[str, str]:
        """Extra environment giving commits and tags an identity when git has none configured."""
        return self._committer()[1]

    def _committer(self) -> tuple[str, dict[str, str]]:
        if self._ident is None:
            self._ident = committer_identity(self.git, self.git_config())
        return self._ident

    def _push_url(self) -> str:
        remote = self.remote
        assert remote is not None
        cfg_values = self.git_config()
        return (
            cfg_values.get(f"remote.{remote.lower()}.pushurl") or cfg_values[f"remote.{remote.lower()}.url"]
        )

    def _fetch(self, listing: bool = True) -> tuple[str | None, str | None]:
        """Fetch the ledger ref into its remote-tracking ref, and the pending writes unless `listing` is
        False: (the remote tip, or the local one if none; the local branch, the tip this clone last saw)."""
        remote, branch = self.remote, self.config.branch
        tracking = self.config.remote_tracking_ref()
        assert remote is not None
        assert tracking is not None
        self.pending_refs = None
        # Without the listing, a fetch carries no pending write's objects (a waiting writer's poll).
        proc = self.fetch_ledger() if listing else self.git.run(*self.fetch_args()[:-1], check=False)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            if "couldn't find remote ref" in err:
                # The remote has no ledger yet; our first push creates it (from local history if any).
                local = self.git.rev_parse_many([self.config.branch_ref])[self.config.branch_ref]
                return local, local
            if "cannot lock ref" in err or "unable to update local ref" in err:
                local = self._local_tip()  # a concurrent fetch in this clone; the push CAS still protects us
                return local, local
            raise FailedError(f"could not fetch ledger branch {branch} from {remote}: {err}")
        prefix = seen_prefix(remote)
        found = self.git.run(
            "for-each-ref", "--format=%(refname) %(objectname)", tracking, self.config.branch_ref, prefix[:-1]
        )
        refs: dict[str, str] = {}
        for line in found.stdout.decode().splitlines():
            name, _, oid = line.partition(" ")
            refs[name] = oid
        if listing:
            self.pending_refs = {n: o for n, o in refs.items() if n.startswith(prefix)}
        return refs.get(tracking), refs.get(self.config.branch_ref)

    def _push(
        self,
        base: str | None,
        commit: str,
        tags: Mapping[str, str],
        drop: Mapping[str, str] | None = None,
    ) -> bool:
        """Publish atomically: ledger ref (fast-forward only = compare-and-swap), the new tags, and the
        deletion of the pending refs in `drop` (each leased on the id it must still hold) together."""
        remote, cfg = self.remote, self.config
        assert remote is not None
        refspecs = [f"{commit}:{cfg.branch_ref}", *(f"{oid}:refs/tags/{name}" for name, oid in tags.items())]
        for ref, oid in (drop or {}).items():
            refspecs += [f":{ref}", f"--force-with-lease={ref}:{oid}"]
        # Push to the URL, not the remote name, so git does not move the remote-tracking ref by itself:
        # the local refs (branch, remote-tracking, tags) then move together in one transaction below.
        proc = self.git.run("push", "--porcelain", "--atomic", self._push_url(), *refspecs, check=False)
        out = proc.stdout.decode(errors="replace")
        err = proc.stderr.decode(errors="replace")
        if proc.returncode == 0:
            tracking = cfg.remote_tracking_ref()
            assert tracking is not None
            self._set_refs(
                [(cfg.branch_ref, commit, None), (tracking, commit, None)]
                + [(f"refs/tags/{n}", oid, None) for n, oid in tags.items()],
                best_effort=True,
            )
            return True
        rejected = [line for line in out.splitlines() if line.startswith("!")]
        raced = [line for line in rejected if cfg.branch_ref in line or PENDING_PREFIX in line]
        if any(m in line for line in raced for m in _RACE_MARKERS):
            return False
        # Two receive-packs updating the ledger ref at once: the loser's transaction fails on the ref lock.
        if raced and any(m in err for m in ("cannot lock ref", "but expected", "reference already exists")):
            return False
        if any("already exists" in line for line in rejected):
            raise FailedError(
                f"push to {remote} refused: a Freight tag already exists there without its ledger record "
                f"({'; '.join(rejected)}); inspect it with `git ls-remote {remote} refs/tags/{cfg.tag_prefix}/*`"
            )
        message = "\n".join(line for line in (err.strip(), *rejected) if line) or f"exit {proc.returncode}"
        raise FailedError(
            f"push of ledger branch {cfg.branch} to {remote} was rejected; nothing recorded:\n{message}"
        )

    def _publish_pending(self, write: PendingWrite) -> bool:
        """Push a pending write's ref: a new name, so no other writer can make this fail. False when the
        remote refuses it (e.g. it takes no refs outside branches and tags): the write then races as before."""
        proc = self.git.run("push", "--porcelain", self._push_url(), f"{write.meta}:{write.ref}", check=False)
        return proc.returncode == 0

    def _withdraw_pending(self, write: PendingWrite) -> bool:
        """Delete this process's own pending write before it writes anew; False when it is gone already
        (landed, or dropped as expired: the next fetch says which)."""
        args = [f":{write.ref}", f"--force-with-lease={write.ref}:{write.meta}"]
        proc = self.git.run("push", "--porcelain", "--atomic", self._push_url(), *args, check=False)
        return proc.returncode == 0

    def _update_local(self, base: str | None, commit: str, tags: Mapping[str, str]) -> bool:
        """Local-only publish: one ref transaction moving the branch (checked against `base`) and the tags."""
        updates: list[tuple[str, str, str | None]] = [(self.config.branch_ref, commit, base or ZERO_OID)]
        updates += [(f"refs/tags/{name}", oid, None) for name, oid in tags.items()]
        return self._set_refs(updates, best_effort=False)

    def _set_refs(self, updates: Sequence[tuple[str, str, str | None]], *, best_effort: bool) -> bool:
        lines = ["start"]
        lines += [f"update {ref} {new}" + (f" {old}" if old else "") for ref, new, old in updates]
        lines += ["prepare", "commit"]
        proc = self.git.run("update-ref", "--stdin", input=("\n".join(lines) + "\n").encode(), check=False)
        if proc.returncode == 0:
            return True
        if best_effort:
            # The remote already holds the write; local refs catch up on the next read or write.
            for ref, new, old in updates:
                self.git.run("update-ref", ref, new, *([old] if old else []), check=False)
            return True
        err = proc.stderr.decode(errors="replace")
        if "cannot lock ref" in err or "but expected" in err or "reference already exists" in err:
            return False
        raise FailedError(f"could not update ledger refs: {err.strip()}")

    def _adopt_tip(self, tip: str, tags: Mapping[str, str] | None = None) -> None:
        """After a no-op write against the remote (or one another writer landed, with its `tags`), let the
        local branch catch up when it is behind."""
        ref = self.config.branch_ref
        local = self.git.rev_parse_many([ref])[ref]
        updates: list[tuple[str, str, str | None]] = [
            (f"refs/tags/{n}", o, None) for n, o in (tags or {}).items()
        ]
        if local != tip and (local is None or is_ancestor(self.git, local, tip)):
            updates.append((ref, tip, local or ZERO_OID))
        if updates:
            self._set_refs(updates, best_effort=True)

    def _push_and_keep(self, base: str | None, commit: str, tags: Mapping[str, str]) -> bool:
        """A background push (see `write`): on success, the next write builds on it."""
        landed = self._push(base, commit, tags)
        if landed:
            self._published = commit
        return landed

    def _message(self, summary: str) -> bytes:
        return f"{summary}\n\nBy: {self.actor()}\nKargo-Actions-Ledger: {LEDGER_FORMAT}\n".encode()

    def _commit(self, tree: str | None, parents: Sequence[str], message: bytes) -> str:
        args = [
            "commit-tree",
            tree or self.git.mktree([]),
            *(x for p in parents for x in ("-p", p)),
            "-F",
            "-",
        ]
        return self.git.run(*args, input=message, env=self._identity()).stdout.decode().strip()

    def _own_commit(self, snap: LedgerTree, plan: WritePlan[ResultT]) -> OwnWrite[ResultT]:
        """The write's own commit on `snap` and its Freight tags (a tag without a target names this commit)."""
        files = dict(plan.files)
        if snap.commit is None:
            files[MARKER_PATH] = dump_record(LedgerMarker())
        blobs = {path: (None if data is None else self.git.hash_blob(data)) for path, data in files.items()}
        tree = edit_tree(self.git, snap.tree, blobs)
        parents = [snap.commit] if snap.commit is not None else []
        commit = self._commit(tree, parents, self._message(plan.summary))
        sign = self.will_sign() if plan.tags else False
        tag_oids: dict[str, str] = {}
        for req in plan.tags:
            tag_oids[req.name] = self._tags.create(
                req.name, req.message, req.target or commit, sign, {**self.git.env, **self._identity()}
            )
        return OwnWrite(plan, snap.commit, commit, tag_oids, blobs)

    def _landing_commit(self, snap: LedgerTree, own: OwnWrite[Any], comb: Combination) -> str:
        """One commit on `snap` holding this write and the pending writes it lands; its parents are the tip
        and each write's own commit, so every writer finds its commit in the ledger's history."""
        tree = edit_tree(self.git, snap.tree, comb.changes)
        parents = ([snap.commit] if snap.commit is not None else []) + comb.parents
        return self._commit(tree, parents, self._message(landed_message(own.plan.summary, comb.summaries)))
