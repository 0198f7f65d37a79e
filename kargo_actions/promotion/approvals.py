"""`kargo-actions approve`: a manual approval of a Freight for a Stage, recorded in the ledger (Kargo's
`kargo approve`); it lets the Freight through the Stage's gate whatever its upstream verification."""

from __future__ import annotations

from datetime import UTC, datetime

from kargo_actions.errors import InvalidInputError, Problem, RefusedError, did_you_mean
from kargo_actions.ledger import Ledger
from kargo_actions.ledger.records import dump_record, stage_path
from kargo_actions.ledger.store import NoWrite, Snapshot, WritePlan
from kargo_actions.model.freight import Freight
from kargo_actions.model.project import Project
from kargo_actions.promotion.gates import format_time


def approve(project: Project, ledger: Ledger, stage_name: str, ref: str) -> tuple[Freight, bool]:
    """Record a manual approval of a Freight for a Stage (origin must match); (Freight, newly approved)."""
    from kargo_actions.ledger.records import ApprovalRecord, ApprovedFreight, approval_path

    stage = project.stages.get(stage_name)
    if stage is None:
        hint = did_you_mean(stage_name, project.stages) or f"Stages: {', '.join(project.stage_order())}"
        raise InvalidInputError([Problem(path="--stage", message=f"no Stage {stage_name!r}", hint=hint)])
    actor = ledger.actor()

    def build(snap: Snapshot) -> WritePlan[tuple[Freight, bool]] | NoWrite[tuple[Freight, bool]]:
        entry = ledger.resolve(ref, snap)
        item = ledger.get_freight(entry.id, snap)
        if stage.request_for(item.origin.name) is None:
            raise RefusedError(
                f"Freight {item.alias or item.name[:12]} comes from Warehouse {item.origin.name}; Stage "
                f"{stage.name} requests Freight from {', '.join(stage.warehouses)} (approval never skips the "
                "origin)"
            )
        state = ledger.stage_state(stage.name, snap)
        if item.name in state.approved:
            return NoWrite((item, False))
        stamp = format_time(datetime.now(UTC))
        approved = {**state.approved, item.name: ApprovedFreight(approved_at=stamp, actor=actor)}
        new = state.model_copy(update={"approved": approved, "updated_at": stamp})
        record = ApprovalRecord(freight=item.name, stage=stage.name, approved_at=stamp, actor=actor)
        return WritePlan(
            summary=f"approval: {item.name[:12]} for {stage.name} (by {actor})",
            files={
                approval_path(stage.name, item.name): dump_record(record),
                stage_path(stage.name): dump_record(new),
            },
            result=(item, True),
        )

    return ledger.write(build).result
