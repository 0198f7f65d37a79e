"""A Stage's schedule for people: its promotion windows (open or closed, until when), the freezes holding it
and a deferred auto-promotion; a `<dt>/<dd>` pair for the dashboard's Stage card and page, and the job
summary of a promotion a window or a freeze refused."""

from __future__ import annotations

from datetime import datetime
from html import escape

from kargo_actions.ledger.records import DeferredPromotionRecord, deferred_path
from kargo_actions.ledger.store import Snapshot
from kargo_actions.model.project import Project
from kargo_actions.promotion.freezes import StageClosedError, freeze_text, opening
from kargo_actions.promotion.pipeline import StageStatus


def schedule_lines(status: StageStatus) -> list[str]:
    """What people need to know before promoting into the Stage; [] when no window or freeze concerns it."""
    state = status.opening
    if state is None:
        return []
    lines: list[str] = []
    if state.schedule.windows:
        lines.append(state.schedule.message)
    lines += [("every Stage " if f.stage is None else "") + freeze_text(f) for f in state.freezes]
    if status.deferred is not None:
        when = f" until {status.deferred.opens_at}" if status.deferred.opens_at else ""
        lines.append(f"auto-promotion of {status.deferred.freight[:12]} deferred{when}")
    return lines


def schedule_row(status: StageStatus) -> str:
    lines = schedule_lines(status)
    if not lines:
        return ""
    state = "ok" if status.opening is None or status.opening.open else "bad"
    label = "open" if state == "ok" else "closed"
    body = "".join(f"<div>{escape(line)}</div>" for line in lines)
    return f'<dt>Schedule</dt><dd><span class="badge {state}">{label}</span>{body}</dd>'


def closed_markdown(err: StageClosedError) -> str:
    """The job summary of a refused promotion: which window or freeze, and when the Stage opens."""
    opens = f"\n\nIt opens at {err.opens_at:%Y-%m-%d %H:%M} UTC." if err.opens_at is not None else ""
    return f"### kargo-actions: {err.stage} is closed\n\n{err}{opens}\n"


def schedule_markdown(project: Project, snap: Snapshot, now: datetime) -> str:
    """The job summary's schedule table: each Stage a window, a freeze or a deferral concerns ("" for none)."""
    rows: list[str] = []
    for name in project.stage_order():
        if project.stages[name].is_control_flow:
            continue
        state = opening(project, snap, name, now)
        deferred = snap.load(DeferredPromotionRecord, deferred_path(name))
        if not (state.schedule.windows or state.freezes or deferred):
            continue
        lines = schedule_lines(StageStatus(stage=name, control_flow=False, opening=state, deferred=deferred))
        nxt = state.schedule.next_change_text or "-"
        why = "<br>".join(line.replace("|", "\\|") for line in lines)
        rows.append(f"| {name} | {'open' if state.open else 'closed'} | {nxt} | {why} |")
    if not rows:
        return ""
    head = ["### kargo-actions schedule", "", "| Stage | Now | Windows change | Why |", "|---|---|---|---|"]
    return "\n".join([*head, *rows]) + "\n"
