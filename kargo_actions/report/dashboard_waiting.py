"""What a Stage card says beyond its state: what the Stage waits for (the next Freight, the soak time left, the
command that approves it instead) and the latest verification's result when it did not succeed, beside
Kargo's Verified (which a Freight keeps once it has been verified in the Stage)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING

from kargo_actions.ledger.records import StageStateRecord, VerificationRecord
from kargo_actions.model.fields import parse_go_duration
from kargo_actions.model.freight import Freight
from kargo_actions.model.stage import Stage
from kargo_actions.promotion.gates import availability, human, soak_time
from kargo_actions.promotion.pipeline import StageStatus
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from kargo_actions.report.dashboard import StageView  # which imports this module

SETTLED_BAD = frozenset({"Failed", "Error", "Inconclusive", "Aborted"})
_APPROVE_HINT = "; or approve it: "  # gates.availability's hint, shown apart here as a command


@struct
class Waiting:
    """The next Freight a Stage could take and why it cannot yet."""

    freight: Freight
    reasons: tuple[str, ...]
    soak_left: timedelta | None  # the shortest soak still to go in an upstream Stage, when soak is the gap
    approve: str  # the command that makes it available at once

    @property
    def label(self) -> str:
        return "Waiting for soak" if self.soak_left is not None else "Waiting"

    @property
    def summary(self) -> str:
        name = self.freight.alias or self.freight.name[:12]
        if self.soak_left is not None:
            return f"Freight {name}: {human(self.soak_left)} of soak time left"
        return f"Freight {name}: {self.reasons[0] if self.reasons else 'not available yet'}"


def waiting_for(
    stage: Stage,
    status: StageStatus,
    states: Mapping[str, StageStateRecord],
    freight: Sequence[Freight],
    now: datetime,
) -> Waiting | None:
    """The newest Freight the Stage does not hold that an upstream Stage has verified (else the newest of its
    Warehouses), when no newer Freight is available to the Stage already; None when there is nothing to wait
    for (a control-flow Stage, a direct one, nothing newer). `freight` is newest first (gates.newest_first)."""
    if status.control_flow:
        return None
    held = {f.name for f in status.current}
    newest = status.newest_available
    if newest is not None and newest.name not in held:
        return None  # something newer is available: the card's Available row says so
    newest_held = max((f.metadata.creation_timestamp or "" for f in status.current), default="")
    upstream = {s for r in stage.spec.requested_freight for s in r.sources.stages}
    # The newest pending Freight verified upstream, else the newest pending: one pass that stops at the first
    # of the former or at the held Freight's age (40 Stages x 10,000 Freight made the cards cost a second).
    newest_pending: Freight | None = None
    chosen: Freight | None = None
    for f in freight:
        if (f.metadata.creation_timestamp or "") <= newest_held:
            break  # newest first: all the rest are older still
        if f.name in held or stage.request_for(f.origin.name) is None:
            continue
        newest_pending = newest_pending or f
        if any(f.name in states.get(s, _EMPTY).verified for s in upstream):
            chosen = f
            break
    chosen = chosen or newest_pending
    if chosen is None:
        return None
    found = availability(stage, chosen, states, now)
    if found.available:
        return None
    request = stage.request_for(chosen.origin.name)
    assert request is not None
    sources = request.sources
    soak_left: timedelta | None = None
    if sources.required_soak_time:
        required = parse_go_duration(sources.required_soak_time)
        lefts = [
            required - soaked
            for s in sources.stages
            for soaked in [soak_time(states.get(s), chosen.name, now)]
            if soaked is not None and soaked < required
        ]
        soak_left = min(lefts) if lefts else None
    reasons = tuple(r.split(_APPROVE_HINT, 1)[0] for r in found.unmet)
    approve = f"kargo-actions approve --freight {chosen.alias or chosen.name[:12]} --stage {stage.name}"
    return Waiting(chosen, reasons, soak_left, approve)


_EMPTY = StageStateRecord(stage="")


def latest_check(view: StageView) -> VerificationRecord | None:
    """The newest verification run of a Freight the Stage holds."""
    held = {f.name for f in view.status.current}
    return next((v for v in view.verifications if v.freight.name in held), None)


def check_badge(view: StageView) -> str:
    """A second badge beside Verified when the latest verification of the held Freight did not succeed."""
    latest = latest_check(view)
    if not view.status.verified or latest is None or latest.phase not in SETTLED_BAD:
        return ""
    title = f"verification {latest.id}: {latest.phase}" + (f": {latest.message}" if latest.message else "")
    return (
        f' <span class="badge bad check" title="{escape(title)}">'
        f"last verification {escape(str(latest.phase))}</span>"
    )


def waiting_row(waiting: Waiting | None) -> str:
    """The card's `Waiting for` row: the Freight, what is missing, and the approve command."""
    if waiting is None:
        return ""
    name = escape(waiting.freight.alias or waiting.freight.name[:12])
    reasons = "".join(f"<div>{escape(r)}</div>" for r in waiting.reasons)
    soak = (
        f'<div class="soak-left">{escape(human(waiting.soak_left))} of soak time left</div>'
        if waiting.soak_left is not None
        else ""
    )
    return (
        f'<dt>Waiting for</dt><dd class="waiting"><div>Freight <b>{name}</b></div>{soak}{reasons}'
        f'<div>or approve it: <code class="approve">{escape(waiting.approve)}</code></div></dd>'
    )
