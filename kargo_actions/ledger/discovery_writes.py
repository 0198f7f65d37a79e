"""The discovery-run writer: a whole discovery run (discovered artifacts and new Freight) in one ledger write.

`Ledger.record_discovery_run` delegates here; store.py keeps the write machinery, freight_writes.py the Freight
writers this one builds on.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kargo_actions.ledger.freight_writes import (
    check_new_freight,
    new_freight_conditions,
    new_freight_files,
    recorded,
    tag_target,
)
from kargo_actions.ledger.layout import check_name, discovered_path
from kargo_actions.ledger.plans import DiscoveryRunResult, NoWrite, RecordResult, TagRequest, WritePlan
from kargo_actions.ledger.records import DiscoveredArtifactsRecord, LedgerRecordError, dump_record
from kargo_actions.model.freight import Freight
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from kargo_actions.ledger.store import Ledger, Snapshot


@struct
class _RunPlan:
    freight: tuple[tuple[Freight, bool], ...]  # (Freight as recorded, created now)
    discovered_changed: tuple[str, ...]


def record_discovery_run(
    ledger: Ledger,
    discovered: Sequence[DiscoveredArtifactsRecord],
    freight: Sequence[Freight],
    *,
    alias_rng: random.Random | None = None,
) -> DiscoveryRunResult:
    """A whole discovery run in ONE ledger write: each Warehouse's discovered artifacts (only where they
    changed, so a run that found nothing new writes nothing) and every new Freight with alias and tag.

    Freight the ledger already holds are returned with created=False and left as they are.
    """
    for item in freight:
        check_new_freight(item)
    for record in discovered:
        check_name(record.warehouse, "Warehouse")
    sign = ledger.will_sign()
    targets = {item.name: tag_target(ledger, item) for item in freight}
    actor = ledger.actor()
    rng = alias_rng or ledger.rng

    def build(snap: Snapshot) -> WritePlan[_RunPlan] | NoWrite[_RunPlan]:
        files: dict[str, bytes | None] = {}
        conditions: dict[str, str | None] = {}  # see WritePlan.combine
        changed: list[str] = []
        for record in discovered:
            path = discovered_path(record.warehouse)
            conditions[path] = snap.oid(path)
            try:
                old = snap.load(DiscoveredArtifactsRecord, path)
            except LedgerRecordError:
                old = None  # an unreadable record is replaced by the new one
            if old is None or old.results != record.results:
                files[path] = dump_record(record)
                changed.append(record.warehouse)
        taken = set(snap.aliases())
        results: list[tuple[Freight, bool]] = []
        tags: list[TagRequest] = []
        newest: dict[str, str | None] = {}  # each Warehouse's latest creationTimestamp, as Freight are added
        for item in freight:
            existing = recorded(snap, item.name)
            if existing is None and any(f.name == item.name for f, _ in results):
                existing = next(f for f, _ in results if f.name == item.name)
            if existing is not None:
                results.append((existing, False))
                continue
            warehouse = item.origin.name
            if warehouse not in newest:
                newest[warehouse] = snap.newest_created(warehouse)
            final, more, tag = new_freight_files(
                ledger, item, taken, rng, targets[item.name], newest[warehouse]
            )
            conditions.update(
                new_freight_conditions(snap, [final], generated=not item.metadata.creation_timestamp)
            )
            newest[warehouse] = final.metadata.creation_timestamp
            files.update(more)
            tags.append(tag)
            results.append((final, True))
        plan = _RunPlan(tuple(results), tuple(changed))
        if not files:
            return NoWrite(plan)
        created = [f"{f.origin.name}/{f.name[:12]} as {f.alias}" for f, new in results if new]
        summary = f"discovery: {len(changed)} Warehouse(s) changed" + (
            f", freight: record {', '.join(created)}" if created else ""
        )
        return WritePlan(
            summary=f"{summary} (by {actor})", files=files, result=plan, tags=tuple(tags), combine=conditions
        )

    outcome = ledger.write(build)
    out: list[RecordResult] = []
    for item, created in outcome.result.freight:
        tag_name = ledger.config.tag_name(item.origin.name, item.name)
        if not created:
            ledger._ensure_tag(tag_name)
        out.append(
            RecordResult(
                freight=item,
                created=created,
                tag=tag_name,
                ledger_commit=outcome.commit if created else None,
                signed=sign and created,
                attempts=outcome.attempts,
            )
        )
    return DiscoveryRunResult(
        freight=tuple(out),
        discovered_changed=outcome.result.discovered_changed,
        ledger_commit=outcome.commit,
        attempts=outcome.attempts,
    )
