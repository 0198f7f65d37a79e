"""The ledger branch: typed reads through one `cat-file --batch`, compare-and-swap writes with plumbing."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from kargo_actions.errors import FailedError, InvalidInputError, Problem, RetryableError
from kargo_actions.ledger.config import LedgerConfig, SigningPolicy
from kargo_actions.ledger.continuity import check_continuity
from kargo_actions.ledger.git import committer_identity, edit_tree
from kargo_actions.ledger.plans import (
    DiscoveryRunResult,
    ModelT,
    NoWrite,
    PendingPush,
    ReadResult,
    RecordResult,
    ResultT,
    TagRequest,
    WriteOutcome,
    WritePlan,
)
from kargo_actions.ledger.reader import FreightEntry, LedgerRepo, LedgerTree, freight_status_wire
from kargo_actions.ledger.records import (
    LEDGER_FORMAT,
    MARKER_PATH,
    AliasRecord,
    ApprovalRecord,
    DiscoveredArtifactsRecord,
    LedgerMarker,
    LedgerRecordError,
    MetadataKind,
    MetadataRecord,
    PromotionRecord,
    StageStateRecord,
    VerificationRecord,
    alias_path,
    approval_path,
    check_freight_id,
    check_name,
    discovered_path,
    dump_record,
    load_freight,
    load_record,
    metadata_path,
    promotion_path,
    stage_path,
    verification_path,
)
from kargo_actions.ledger.tags import TagWriter
from kargo_actions.model.base import KargoModel
from kargo_actions.model.freight import (
    Freight,
    FreightMetadata,
    FreightStatus,
)

ZERO_OID = "0" * 40
# Push rejections that mean "someone wrote first": rebuild on the new tip and try again.
_RACE_MARKERS = ("non-fast-forward", "fetch first", "stale info", "cannot lock ref", "failed to update ref")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Snapshot(LedgerTree):
    """The ledger at one commit with typed records; every read goes through the repository's cat-file process."""

    def load(self, model: type[ModelT], path: str) -> ModelT | None:
        data = self.read(path)
        return None if data is None else load_record(model, data, f"{self.where}:{path}")

    def load_dir(self, model: type[ModelT], path: str) -> ReadResult[ModelT]:
        """Every `*.json` record directly in `path`, read in one round trip, in name order."""
        return self._load_blobs(model, self.blobs(path))

    def _load_blobs(self, model: type[ModelT], items: list[tuple[str, str]]) -> ReadResult[ModelT]:
        return self._parse_blobs(items, lambda data, where: load_record(model, data, where))

    def _parse_blobs(
        self, items: list[tuple[str, str]], parse: Callable[[bytes, str], ModelT]
    ) -> ReadResult[ModelT]:
        """(path, object spec) pairs read in one round trip and parsed; a problem naming each file that fails."""
        records: list[ModelT] = []
        problems: list[Problem] = []
        for (path, _), obj in zip(items, self.git.reader.get_many([spec for _, spec in items]), strict=True):
            where = f"{self.where}:{path}"
            try:
                if obj is None:
                    raise LedgerRecordError([Problem(file=where, message="object is missing")])
                records.append(parse(obj[1], where))
            except LedgerRecordError as err:
                problems.extend(err.problems)
        return ReadResult(records, problems)

    # Freight

    def freight_records(self, entries: Iterable[FreightEntry]) -> ReadResult[Freight]:
        """Freight records in one round trip; names come from the tree, so paths need no re-checking."""
        return self._parse_blobs(
            [(f"freight/{e.warehouse}/{e.id}.json", e.blob) for e in entries], load_freight
        )

    def alias_record(self, alias: str) -> AliasRecord | None:
        return self.load(AliasRecord, alias_path(alias))

    _states: ReadResult[StageStateRecord] | None = None

    def stage_states(self) -> ReadResult[StageStateRecord]:
        # Read once per snapshot (one commit, frozen records): status needed them three times, 40 x 100 KB.
        if self._states is None:
            self._states = self.load_dir(StageStateRecord, "stages")
        return ReadResult(list(self._states.records), list(self._states.problems))


