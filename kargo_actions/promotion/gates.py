"""Kargo's availability rules: which Freight a Stage may take, and why not (every unmet condition in words).

Pure functions over the manifests (Stage), the Freight and the Stage state records of the ledger, at a
given moment. A Freight is available to a Stage when its origin is requested by the Stage and it is
approved for the Stage (skips verification and soak, never the origin), or the request takes it directly
from the Warehouse, or it is verified in one (OneOf) / all (All) of the upstream Stages and has soaked there
for requiredSoakTime. Control-flow Stages (no promotion steps) count every Freight available to them as
verified in themselves (`settle_control_flow`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from datetime import datetime, timedelta

from kargo_actions.ledger.layout import format_time, parse_time
from kargo_actions.ledger.records import StageStateRecord, VerifiedFreight
from kargo_actions.model.fields import parse_go_duration
from kargo_actions.model.freight import Freight
from kargo_actions.model.project import Project
from kargo_actions.model.stage import Stage
from kargo_actions.struct import struct


def go_duration(delta: timedelta) -> str:
    """A duration as Go prints it (`1h30m0s`, `4m12s`, `0s`), whole seconds (ledger `longestSoak`)."""
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def human(delta: timedelta) -> str:
    """A short duration for messages: `45s`, `4m`, `2h5m`, `3d4h`."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def soak_time(state: StageStateRecord | None, freight_id: str, now: datetime) -> timedelta | None:
    """How long a Freight has soaked in a Stage: None when not verified there.

    The longest completed soak (`longestSoak`), or, while the Freight is still in the Stage, the time since
    it was verified there (or since it arrived, when later), whichever is longer.
    """
    if state is None:
        return None
    verified = state.verified.get(freight_id)
    if verified is None:
        return None
    longest = parse_go_duration(verified.longest_soak) if verified.longest_soak else timedelta(0)
    current = next((c for c in state.current_freight if c.name == freight_id), None)
    if current is not None:
        starts = [t for t in (parse_time(verified.verified_at), parse_time(current.since)) if t is not None]
        if starts:
            longest = max(longest, now - max(starts))
    return longest


@struct
class Availability:
    """Whether one Freight is available to one Stage: how (`via`), or every unmet condition (`unmet`)."""

    stage: str
    freight: str
    via: str = ""  # approved, direct, "verified in dev", "verified in staging (rollback)", ...
    unmet: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        return not self.unmet

    @property
    def message(self) -> str:
        if self.available:
            return f"Freight {self.freight[:12]} is available to {self.stage} ({self.via})"
        return "; ".join(self.unmet)


def availability(
    stage: Stage,
    freight: Freight,
    states: Mapping[str, StageStateRecord],
    now: datetime,
    *,
    rollback: bool = False,
) -> Availability:
    """Kargo's rule for one Freight and one Stage; `rollback` also allows a Freight once verified in the Stage."""
    name, fid = stage.name, freight.name
    request = stage.request_for(freight.origin.name)
    if request is None:
        wanted = ", ".join(stage.warehouses) or "nothing"
        return Availability(
            name,
            fid,
            unmet=(
                f"Freight {fid[:12]} comes from Warehouse {freight.origin.name}; Stage {name} requests Freight "
                f"from {wanted}",
            ),
        )
    own = states.get(name)
    if own is not None and fid in own.approved:
        return Availability(name, fid, via=f"approved for {name}")
    sources = request.sources
    if sources.direct:
        return Availability(name, fid, via=f"direct from Warehouse {freight.origin.name}")
    if rollback and own is not None and fid in own.verified:
        return Availability(name, fid, via=f"verified in {name} before (rollback)")
    required = parse_go_duration(sources.required_soak_time) if sources.required_soak_time else None
    ok: list[str] = []
    unmet: list[str] = []
    for upstream in sources.stages:
        state = states.get(upstream)
        verified = state.verified.get(fid) if state is not None else None
        if verified is None:
            unmet.append(f"not verified in {upstream}")
            continue
        at = parse_time(verified.verified_at)
        ago = f" {human(now - at)} ago" if at is not None else ""
        soaked = soak_time(state, fid, now) or timedelta(0)
        if required is not None and soaked < required:
            unmet.append(
                f"verified in {upstream}{ago}; {name} requires {human(required)} soak "
                f"(soaked {human(soaked)}, {human(required - soaked)} to go)"
            )
            continue
        ok.append(upstream)
    strategy = sources.strategy
    if strategy == "All":
        if not unmet:
            return Availability(name, fid, via=f"verified in all of {', '.join(ok)}")
        return Availability(
            name, fid, unmet=(f"{name} needs it verified in all of its upstream Stages", *unmet)
        )
    if ok:
        return Availability(name, fid, via=f"verified in {ok[0]}")
    if len(unmet) > 1:
        unmet.insert(0, f"{name} needs it verified in one of {', '.join(sources.stages)}")
    hint = f"; or approve it: kargo-actions approve --freight {freight.alias or fid[:12]} --stage {name}"
    unmet[-1] += hint
    return Availability(name, fid, unmet=tuple(unmet))


def settle_control_flow(
    project: Project,
    states: Mapping[str, StageStateRecord],
    freight: Iterable[Freight],
    now: datetime,
) -> dict[str, StageStateRecord]:
    """Every Stage state, with each control-flow Stage marking every Freight available to it as verified.

    Stages are settled in pipeline order, so a control-flow Stage downstream of another sees its marks.
    The result holds every state given plus a (possibly new) state per control-flow Stage; `changed_states`
    tells which differ from the input.
    """
    settled = dict(states)
    items = list(freight)
    for name in project.stage_order():
        stage = project.stages[name]
        if not stage.is_control_flow:
            continue
        state = settled.get(name) or StageStateRecord(stage=name)
        verified = dict(state.verified)
        for item in items:
            if item.name in verified:
                continue
            if availability(stage, item, settled, now).available:
                verified[item.name] = VerifiedFreight(verified_at=format_time(now))
        if verified != state.verified:
            settled[name] = state.model_copy(update={"verified": verified, "updated_at": format_time(now)})
    return settled


def changed_states(
    before: Mapping[str, StageStateRecord], after: Mapping[str, StageStateRecord]
) -> dict[str, StageStateRecord]:
    return {name: state for name, state in after.items() if before.get(name) != state}


@struct
class Candidates:
    """Freight available to a Stage, newest first, and the refusals of the rest (for messages)."""

    stage: str
    available: tuple[Freight, ...] = ()
    refused: Mapping[str, Availability] = field(default_factory=dict)

    def newest(self, warehouse: str | None = None) -> Freight | None:
        return next((f for f in self.available if warehouse is None or f.origin.name == warehouse), None)


def newest_first(freight: Iterable[Freight]) -> list[Freight]:
    return sorted(freight, key=lambda f: (f.metadata.creation_timestamp or "", f.name), reverse=True)


def candidates(
    stage: Stage,
    freight: Sequence[Freight],
    states: Mapping[str, StageStateRecord],
    now: datetime,
) -> Candidates:
    """Every Freight available to the Stage, newest first (creation time, then ID, as Kargo sorts)."""
    available: list[Freight] = []
    refused: dict[str, Availability] = {}
    for item in newest_first(freight):
        result = availability(stage, item, states, now)
        if result.available:
            available.append(item)
        else:
            refused[item.name] = result
    return Candidates(stage.name, tuple(available), refused)


__all__ = [
    "Availability",
    "Candidates",
    "availability",
    "candidates",
    "changed_states",
    "format_time",
    "go_duration",
    "human",
    "newest_first",
    "parse_time",
    "settle_control_flow",
    "soak_time",
]
