"""The Freight writers of the ledger: recording a Freight (record, alias and tag in one write) and renaming its
alias, and the metadata set-metadata keeps. `Ledger.record_freight`, `set_alias` and `set_metadata` delegate
here, and the discovery-run writer (discovery_writes.py) builds its Freight with the same functions.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.freight.identity import freight_id, normalize_git_url
from kargo_actions.ledger.layout import check_name, format_time, parse_time
from kargo_actions.ledger.plans import NoWrite, RecordResult, TagRequest, WritePlan
from kargo_actions.ledger.records import (
    AliasRecord,
    FreightRecord,
    LedgerRecordError,
    MetadataKind,
    MetadataRecord,
    alias_path,
    dump_record,
    freight_path,
    metadata_path,
)
from kargo_actions.ledger.tags import canonical_json
from kargo_actions.model.freight import Freight

if TYPE_CHECKING:
    from kargo_actions.ledger.store import Ledger, Snapshot


def utc_now() -> str:
    return format_time(datetime.now(UTC))


def after(now: str, newest: str | None) -> str:
    """A new Freight's creationTimestamp: `now`, or the second after the Warehouse's newest when `now` is not
    later. Timestamps are whole seconds (as Kubernetes writes them) and Freight sort newest first by them, so
    two Freight of one Warehouse recorded in the same second must not tie, or "newest" could name the older."""
    latest = parse_time(newest) if newest else None
    if latest is None or parse_time(now) is None or now > format_time(latest):
        return now
    return format_time(latest + timedelta(seconds=1))


def tag_target(ledger: Ledger, freight: Freight) -> str | None:
    """The Freight's commit when it is a commit of this repository (present locally), else None."""
    url = ledger.remote_url
    if not url:
        return None
    ours = normalize_git_url(url)
    for commit in freight.commits:
        if commit.id and normalize_git_url(commit.repo_url) == ours:
            obj = ledger.git.reader.get(f"{commit.id}^{{commit}}")
            if obj is not None:
                return commit.id
    return None


def check_new_freight(freight: Freight) -> str:
    """Refuse a Freight whose name is not its artifacts' ID, or with a bad alias; its Warehouse."""
    from kargo_actions.freight.alias import check_alias

    expected = freight_id(freight.origin, freight.commits, freight.images, freight.charts)
    if freight.name != expected:
        raise InvalidInputError(
            [
                Problem(
                    path="metadata.name",
                    message=f"Freight name {freight.name!r} is not the ID of its artifacts ({expected})",
                    hint="Freight names are computed from origin and artifacts; do not set them by hand",
                )
            ]
        )
    warehouse = check_name(freight.origin.name, "Warehouse")
    if freight.alias and (why := check_alias(freight.alias)):
        raise InvalidInputError([Problem(path="alias", message=why)])
    return warehouse


def new_freight_files(
    ledger: Ledger,
    freight: Freight,
    taken: set[str],
    rng: random.Random,
    target: str | None,
    newest: str | None = None,
) -> tuple[Freight, dict[str, bytes | None], TagRequest]:
    """Record, alias and tag of a Freight not yet recorded; its alias is added to `taken`. `newest` is the
    Warehouse's latest creationTimestamp so far: the new one comes after it (see `after`)."""
    from kargo_actions.freight.alias import generate_alias

    warehouse = freight.origin.name
    alias = freight.alias
    if alias and alias in taken:
        raise InvalidInputError(
            [Problem(path="alias", message=f"alias {alias!r} is already used by another Freight")]
        )
    alias = alias or generate_alias(taken, rng)
    taken.add(alias)
    created = freight.metadata.creation_timestamp or after(utc_now(), newest)
    meta = freight.metadata.model_copy(update={"creation_timestamp": created})
    final = freight.model_copy(update={"alias": alias, "metadata": meta, "status": None})
    final = Freight.model_validate(final.model_dump(by_alias=True, exclude_none=True))
    files: dict[str, bytes | None] = {
        freight_path(warehouse, final.name): dump_record(FreightRecord.of(final)),
        alias_path(alias): dump_record(AliasRecord(alias=alias, freight=final.name, warehouse=warehouse)),
    }
    tag = TagRequest(ledger.config.tag_name(warehouse, final.name), canonical_json(final), target)
    return final, files, tag


def new_freight_conditions(
    snap: Snapshot, recorded_now: list[Freight], *, generated: bool
) -> dict[str, str | None]:
    """When a write of new Freight stays right on another tip (`WritePlan.combine`): their records and
    aliases still absent and, when their creationTimestamps were computed from their Warehouses' newest,
    those Warehouses' Freight unchanged."""
    conditions: dict[str, str | None] = {}
    for item in recorded_now:
        conditions[freight_path(item.origin.name, item.name)] = None
        if item.alias:
            conditions[alias_path(item.alias)] = None
        if generated:
            where = f"freight/{item.origin.name}"
            conditions[where] = snap.oid(where)
    return conditions


