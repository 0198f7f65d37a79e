"""The four DORA metrics of a pipeline, per Stage and for the pipeline's last Stages, over a time window.

Definitions (docs/metrics.md says the same for people, mapped onto Kargo's concepts):
- deployment frequency: succeeded promotions into the Stage that finished in the window, per day;
- lead time for changes: for each Freight whose first succeeded promotion into the Stage finished in the
  window, that finish minus the Freight's change time (its newest artifact's creation time when discovery
  recorded one, else its discovery time); median and p90 (nearest rank);
- change failure rate: of the promotions into the Stage that finished in the window (Aborted ones left out),
  those that Failed or Errored, whose Freight then failed verification there before the next promotion, or
  that the next promotion rolled back (request.mode "rollback");
- time to restore: from a failed promotion or failed verification in the Stage (the first of a run of
  failures) to the next successful verification there (the next succeeded promotion for a Stage without
  verification); median over the incidents that began in the window and ended by its end.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from datetime import datetime, timedelta

from kargo_actions.report.metrics_facts import ChangeTime, Facts, PromotionFact, VerificationFact
from kargo_actions.struct import struct

FAILED_PROMOTION = frozenset({"Failed", "Errored"})
FAILED_VERIFICATION = frozenset({"Failed", "Error"})
DAY = 86400.0


@struct
class Window:
    """[since, until): every figure counts what finished in it."""

    since: datetime
    until: datetime

    @property
    def days(self) -> float:
        return max((self.until - self.since).total_seconds(), 0.0) / DAY

    def holds(self, moment: datetime) -> bool:
        return self.since <= moment < self.until

    def to_json(self) -> dict[str, object]:
        return {"since": _stamp(self.since), "until": _stamp(self.until), "days": round(self.days, 4)}


@struct
class Figures:
    """The four figures of one Stage (or of the pipeline's last Stages), each with its count."""

    deployments: int
    days: float
    lead_times: tuple[float, ...]  # seconds, sorted
    lead_from_artifact: int
    lead_from_discovery: int
    lead_unknown: int  # first arrivals whose Freight record was not found
    promotions: int  # promotions the failure rate is computed over
    failures: Mapping[str, int]  # cause (promotion, verification, rollback) -> promotions
    restores: tuple[float, ...]  # seconds, sorted
    open_incidents: int  # began in the window, not restored by its end

    @property
    def frequency(self) -> float | None:
        return self.deployments / self.days if self.days > 0 else None

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.promotions if self.promotions else None

    @property
    def lead_median(self) -> float | None:
        return statistics.median(self.lead_times) if self.lead_times else None

    @property
    def lead_p90(self) -> float | None:
        return percentile(self.lead_times, 90)

    @property
    def restore_median(self) -> float | None:
        return statistics.median(self.restores) if self.restores else None

    def to_json(self) -> dict[str, object]:
        return {
            "deploymentFrequency": {
                "value": _round(self.frequency),
                "unit": "promotions/day",
                "count": self.deployments,
            },
            "leadTime": {
                "median": _round(self.lead_median),
                "p90": _round(self.lead_p90),
                "unit": "seconds",
                "count": len(self.lead_times),
                "fromArtifactTime": self.lead_from_artifact,
                "fromDiscoveryTime": self.lead_from_discovery,
                "unknown": self.lead_unknown,
            },
            "changeFailureRate": {
                "value": _round(self.failure_rate),
                "unit": "ratio",
                "count": self.promotions,
                "failed": self.failed,
                "byCause": dict(self.failures),
            },
            "timeToRestore": {
                "median": _round(self.restore_median),
                "unit": "seconds",
                "count": len(self.restores),
                "open": self.open_incidents,
            },
        }


@struct
class StageMetrics:
    stage: str
    figures: Figures

    def to_json(self) -> dict[str, object]:
        return {"stage": self.stage, **self.figures.to_json()}


@struct
class Metrics:
    """The answer of `kargo-actions metrics`."""

    window: Window
    stages: tuple[StageMetrics, ...]
    pipeline_stages: tuple[str, ...]
    pipeline: Figures
    warehouses: tuple[str, ...] = ()
    skipped: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        return {
            "window": self.window.to_json(),
            "warehouses": list(self.warehouses),
            "stages": [s.to_json() for s in self.stages],
            "pipeline": {"stages": list(self.pipeline_stages), **self.pipeline.to_json()},
            "skippedRecords": self.skipped,
        }


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of sorted values (p90 of 10 values is the 9th)."""
    if not values:
        return None
    rank = max(math.ceil(pct / 100 * len(values)), 1)
    return values[rank - 1]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Verifications:
    """A Stage's verification runs by Freight, for "did it fail verification before the next promotion"."""

    def __init__(self, runs: Iterable[VerificationFact]) -> None:
        self.by_freight: dict[str, tuple[list[datetime], list[str]]] = {}
        for run in runs:  # in time order
            times, phases = self.by_freight.setdefault(run.freight, ([], []))
            times.append(run.finished)
            phases.append(run.phase)

    def failed_between(self, freight: str, start: datetime, end: datetime | None) -> bool:
        found = self.by_freight.get(freight)
        if found is None:
            return False
        times, phases = found
        first = bisect.bisect_left(times, start)
        # Inclusive end: records carry whole seconds, so a run may end in the second the next one starts.
        last = len(times) if end is None else bisect.bisect_right(times, end)
        return any(phases[i] in FAILED_VERIFICATION for i in range(first, last))


def _failure_cause(
    promotion: PromotionFact,
    after: PromotionFact | None,
    following: PromotionFact | None,
    runs: _Verifications,
) -> str | None:
    """Why a promotion counts as a failed change, or None. `after`: the next promotion into the Stage;
    `following`: the next one that succeeded or was a rollback (a failed attempt replaces nothing)."""
    if promotion.phase in FAILED_PROMOTION:
        return "promotion"
    if promotion.phase != "Succeeded":
        return None
    if runs.failed_between(promotion.freight, promotion.started, after.started if after else None):
        return "verification"
    if following is not None and following.rollback:
        return "rollback"
    return None


def _restore_events(
    promotions: Sequence[PromotionFact], runs: Sequence[VerificationFact], verifies: bool
) -> list[tuple[datetime, int]]:
    """(time, 0 = failure | 1 = restore) of one Stage, in time order (a failure first on a tie)."""
    events: list[tuple[datetime, int]] = []
    for p in promotions:
        if p.phase in FAILED_PROMOTION:
            events.append((p.finished, 0))
        elif p.phase == "Succeeded" and not verifies:
            events.append((p.finished, 1))
    for v in runs if verifies else ():
        if v.phase in FAILED_VERIFICATION:
            events.append((v.finished, 0))
        elif v.phase == "Successful":
            events.append((v.finished, 1))
    events.sort()
    return events


def _incidents(events: Sequence[tuple[datetime, int]], window: Window) -> tuple[list[float], int]:
    """Durations of the incidents that began in the window and ended by its end; and how many did not end."""
    durations: list[float] = []
    open_count = 0
    began: datetime | None = None
    for moment, kind in events:
        if kind == 0 and began is None:
            began = moment
        elif kind == 1 and began is not None:
            if window.holds(began):
                if moment < window.until:
                    durations.append((moment - began).total_seconds())
                else:
                    open_count += 1
            began = None
    if began is not None and window.holds(began):
        open_count += 1
    return durations, open_count


def figures(
    facts: Facts,
    stages: Sequence[str],
    window: Window,
    *,
    verifying: frozenset[str] = frozenset(),
    warehouses: frozenset[str] = frozenset(),
) -> Figures:
    """The four figures pooled over `stages`; `verifying`: the Stages with verification configured;
    `warehouses`: only promotions of Freight from these (all when empty)."""
    deployments = 0
    leads: list[float] = []
    sources = {"artifact": 0, "discovery": 0, "unknown": 0}
    considered = 0
    failures = {"promotion": 0, "verification": 0, "rollback": 0}
    restores: list[float] = []
    open_incidents = 0
    for stage in stages:
        promotions = [
            p for p in facts.promotions.get(stage, ()) if not warehouses or p.warehouse in warehouses
        ]
        runs = facts.verifications.get(stage, [])
        if warehouses:
            ids = {p.freight for p in promotions}
            runs = [v for v in runs if v.freight in ids]
        checks = _Verifications(runs)
        seen: set[str] = set()
        following: PromotionFact | None = None
        # Backwards, so each promotion knows the next one and the next that replaced the Freight.
        for i in range(len(promotions) - 1, -1, -1):
            p = promotions[i]
            after = promotions[i + 1] if i + 1 < len(promotions) else None
            if window.holds(p.finished) and p.phase != "Aborted":
                considered += 1
                cause = _failure_cause(p, after, following, checks)
                if cause is not None:
                    failures[cause] += 1
            if p.phase == "Succeeded" or p.rollback:
                following = p
        for p in promotions:
            if p.phase != "Succeeded":
                continue
            if window.holds(p.finished):
                deployments += 1
            if p.freight in seen:
                continue
            seen.add(p.freight)
            if not window.holds(p.finished):
                continue
            change: ChangeTime | None = facts.changes.get(p.freight)
            if change is None:
                sources["unknown"] += 1
                continue
            sources[change.source] += 1
            leads.append(max((p.finished - change.at).total_seconds(), 0.0))
        durations, still_open = _incidents(_restore_events(promotions, runs, stage in verifying), window)
        restores += durations
        open_incidents += still_open
    return Figures(
        deployments=deployments,
        days=window.days,
        lead_times=tuple(sorted(leads)),
        lead_from_artifact=sources["artifact"],
        lead_from_discovery=sources["discovery"],
        lead_unknown=sources["unknown"],
        promotions=considered,
        failures=failures,
        restores=tuple(sorted(restores)),
        open_incidents=open_incidents,
    )


def last_stages(stages: Sequence[str], downstream: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The Stages of `stages` from which no other Stage of `stages` takes Freight: where changes end up."""
    chosen = set(stages)
    return tuple(s for s in stages if not any(d in chosen for d in downstream.get(s, ())))


def compute(
    facts: Facts,
    stages: Sequence[str],
    window: Window,
    *,
    downstream: Mapping[str, Sequence[str]],
    verifying: frozenset[str] = frozenset(),
    warehouses: Sequence[str] = (),
) -> Metrics:
    """Per-Stage figures for `stages` (in pipeline order) and the pipeline's figures over its last Stages."""
    only = frozenset(warehouses)
    per_stage = tuple(
        StageMetrics(s, figures(facts, [s], window, verifying=verifying, warehouses=only)) for s in stages
    )
    ends = last_stages(stages, downstream)
    return Metrics(
        window=window,
        stages=per_stage,
        pipeline_stages=ends,
        pipeline=figures(facts, ends, window, verifying=verifying, warehouses=only),
        warehouses=tuple(warehouses),
        skipped=facts.skipped,
    )


@struct
class Week:
    """One week of a Stage's trend (the dashboard's small charts)."""

    start: datetime
    deployments: int
    failure_rate: float | None
    lead_median: float | None


def weekly(
    facts: Facts,
    stage: str,
    until: datetime,
    weeks: int,
    *,
    verifying: frozenset[str] = frozenset(),
) -> list[Week]:
    """The Stage's last `weeks` weeks (Monday 00:00 UTC starts), oldest first; the last is the current one."""
    monday = (until - timedelta(days=until.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    trend: list[Week] = []
    for back in range(weeks - 1, -1, -1):
        start = monday - timedelta(weeks=back)
        found = figures(facts, [stage], Window(start, start + timedelta(weeks=1)), verifying=verifying)
        trend.append(Week(start, found.deployments, found.failure_rate, found.lead_median))
    return trend


def human_duration(seconds: float | None) -> str:
    """3d4h, 2h05m, 7m30s, 12s; "-" for none."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole >= 86400:
        return f"{whole // 86400}d{whole % 86400 // 3600}h"
    if whole >= 3600:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    if whole >= 60:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole}s"
