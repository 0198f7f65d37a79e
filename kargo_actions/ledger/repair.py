"""`kargo-actions ledger repair`: put back the records a rewound ledger branch lost.

Sources, in order: this clone's ledger branch (the tip it last saw), another clone (`--from PATH|URL`), and
the Freight tags (each tag's message is its Freight). What a source changed since it parted from the remote,
and the remote never touched, is restored in one commit on top of the remote tip, published by the normal
compare-and-swap write; a file both changed keeps the remote's version and is reported. Running it again
finds nothing to restore and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.freight.identity import freight_id
from kargo_actions.ledger.continuity import describe, is_ancestor, lost_records, tagged_freight
from kargo_actions.ledger.layout import alias_path, freight_path
from kargo_actions.ledger.plans import NoWrite, WritePlan
from kargo_actions.ledger.records import AliasRecord, FreightRecord, dump_record
from kargo_actions.ledger.store import Ledger, Snapshot
from kargo_actions.ledger.tags import parse_tag
from kargo_actions.model.freight import Freight
from kargo_actions.struct import struct

SCRATCH_REF = "refs/kargo-actions/repair-from"  # where another clone's ledger branch is fetched to


@struct
class Source:
    """A copy of the ledger to restore from: a label for reports, and its commit in this repository."""

    label: str
    commit: str


@struct
class Restored:
    """One record file put back (or removed again, when the source had removed it)."""

    path: str
    what: str
    source: str
    removed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "record": self.what, "from": self.source, "removed": self.removed}


@struct
class RepairPlan:
    """What one attempt restores on top of a remote tip."""

    files: dict[str, bytes | None] = field(default_factory=dict)
    restored: list[Restored] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # changed on both sides: the remote's version stays
    notes: list[str] = field(default_factory=list)


@struct
class RepairResult:
    restored: tuple[Restored, ...]
    kept: tuple[str, ...]
    notes: tuple[str, ...]
    sources: tuple[str, ...]
    commit: str | None  # None when nothing was written (nothing missing, or --dry-run)
    dry_run: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "commit": self.commit,
            "sources": list(self.sources),
            "restored": [r.to_json() for r in self.restored],
            "kept": [{"path": p, "record": describe(p)} for p in self.kept],
            "notes": list(self.notes),
        }

    def text(self) -> str:
        verb = "would restore" if self.dry_run else "restored"
        lines = [f"{verb} {r.what}{' (removal)' if r.removed else ''} from {r.source}" for r in self.restored]
        lines += [f"kept the remote's {describe(p)}: changed there too since" for p in self.kept]
        lines += [f"note: {n}" for n in self.notes]
        if not self.restored:
            lines.append("nothing to restore: the ledger branch holds every record of " + _sources(self))
        elif self.commit:
            lines.append(f"{len(self.restored)} record(s) restored in ledger commit {self.commit[:12]}")
        else:
            lines.append(f"{len(self.restored)} record(s) would be restored; nothing was written (--dry-run)")
        return "\n".join(lines)


def _sources(result: RepairResult) -> str:
    return " and ".join([*result.sources, "the Freight tags"])


def repair(ledger: Ledger, *, source: str | None = None, dry_run: bool = False) -> RepairResult:
    """Restore the records the ledger branch lacks from this clone, `source` (another clone) and the tags."""
    git, cfg = ledger.git, ledger.config
    if ledger.remote:
        ledger.fetch_freight_tags()
    sources: list[Source] = []
    local = git.rev_parse_many([cfg.branch_ref])[cfg.branch_ref]
    if local is not None:
        sources.append(Source(f"this clone's {cfg.branch}", local))
    try:
        if source:
            sources.append(Source(source, _fetch_other(ledger, source)))

        def build(snap: Snapshot) -> WritePlan[RepairPlan] | NoWrite[RepairPlan]:
            plan = plan_repair(ledger, snap, sources)
            if not plan.files:
                return NoWrite(plan)
            return WritePlan(
                summary=f"repair: restore {len(plan.restored)} record(s) the ledger branch lost "
                f"(by {ledger.actor()})",
                files=plan.files,
                result=plan,
            )

        if dry_run:
            tip = ledger._fetch()[0] if ledger.remote else None
            plan, commit = plan_repair(ledger, ledger.snapshot(tip), sources), None
        else:
            outcome = ledger.write(build, continuity=False)
            plan, commit = outcome.result, outcome.commit
    finally:
        git.run("update-ref", "-d", SCRATCH_REF, check=False)
    return RepairResult(
        restored=tuple(plan.restored),
        kept=tuple(plan.kept),
        notes=tuple(plan.notes),
        sources=tuple(s.label for s in sources),
        commit=commit,
        dry_run=dry_run,
    )


def _fetch_other(ledger: Ledger, where: str) -> str:
    """Another clone's ledger branch (into SCRATCH_REF) and the Freight tags this clone lacks."""
    local = Path(where).expanduser()
    url = str(local.resolve()) if local.is_dir() else where  # a relative path means from here, not the repo
    branch, prefix = ledger.config.branch, f"refs/tags/{ledger.config.tag_prefix}/"
    fetch = ("fetch", "--quiet", "--no-write-fetch-head")
    proc = ledger.git.run(*fetch, "--no-tags", url, f"+refs/heads/{branch}:{SCRATCH_REF}", check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidInputError(
            [
                Problem(
                    path="--from",
                    message=f"cannot read ledger branch {branch} from {where}: {err[-1] if err else 'no message'}",
                    hint="give the path or URL of another clone (or remote) that has the ledger branch",
                )
            ]
        )
    ledger.git.run(*fetch, url, f"{prefix}*:{prefix}*", check=False)  # tags this clone has stay as they are
    fetched = ledger.git.rev_parse_many([SCRATCH_REF])[SCRATCH_REF]
    assert fetched is not None
    return fetched


def plan_repair(ledger: Ledger, snap: Snapshot, sources: Sequence[Source]) -> RepairPlan:
    """The record files to write on top of `snap` (the remote tip) so that no source's record is missing."""
    git = ledger.git
    tip = snap.commit
    plan = RepairPlan()
    unique: dict[str, Source] = {}
    for src in sources:
        if tip is None or not is_ancestor(git, src.commit, tip):
            unique.setdefault(src.commit, src)
    # A source behind another adds nothing the other lacks.
    ahead = [
        s
        for s in unique.values()
        if not any(o is not s and is_ancestor(git, s.commit, o.commit) for o in unique.values())
    ]
    chosen: dict[str, str | None] = {}
    for src in ahead:
        lost, conflicts = lost_records(git, src.commit, tip)
        plan.kept.extend(p for p in conflicts if p not in plan.kept)
        for record in lost:
            if record.path in chosen:
                if chosen[record.path] != record.blob and record.path not in plan.kept:
                    plan.kept.append(record.path)  # two sources disagree: the first one's version stays
                continue
            chosen[record.path] = record.blob
            plan.restored.append(Restored(record.path, record.what, src.label, record.blob is None))
    paths = [p for p, blob in chosen.items() if blob is not None]
    for path, obj in zip(paths, git.reader.get_many([str(chosen[p]) for p in paths]), strict=True):
        assert obj is not None  # a blob of a commit this repository has
        plan.files[path] = obj[1]
    plan.files.update({p: None for p, blob in chosen.items() if blob is None})
    _restore_from_tags(ledger, snap, plan)
    return plan


def _restore_from_tags(ledger: Ledger, snap: Snapshot, plan: RepairPlan) -> None:
    """The Freight record (and alias) of every Freight tag whose record neither the tip nor a source has."""
    recorded = {(e.warehouse, e.id) for e in snap.freight_entries()}
    aliases = snap.aliases()
    for warehouse, fid in tagged_freight(ledger):
        path = freight_path(warehouse, fid)
        if (warehouse, fid) in recorded or plan.files.get(path) is not None:
            continue
        name = ledger.config.tag_name(warehouse, fid)
        freight = _freight_of_tag(ledger, name, warehouse, fid)
        if freight is None:
            plan.notes.append(f"tag {name} does not carry its Freight as JSON: its record was not restored")
            continue
        label = f"tag {name}"
        if freight.alias:
            where = alias_path(freight.alias)
            owner = snap.alias_target(freight.alias) if freight.alias in aliases else None
            if where not in plan.files and owner is None:
                record = AliasRecord(alias=freight.alias, freight=fid, warehouse=warehouse)
                plan.files[where] = dump_record(record)
                plan.restored.append(Restored(where, describe(where), label))
            elif owner != fid:
                plan.notes.append(
                    f"alias {freight.alias} of Freight {warehouse}/{fid} now names another Freight: "
                    "restored without an alias (give it one with `kargo-actions freight alias`)"
                )
                freight = freight.model_copy(update={"alias": None})
        plan.files[path] = dump_record(FreightRecord.of(freight))
        plan.restored.append(Restored(path, describe(path), label))


def _freight_of_tag(ledger: Ledger, name: str, warehouse: str, fid: str) -> Freight | None:
    """The Freight a tag's message carries, when it is the Freight the tag's name says."""
    obj = ledger.git.reader.get(f"refs/tags/{name}")
    if obj is None or obj[0] != "tag":
        return None
    tag = parse_tag("", obj[1])
    try:
        freight = Freight.model_validate(json.loads(tag.message))
    except (ValueError, ValidationError):
        return None
    expected = freight_id(freight.origin, freight.commits, freight.images, freight.charts)
    if freight.name != fid or expected != fid or freight.origin.name != warehouse:
        return None
    return freight
