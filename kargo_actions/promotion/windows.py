"""Promotion windows: whether a Stage's schedule is open at a moment, which window closes it, and until when.

Kargo Enterprise's rule: a schedule is open when no matching Deny window is active and, if any Allow
window matches the Stage, at least one of them is active. Pure functions of the manifests and `now`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from kargo_actions.model.project import Project
from kargo_actions.model.windows import PromotionWindow, parse_ical_time
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from dateutil.rrule import rrule

# How far ahead the next change is looked for, and how many boundaries at most (a year of hourly windows).
HORIZON = timedelta(days=400)
MAX_STEPS = 10_000


@struct
class _Window:
    """A window parsed once: its first occurrence, each occurrence's length, its recurrence."""

    spec: PromotionWindow
    start: datetime
    end: datetime  # of the first occurrence
    length: timedelta  # of each occurrence, wall-clock in dtstart's zone (09:00-17:00 stays so across DST)
    zone: str
    rule: rrule | None

    @classmethod
    def of(cls, window: PromotionWindow) -> _Window:
        start = window.start
        assert window.dtend is not None
        end = parse_ical_time(window.dtend).moment
        return cls(window, start.moment, end, window.length, start.zone, window.recurrence())

    def occurrence(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence active at `at` (start <= at < end), or None."""
        if self.rule is None:
            return (self.start, self.end) if self.start <= at < self.end else None
        begin = self.rule.before(at.astimezone(self.start.tzinfo), inc=True)
        if begin is None:
            return None
        end = begin + self.length  # aware + timedelta is wall-clock arithmetic in the zone
        return (begin, end) if begin <= at < end else None

    def next_start(self, after: datetime) -> datetime | None:
        if self.rule is None:
            return self.start if self.start > after else None
        found = self.rule.after(after.astimezone(self.start.tzinfo), inc=False)
        return found if isinstance(found, datetime) else None


@struct
class Schedule:
    """A Stage's schedule at one moment: open or closed, by which windows, and when that changes next."""

    stage: str
    open: bool
    windows: tuple[str, ...] = ()  # the names of every window that matches the Stage
    closed_by: tuple[str, ...] = ()  # the active Deny windows, or the inactive Allow windows
    kind: str = ""  # Deny or Allow: why it is closed
    next_change: datetime | None = None
    zone: str = "UTC"  # the zone of the window whose boundary is the next change

    @property
    def next_change_text(self) -> str:
        return show_time(self.next_change, self.zone) if self.next_change is not None else ""

    @property
    def message(self) -> str:
        """`prod is closed by window 'weekend-freeze' until Mon 2026-12-07 09:00 Europe/Berlin`."""
        if self.open:
            if not self.windows:
                return f"{self.stage} is open (no promotion window matches it)"
            until = f" until {self.next_change_text}" if self.next_change else ""
            return f"{self.stage} is open{until}"
        names = ", ".join(f"'{n}'" for n in self.closed_by)
        plural = "s" if len(self.closed_by) > 1 else ""
        how = f"by window{plural} {names}" if self.kind == "Deny" else f"outside Allow window{plural} {names}"
        when = f"until {self.next_change_text}" if self.next_change else "and no window opens it again"
        return f"{self.stage} is closed {how} {when}"

    @property
    def short(self) -> str:
        """For a status column: `open`, `open until Fri 18:00`, `closed until Mon 2026-12-07 09:00 Europe/Berlin`."""
        if not self.windows:
            return "open"
        state = "open" if self.open else "closed"
        return f"{state} until {self.next_change_text}" if self.next_change else state

    def to_json(self) -> dict[str, object]:
        return {
            "open": self.open,
            "windows": list(self.windows),
            "closedBy": list(self.closed_by),
            "kind": self.kind or None,
            "nextChange": self.next_change.isoformat() if self.next_change else None,
            "nextChangeText": self.next_change_text or None,
            "message": self.message,
        }


def show_time(moment: datetime, zone: str) -> str:
    """`Mon 2026-12-07 09:00 Europe/Berlin`: the moment in the window's own zone."""
    from zoneinfo import ZoneInfo

    local = moment.astimezone(ZoneInfo(zone) if zone != "UTC" else UTC)
    return f"{local:%a %Y-%m-%d %H:%M} {zone}"


def matching_windows(project: Project, stage: str) -> list[PromotionWindow]:
    """The project's windows whose stageSelector matches the Stage (no selector: every Stage)."""
    target = project.stages[stage]
    return [
        w for w in project.promotion_windows() if w.stage_selector is None or w.stage_selector.matches(target)
    ]


def _state(windows: Sequence[_Window], at: datetime) -> tuple[bool, tuple[str, ...], str]:
    """(open, the windows that close it, Deny or Allow) at one moment."""
    denies = tuple(w.spec.name for w in windows if w.spec.kind == "Deny" and w.occurrence(at))
    if denies:
        return False, denies, "Deny"
    allows = [w for w in windows if w.spec.kind == "Allow"]
    if allows and not any(w.occurrence(at) for w in allows):
        return False, tuple(w.spec.name for w in allows), "Allow"
    return True, (), ""


def _next_change(windows: Sequence[_Window], now: datetime, is_open: bool) -> tuple[datetime, str] | None:
    """The first boundary after `now` where the schedule flips, with the zone of the window it belongs to."""
    at = now
    for _ in range(MAX_STEPS):
        bounds: list[tuple[datetime, str]] = []
        for w in windows:
            active = w.occurrence(at)
            if active is not None:
                bounds.append((active[1], w.zone))
            upcoming = w.next_start(at)
            if upcoming is not None:
                bounds.append((upcoming, w.zone))
        bounds = [b for b in bounds if b[0] > at]
        if not bounds:
            return None
        at, zone = min(bounds, key=lambda b: b[0])
        if at - now > HORIZON:
            return None
        if _state(windows, at)[0] != is_open:
            return at, zone
    return None


def evaluate(stage: str, windows: Sequence[PromotionWindow], now: datetime) -> Schedule:
    """The schedule made of `windows` (those matching the Stage) at `now` (an aware datetime)."""
    parsed = [_Window.of(w) for w in windows]
    is_open, closed_by, kind = _state(parsed, now)
    change = _next_change(parsed, now, is_open) if parsed else None
    return Schedule(
        stage=stage,
        open=is_open,
        windows=tuple(w.name for w in windows),
        closed_by=closed_by,
        kind=kind,
        next_change=change[0] if change else None,
        zone=change[1] if change else "UTC",
    )


def stage_schedule(project: Project, stage: str, now: datetime) -> Schedule:
    """A Stage's schedule at `now` from the project's ProjectConfig windows."""
    return evaluate(stage, matching_windows(project, stage), now)