def freight_status(fid: str, states: Sequence[Mapping[str, Any]]) -> FreightStatus | None:
    """Kargo's Freight status, derived from the stage state records (their wire forms)."""
    wire = freight_status_wire(fid, states)
    return None if wire is None else FreightStatus.model_validate(wire)


class Ledger(LedgerRepo):
    """A pipeline repository's ledger branch and Freight tags: the one way features read and write records."""

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

    def close(self) -> None:
        super().close()
        self._tags.close()

    def __enter__(self) -> Ledger:
        return self

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

    # reading

    def snapshot(self, commit: str | None = None) -> Snapshot:
        """The ledger as it is locally (local branch or remote-tracking, whichever is newer)."""
        return Snapshot(self.git, commit if commit is not None else self._local_tip(), self.config.branch)

    def list_freight(
        self, warehouse: str | None = None, stage: str | None = None, snapshot: Snapshot | None = None
    ) -> ReadResult[Freight]:
        """Recorded Freight with derived status, oldest first; `stage` keeps those currently in it."""
        snap = snapshot or self.snapshot()
        states = snap.stage_states()
        entries = snap.freight_entries(warehouse)
        if stage is not None:
            state = next((s for s in states.records if s.stage == stage), None)
            wanted = {c.name for c in state.current_freight} if state else set()
            entries = [e for e in entries if e.id in wanted]
        read = snap.freight_records(entries)
        wires = [s.wire() for s in states.records]
        items = [self._with_status(r, wires) for r in read.records]
        items.sort(key=lambda f: (f.metadata.creation_timestamp or "", f.name))
        return ReadResult(items, [*states.problems, *read.problems])

    @staticmethod
    def _with_status(freight: Freight, states: Sequence[Mapping[str, Any]]) -> Freight:
        status = freight_status(freight.name, states)
        return freight.model_copy(update={"status": status}) if status else freight

    def resolve(self, ref: str, snapshot: Snapshot | None = None) -> FreightEntry:
        """A Freight by full ID, unique ID prefix or alias; none or several -> InvalidInputError with candidates."""
        return (snapshot or self.snapshot()).resolve(ref)

    def get_freight(self, ref: str, snapshot: Snapshot | None = None) -> Freight:
        snap = snapshot or self.snapshot()
        entry = self.resolve(ref, snap)
        read = snap.freight_records([entry])
        if read.problems:
            raise LedgerRecordError(read.problems)
        return self._with_status(read.records[0], [s.wire() for s in snap.stage_states().records])

    def stage_history(self, stage: str, snapshot: Snapshot | None = None) -> ReadResult[PromotionRecord]:
        """Every Promotion of a Stage, oldest first (names carry a ULID, so name order is time order)."""
        snap = snapshot or self.snapshot()
        read = snap.load_dir(PromotionRecord, f"promotions/{check_name(stage, 'Stage')}")
        read.records.sort(key=lambda p: (p.created_at, p.name))
        return read

    def stage_state(self, stage: str, snapshot: Snapshot | None = None) -> StageStateRecord:
        snap = snapshot or self.snapshot()
        return snap.load(StageStateRecord, stage_path(stage)) or StageStateRecord(stage=stage)

    # writing

    def write(
        self,
        build: Callable[[Snapshot], WritePlan[ResultT] | NoWrite[ResultT]],
        *,
        continuity: bool = True,
        background: bool = False,
    ) -> WriteOutcome[ResultT]:
        """Compare-and-swap: build a plan on the current tip, publish it, rebuild on a newer tip and retry.

        `build` returns a WritePlan, or NoWrite when nothing needs writing (an idempotent no-op). A remote
        tip that dropped records this clone saw is refused (continuity.check_continuity); repair skips that.
        `background`: a plan built on a freshly fetched tip is pushed on a thread and returned at once with
        `pending` set; the caller must wait for `pending.landed()` and, when it says False (the remote moved
        first), write again: that round is the caller's.
        """
        cfg = self.config
        remote = self.remote
        # The tip this process pushed last: the next write builds on it without a fetch, and a remote that
        # moved since rejects the push (compare-and-swap), which sends that write round the loop with a fetch.
        optimistic, self._published = self._published, None
        for attempt in range(0 if optimistic else 1, cfg.max_attempts + 1):
            guessed = attempt == 0  # a try on the pushed tip, not counted among the attempts
            if not remote:
                base = self._local_tip()
            elif guessed:
                base = optimistic
            elif continuity:
                base = check_continuity(self, *self._fetch(), refetch=lambda: self._fetch()[0])
            else:
                base = self._fetch()[0]
            snap = self.snapshot(base)
            try:
                plan = build(snap)
            except Exception:
                if guessed:  # a refusal is only an answer on the remote's own tip
                    continue
                raise
            if isinstance(plan, NoWrite):
                if guessed:
                    continue  # "nothing to write" is only an answer on the remote's own tip
                if base is not None:
                    self._adopt_tip(base)
                return WriteOutcome(result=plan.result, commit=None, attempts=max(attempt, 1))
            commit, tag_oids = self._make_commit(snap, plan)
            if background and remote and not guessed:
                pending = PendingPush(partial(self._push_and_keep, base, commit, tag_oids))
                return WriteOutcome(plan.result, commit, max(attempt, 1), tag_oids, pending)
            try:
                published = (
                    self._push(base, commit, tag_oids)
                    if remote
                    else self._update_local(base, commit, tag_oids)
                )
            except FailedError:
                if guessed:  # whatever went wrong, the fetch of the next round says it plainly (or fixes it)
                    continue
                raise
            if published:
                # Only guess again when this write met no race: on a busy remote the guess is a lost try.
                self._published = commit if remote and attempt <= 1 else None
                return WriteOutcome(
                    result=plan.result, commit=commit, attempts=max(attempt, 1), tags=tag_oids
                )
            if guessed:
                continue  # the remote moved since our last push: fetch and rebuild at once, no back-off
            if attempt < cfg.max_attempts:
                delay = min(cfg.backoff_cap, cfg.backoff_base * 2 ** min(attempt - 1, 10))
                time.sleep(self.rng.uniform(0, delay))
        raise RetryableError(
            f"could not write to ledger branch {cfg.branch}: it moved under every one of "
            f"{cfg.max_attempts} attempts (many concurrent writers?); rerun to try again"
        )

    def _push_and_keep(self, base: str | None, commit: str, tags: Mapping[str, str]) -> bool:
        """A background push (see `write`): on success, the next write builds on it."""
        landed = self._push(base, commit, tags)
        if landed:
            self._published = commit
        return landed

    def _make_commit(self, snap: Snapshot, plan: WritePlan[ResultT]) -> tuple[str, dict[str, str]]:
        files = dict(plan.files)
        if snap.commit is None:
            files[MARKER_PATH] = dump_record(LedgerMarker())
        changes = {path: (None if data is None else self.git.hash_blob(data)) for path, data in files.items()}
        tree = edit_tree(self.git, snap.tree, changes)
        if tree is None:
            tree = self.git.mktree([])
        actor = self.actor()
        message = f"{plan.summary}\n\nBy: {actor}\nKargo-Actions-Ledger: {LEDGER_FORMAT}\n"
        args = ["commit-tree", tree, "-F", "-"]
        if snap.commit is not None:
            args[2:2] = ["-p", snap.commit]
        commit = self.git.run(*args, input=message.encode(), env=self._identity()).stdout.decode().strip()
        sign = self.will_sign() if plan.tags else False
        tag_oids: dict[str, str] = {}
        for req in plan.tags:
            tag_oids[req.name] = self._tags.create(
                req.name, req.message, req.target or commit, sign, {**self.git.env, **self._identity()}
            )
        return commit, tag_oids

    def _fetch(self) -> tuple[str | None, str | None]:
        """Fetch the ledger ref into its remote-tracking ref: (the remote tip, or the local one if none; the
        local branch, the tip this clone last saw)."""
        remote, branch = self.remote, self.config.branch
        tracking = self.config.remote_tracking_ref()
        assert remote is not None
        assert tracking is not None
        proc = self.fetch_ledger()
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
        refs = self.git.rev_parse_many([tracking, self.config.branch_ref])
        return refs[tracking], refs[self.config.branch_ref]

    def _push(self, base: str | None, commit: str, tags: Mapping[str, str]) -> bool:
        """Publish atomically: ledger ref (fast-forward only = compare-and-swap) and the new tags together."""
        remote, cfg = self.remote, self.config
        assert remote is not None
        refspecs = [f"{commit}:{cfg.branch_ref}", *(f"{oid}:refs/tags/{name}" for name, oid in tags.items())]
        # Push to the URL, not the remote name, so git does not move the remote-tracking ref by itself:
        # the local refs (branch, remote-tracking, tags) then move together in one transaction below.
        cfg_values = self.git_config()
        url = cfg_values.get(f"remote.{remote.lower()}.pushurl") or cfg_values[f"remote.{remote.lower()}.url"]
        proc = self.git.run("push", "--porcelain", "--atomic", url, *refspecs, check=False)
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
        ledger_lines = [line for line in rejected if cfg.branch_ref in line]
        if any(m in line for line in ledger_lines for m in _RACE_MARKERS):
            return False
        # Two receive-packs updating the ledger ref at once: the loser's transaction fails on the ref lock.
        if ledger_lines and any(
            m in err for m in ("cannot lock ref", "but expected", "reference already exists")
        ):
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
            for ref, new, _ in updates:
                self.git.run("update-ref", ref, new, check=False)
            return True
        err = proc.stderr.decode(errors="replace")
        if "cannot lock ref" in err or "but expected" in err or "reference already exists" in err:
            return False
        raise FailedError(f"could not update ledger refs: {err.strip()}")

    def _adopt_tip(self, tip: str) -> None:
        """After a no-op write against the remote, let the local branch catch up when it is behind."""
        ref = self.config.branch_ref
        local = self.git.rev_parse_many([ref])[ref]
        if local == tip:
            return
        if (
            local is None
            or self.git.run("merge-base", "--is-ancestor", local, tip, check=False).returncode == 0
        ):
            self.git.run("update-ref", ref, tip, local or ZERO_OID, check=False)

    def _ensure_tag(self, name: str) -> None:
        """Fetch a Freight tag that the remote has but this clone lacks (e.g. after an interrupted write)."""
        ref = f"refs/tags/{name}"
        if self.git.rev_parse_many([ref])[ref] is None and self.remote:
            self.git.run(
                "fetch", "--quiet", "--no-write-fetch-head", self.remote, f"{ref}:{ref}", check=False
            )

    def sync(self) -> None:
        """Fetch the ledger branch and every Freight tag from the remote (no-op when local only)."""
        if not self.remote:
            return
        # Ledger first, tags second: an interruption between them leaves records whose tags a later
        # fetch_freight_tags() brings, never tags without records.
        tip, _ = self._fetch()
        self.fetch_freight_tags()
        if tip is not None:
            self._adopt_tip(tip)

    def fetch_freight_tags(self) -> None:
        """Fetch the Freight tags this clone lacks (another writer's, or after an interrupted write)."""
        if not self.remote:
            return
        prefix = f"refs/tags/{self.config.tag_prefix}/"
        self.git.run(
            "fetch", "--quiet", "--no-write-fetch-head", self.remote, f"{prefix}*:{prefix}*", check=False
        )

    # typed writes

    def record_freight(self, freight: Freight, *, alias_rng: random.Random | None = None) -> RecordResult:
        """Record a Freight: ledger record, alias (generated if missing) and annotated tag, in one write
        (ledger/freight_writes.py). Idempotent: a Freight already recorded returns created=False."""
        from kargo_actions.ledger.freight_writes import record_freight

        return record_freight(self, freight, alias_rng=alias_rng)

    def set_alias(self, ref: str, new_alias: str) -> Freight:
        """Give a Freight a new alias, unique across the ledger (ledger/freight_writes.py)."""
        from kargo_actions.ledger.freight_writes import set_alias

        return set_alias(self, ref, new_alias)

    def record(self, summary: str, records: Mapping[str, KargoModel | None]) -> str | None:
        """Write records at paths (None deletes) in one ledger commit; the commit id."""
        actor = self.actor()
        files = {path: (None if rec is None else dump_record(rec)) for path, rec in records.items()}

        def build(_snap: Snapshot) -> WritePlan[None] | NoWrite[None]:
            return WritePlan(summary=f"{summary} (by {actor})", files=files, result=None)

        return self.write(build).commit

    def record_promotion(
        self, promotion: PromotionRecord, state: StageStateRecord | None = None
    ) -> str | None:
        """A Promotion record, with the Stage's new state in the same commit when given."""
        records: dict[str, KargoModel | None] = {promotion_path(promotion.stage, promotion.name): promotion}
        if state is not None:
            records[stage_path(state.stage)] = state
        return self.record(f"promotion: {promotion.name} {promotion.phase}", records)

    def record_verification(
        self, run: VerificationRecord, state: StageStateRecord | None = None
    ) -> str | None:
        records: dict[str, KargoModel | None] = {verification_path(run.stage, run.id): run}
        if state is not None:
            records[stage_path(state.stage)] = state
        return self.record(f"verification: {run.stage} {run.freight.name[:12]} {run.phase}", records)

    def record_approval(self, approval: ApprovalRecord, state: StageStateRecord | None = None) -> str | None:
        records: dict[str, KargoModel | None] = {approval_path(approval.stage, approval.freight): approval}
        if state is not None:
            records[stage_path(state.stage)] = state
        return self.record(f"approval: {approval.freight[:12]} for {approval.stage}", records)

    def record_discovery(self, discovered: DiscoveredArtifactsRecord) -> str | None:
        return self.record(
            f"discovery: {discovered.warehouse} ({len(discovered.results)} subscriptions)",
            {discovered_path(discovered.warehouse): discovered},
        )

    def record_discovery_run(
        self,
        discovered: Sequence[DiscoveredArtifactsRecord],
        freight: Sequence[Freight],
        *,
        alias_rng: random.Random | None = None,
    ) -> DiscoveryRunResult:
        """A whole discovery run in ONE ledger write (see ledger/discovery_writes.py)."""
        from kargo_actions.ledger.discovery_writes import record_discovery_run

        return record_discovery_run(self, discovered, freight, alias_rng=alias_rng)

    def metadata(
        self, kind: MetadataKind, name: str, snapshot: Snapshot | None = None
    ) -> dict[str, Any] | None:
        """The metadata set-metadata recorded for a Stage or a Freight (by full ID); None when there is none."""
        snap = snapshot or self.snapshot()
        record = snap.load(MetadataRecord, metadata_path(kind, name))
        return None if record is None else dict(record.values)

    def set_metadata(self, kind: MetadataKind, name: str, values: Mapping[str, Any]) -> MetadataRecord:
        """Merge `values` into a Stage's or a Freight's metadata, as Kargo's set-metadata does
        (ledger/freight_writes.py)."""
        from kargo_actions.ledger.freight_writes import set_metadata

        return set_metadata(self, kind, name, values)

    def update_stage_state(
        self, stage: str, change: Callable[[StageStateRecord], StageStateRecord]
    ) -> StageStateRecord:
        """Read-modify-write of a Stage's state, re-applied on the newest tip on every retry."""
        actor = self.actor()

        def build(snap: Snapshot) -> WritePlan[StageStateRecord] | NoWrite[StageStateRecord]:
            current = snap.load(StageStateRecord, stage_path(stage)) or StageStateRecord(stage=stage)
            new = change(current).model_copy(update={"updated_at": utc_now()})
            return WritePlan(
                summary=f"stage: update {stage} (by {actor})",
                files={stage_path(stage): dump_record(new)},
                result=new,
            )

        return self.write(build).result


__all__ = [
    "DiscoveryRunResult",
    "Freight",
    "FreightMetadata",
    "Ledger",
    "NoWrite",
    "ReadResult",
    "RecordResult",
    "Snapshot",
    "TagRequest",
    "WriteOutcome",
    "WritePlan",
    "check_freight_id",
    "freight_status",
]