def recorded(snap: Snapshot, fid: str) -> Freight | None:
    existing = snap.find_freight(fid)
    if existing is None:
        return None
    read = snap.freight_records([existing])
    if read.problems:
        raise LedgerRecordError(read.problems)
    return read.records[0]


def record_freight(
    ledger: Ledger, freight: Freight, *, alias_rng: random.Random | None = None
) -> RecordResult:
    """Record a Freight: ledger record, alias (generated if missing) and annotated tag, in one write.

    Idempotent: recording a Freight the ledger already holds changes nothing and returns created=False.
    """
    warehouse = check_new_freight(freight)
    sign = ledger.will_sign()
    tag_name = ledger.config.tag_name(warehouse, freight.name)
    target = tag_target(ledger, freight)
    actor = ledger.actor()
    rng = alias_rng or ledger.rng

    def build(snap: Snapshot) -> WritePlan[Freight] | NoWrite[Freight]:
        existing = recorded(snap, freight.name)
        if existing is not None:
            return NoWrite(existing)
        newest = None if freight.metadata.creation_timestamp else snap.newest_created(warehouse)
        final, files, tag = new_freight_files(ledger, freight, set(snap.aliases()), rng, target, newest)
        return WritePlan(
            summary=f"freight: record {warehouse}/{final.name[:12]} as {final.alias} (by {actor})",
            files=files,
            result=final,
            tags=(tag,),
            combine=new_freight_conditions(snap, [final], generated=newest is not None),
        )

    outcome = ledger.write(build)
    if outcome.commit is None:
        ledger._ensure_tag(tag_name)
    return RecordResult(
        freight=outcome.result,
        created=outcome.commit is not None,
        tag=tag_name,
        ledger_commit=outcome.commit,
        signed=sign and outcome.commit is not None,
        attempts=outcome.attempts,
    )


def set_alias(ledger: Ledger, ref: str, new_alias: str) -> Freight:
    """Give a Freight a new alias (unique across the ledger); the old alias is released."""
    from kargo_actions.freight.alias import check_alias

    if why := check_alias(new_alias):
        raise InvalidInputError([Problem(path="alias", message=why)])
    actor = ledger.actor()

    def build(snap: Snapshot) -> WritePlan[Freight] | NoWrite[Freight]:
        entry = ledger.resolve(ref, snap)
        read = snap.freight_records([entry])
        if read.problems:
            raise LedgerRecordError(read.problems)
        record = read.records[0]
        if record.alias == new_alias:
            return NoWrite(record)
        owner = snap.alias_record(new_alias) if new_alias in snap.aliases() else None
        if owner is not None and owner.freight != record.name:
            raise InvalidInputError(
                [
                    Problem(
                        path="alias",
                        message=f"alias {new_alias!r} is already used by Freight {owner.freight}",
                        hint="choose another alias",
                    )
                ]
            )
        updated = record.model_copy(update={"alias": new_alias})
        files: dict[str, bytes | None] = {
            freight_path(entry.warehouse, entry.id): dump_record(FreightRecord.of(updated)),
            alias_path(new_alias): dump_record(
                AliasRecord(alias=new_alias, freight=entry.id, warehouse=entry.warehouse)
            ),
        }
        if record.alias and record.alias != new_alias:
            files[alias_path(record.alias)] = None
        return WritePlan(
            summary=f"freight: alias {entry.warehouse}/{entry.id[:12]} {record.alias or '-'} -> {new_alias} "
            f"(by {actor})",
            files=files,
            result=updated,
        )

    return ledger.write(build).result


def set_metadata(ledger: Ledger, kind: MetadataKind, name: str, values: Mapping[str, Any]) -> MetadataRecord:
    """Merge `values` into the metadata of a Stage or a Freight (keys given replace, others stay), as
    Kargo's set-metadata does; a Freight is named by ID, unique ID prefix or alias and must be recorded."""
    actor = ledger.actor()

    def build(snap: Snapshot) -> WritePlan[MetadataRecord] | NoWrite[MetadataRecord]:
        key = ledger.resolve(name, snap).id if kind == "Freight" else check_name(name, "Stage")
        path = metadata_path(kind, key)
        current = snap.load(MetadataRecord, path)
        merged = {**(current.values if current is not None else {}), **values}
        if current is not None and merged == current.values:
            return NoWrite(current)
        record = MetadataRecord(kind=kind, name=key, values=merged, updated_at=utc_now())
        return WritePlan(
            summary=f"metadata: {kind} {key[:12] if kind == 'Freight' else key}: "
            f"{', '.join(sorted(values))} (by {actor})",
            files={path: dump_record(record)},
            result=record,
        )

    return ledger.write(build).result
