"""The ledger branch: typed reads through one `cat-file --batch`, compare-and-swap writes with plumbing."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from kargo_actions.errors import FailedError, Problem, RetryableError
from kargo_actions.ledger.continuity import check_continuity, holds_commit
from kargo_actions.ledger.pending import (
    LANDER_GRACE,
    Combination,
    PendingWrite,
    make_pending,
    read_pending,
    seen_prefix,
)
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
from kargo_actions.ledger.publish import LedgerRemote, OwnWrite
from kargo_actions.ledger.reader import FreightEntry, LedgerTree, freight_status_wire
from kargo_actions.ledger.records import (
    AliasRecord,
    ApprovalRecord,
    DiscoveredArtifactsRecord,
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
from kargo_actions.model.base import KargoModel
from kargo_actions.model.freight import (
    Freight,
    FreightMetadata,
    FreightStatus,
)


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


class Ledger(LedgerRemote):
    """A pipeline repository's ledger branch and Freight tags: the one way features read and write records."""

    def __enter__(self) -> Ledger:
        return self

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
        A plan that says when it stays right on another tip (`WritePlan.combine`) is not rebuilt while that
        holds, and after a lost race waits as a pending write that the next winner lands (ledger/pending.py);
        every push lands the pending writes it can.
        `background`: a plan built on a freshly fetched tip is pushed on a thread and returned at once with
        `pending` set; the caller must wait for `pending.landed()` and, when it says False (the remote moved
        first), write again: that round is the caller's.
        """
        cfg = self.config
        remote = self.remote
        # The tip this process pushed last: the next write builds on it without a fetch, and a remote that
        # moved since rejects the push (compare-and-swap), which sends that write round the loop with a fetch.
        optimistic, self._published = self._published, None
        own: OwnWrite[ResultT] | None = None  # this write's commit, kept while its plan holds on newer tips
        mine: PendingWrite | None = None  # the same, published as a pending write
        attempt = 0 if optimistic else 1  # pushes tried; a try on the pushed tip (0) does not count
        polls = 0  # rounds spent waiting for another writer to land `mine`
        state = ""  # where `mine` stands (see `_follow`)
        contended = False  # lost a race: wait as a pending write rather than race again
        listing, listed = True, None  # fetch the pending writes this round; the tip they were listed on
        while True:
            guessed = attempt == 0
            if not remote:
                base = self._local_tip()
            elif guessed:
                base = optimistic
            elif continuity:
                fetched = self._fetch(listing or mine is None)
                base = check_continuity(self, *fetched, refetch=lambda: self._fetch()[0])
            else:
                base = self._fetch(listing or mine is None)[0]
            snap = self.snapshot(base)
            if mine is not None and own is not None:
                state, snap = self._follow(mine, own, snap)
                if state == "landed":
                    return WriteOutcome(own.plan.result, snap.commit, attempt, own.tags)
                if state == "gone":  # withdrawn, or dropped as expired: it did not land, so write anew
                    mine = own = None
            if mine is not None and own is not None:
                if state == "waiting" and self.pending_refs is None:
                    # A poll of the ledger alone: the pending writes are listed again (at once) when it
                    # moved, as the writers ahead may have landed, or when it stood still too long.
                    listing = snap.commit != listed or self._still(snap) > LANDER_GRACE
                    if listing:
                        continue
                elif state == "waiting" and self._lands_now(mine, snap):
                    listing = True  # this writer lands them: on with the listing this round has
                else:
                    listing, listed = state != "waiting", snap.commit
                if not listing or state != "waiting":
                    polls += 1
                    if polls > 5 * cfg.max_attempts:
                        break
                    time.sleep(self._poll_delay(mine))
                    continue
            if own is None or not own.holds(snap):
                try:
                    plan = build(snap)
                except Exception:
                    if guessed:  # a refusal is only an answer on the remote's own tip
                        attempt = 1
                        continue
                    raise
                if isinstance(plan, NoWrite):
                    if guessed:  # "nothing to write" is only an answer on the remote's own tip
                        attempt = 1
                        continue
                    if base is not None:
                        self._adopt_tip(base)
                    return WriteOutcome(result=plan.result, commit=None, attempts=max(attempt, 1))
                own = self._own_commit(snap, plan)
            if background and remote and not guessed:
                pending = PendingPush(partial(self._push_and_keep, base, own.commit, own.tags))
                return WriteOutcome(own.plan.result, own.commit, max(attempt, 1), own.tags, pending)
            landing = remote and not guessed and continuity
            if landing and mine is None and own.combinable() and (contended or self._lander_busy(snap)):
                # Others wait already and one lands them: wait among them rather than race them.
                mine = self._wait_as_pending(own)
                if mine is not None:
                    time.sleep(self._poll_delay(mine))
                    continue
            others = self._pending(snap, mine) if landing else []
            comb = Combination(snap)
            comb.add_own(own.blobs, own.commit)
            for write in others:
                comb.offer(write, time.time())
            drop = {**comb.drop, **({mine.ref: mine.meta} if mine is not None else {})}
            commit, tags = own.commit, own.tags
            if comb.landed or own.base != base:
                comb.restore_tags(self.git)
                commit, tags = self._landing_commit(snap, own, comb), {**own.tags, **comb.tags}
            try:
                if not remote:
                    published = self._update_local(base, commit, tags)
                else:  # `drop` only when there is one: tests wrap _push with the three-argument form
                    published = self._push(base, commit, tags, *([drop] if drop else []))
            except FailedError:
                if guessed:  # whatever went wrong, the fetch of the next round says it plainly (or fixes it)
                    attempt = 1
                    continue
                raise
            if published:
                # Only guess again when this write met no race: on a busy remote the guess is a lost try.
                self._published = commit if remote and attempt <= 1 else None
                return WriteOutcome(own.plan.result, commit, max(attempt, 1), own.tags)
            if guessed:  # the remote moved since our last push: fetch and rebuild at once, no back-off
                attempt = 1
                continue
            if mine is None and remote and continuity and own.combinable():
                mine = self._wait_as_pending(own)
                contended = True  # (a write on no ledger yet is published once rebuilt on the new one)
            if attempt >= cfg.max_attempts:
                break
            delay = min(cfg.backoff_cap, cfg.backoff_base * 2 ** min(attempt - 1, 10))
            time.sleep(self.rng.uniform(0, delay if mine is None else cfg.backoff_base))
            attempt += 1
        if mine is not None and own is not None and not self._withdraw_pending(mine):
            # Gone while we gave up: landed by another writer, or dropped; the next fetch says which.
            state, snap = self._follow(mine, own, self.snapshot(self._fetch()[0]))
            if state == "landed":
                return WriteOutcome(own.plan.result, snap.commit, attempt, own.tags)
        raise RetryableError(
            f"could not write to ledger branch {cfg.branch}: it moved under every one of "
            f"{cfg.max_attempts} attempts (many concurrent writers?); rerun to try again"
        )

    def _pending(self, snap: Snapshot, mine: PendingWrite | None) -> list[PendingWrite]:
        """The other writers' pending writes the last fetch found, oldest first, each marked valid or not
        on `snap`."""
        if not self.pending_refs or self.remote is None:
            return []
        found = read_pending(self.git, self.pending_refs, seen_prefix(self.remote))
        here = Combination(snap)
        return [w.checked(here) for w in found if mine is None or w.id != mine.id]

    def _eldest(self, snap: Snapshot, before: str | None) -> PendingWrite | None:
        """The oldest pending write (older than `before`, an id) that can land on `snap`: its writer lands
        the others. Read one by one, oldest first, until one can."""
        assert self.remote is not None
        prefix = seen_prefix(self.remote)
        here = Combination(snap)
        for ref, oid in sorted((self.pending_refs or {}).items()):
            if before is not None and ref.removeprefix(prefix) >= before:
                break
            found = read_pending(self.git, {ref: oid}, prefix)
            if found and found[0].checked(here).valid:
                return found[0]
        return None

    def _lands_now(self, mine: PendingWrite, snap: Snapshot) -> bool:
        """Whether this waiting writer pushes now: when its write is the eldest that can land (the others
        leave it the landing), or when the ledger has stood still so long that the eldest's writer seems
        gone."""
        return self._eldest(snap, mine.id) is None or self._still(snap) > LANDER_GRACE

    def _lander_busy(self, snap: Snapshot) -> bool:
        """Whether a pending write can land and its writer seems to be there to land it (it is recent: a
        writer that died after publishing is not waited for, its write lands with this one)."""
        eldest = self._eldest(snap, None)
        return eldest is not None and time.time() - eldest.written_at <= LANDER_GRACE

    def _still(self, snap: Snapshot) -> float:
        """Seconds since this process first saw the ledger at `snap`'s tip."""
        if self._tip_seen[0] != snap.commit:
            self._tip_seen = (snap.commit, time.monotonic())
        return time.monotonic() - self._tip_seen[1]

    def _poll_delay(self, mine: PendingWrite) -> float:
        # Every poll is a fetch: a writer far back in the line polls less often, as it will be landed by
        # the eldest rather than land (a few polls of the first in line, not fifty, on a busy ledger).
        if self.pending_refs is not None:  # else a poll of the ledger alone: the last listing's count holds
            self._ahead = sum(1 for ref in self.pending_refs if ref.rpartition("/")[2] < mine.id)
        return self.rng.uniform(0.5, 1.5) * self.config.backoff_base * 2 * (1 + self._ahead / 5)

    def _follow(self, mine: PendingWrite, own: OwnWrite[Any], snap: Snapshot) -> tuple[str, Snapshot]:
        """Where this process's pending write stands on a fetched tip: "landed" (by any writer), "gone"
        (not landed and no longer pending: write anew), "busy" (try again next round), or "waiting"."""
        if snap.commit is not None and self._holds(own, snap.commit):
            self._adopt_tip(snap.commit, own.tags)
            return "landed", snap
        assert self.remote is not None
        if self.pending_refs is not None and seen_prefix(self.remote) + mine.id not in self.pending_refs:
            # The ref is read after the branch: a landing that happened in between shows on a second look.
            tip = self._fetch()[0]
            if tip is not None and self._holds(own, tip):
                self._adopt_tip(tip, own.tags)
                return "landed", self.snapshot(tip)
            return "gone", snap
        if own.holds(snap):
            return "waiting", snap
        # The tip changed what this write depends on: take it back before writing anew, so that it can
        # never land beside its replacement (the lease fails if another writer landed it meanwhile).
        return ("gone" if self._withdraw_pending(mine) else "busy"), snap

    def _holds(self, own: OwnWrite[Any], tip: str) -> bool:
        """Whether the ledger at `tip` holds this write; each tip found without it shortens the next look."""
        if holds_commit(self.git, tip, own.commit, self._without):
            return True
        self._without = tip
        return False

    def _wait_as_pending(self, own: OwnWrite[Any]) -> PendingWrite | None:
        """After a lost race: publish this write for the next winner to land (None: not published)."""
        if self._no_pending or own.base is None:
            return None
        plan = own.plan
        assert plan.combine is not None
        write = make_pending(
            self.git, own.commit, plan.summary, plan.combine, own.blobs, own.tags, self._identity()
        )
        if self._publish_pending(write):
            self._without = own.base
            return write
        self._no_pending = True  # the remote takes no pending refs: race as before
        return None

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
            # The same files on any tip: it may land in another writer's commit (WritePlan.combine).
            return WritePlan(summary=f"{summary} (by {actor})", files=files, result=None, combine={})

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
                combine={stage_path(stage): snap.oid(stage_path(stage))},
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
