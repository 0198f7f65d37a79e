"""`kargo-actions dashboard`: what the static site shows, read from the manifests and one ledger snapshot
(rendered by dashboard_html.py, written by dashboard_site.py).

Layout of the site (every link relative, so it works from file:// and from a GitHub Pages sub-path):
index.html (graph, Stage cards, newest Freight per Warehouse), stages/<stage>.html (promotion and
verification history), warehouses/<warehouse>[_pN].html (the whole timeline, 500 Freight a page),
freight/<id[:2]>.html (every Freight whose ID starts so, each a section `#<id>`: artifacts, where it
is, soak, its promotions; at most 256 files however long the ledger), assets/ (CSS and JS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

from kargo_actions.errors import Problem
from kargo_actions.ledger import Ledger
from kargo_actions.ledger.records import (
    ApprovedFreight,
    DeferredPromotionRecord,
    PromotionRecord,
    StageStateRecord,
    VerificationRecord,
    VerifiedFreight,
    deferred_path,
)
from kargo_actions.model.freight import Freight
from kargo_actions.model.project import Project
from kargo_actions.model.stage import Stage
from kargo_actions.promotion.freezes import opening
from kargo_actions.promotion.gates import newest_first
from kargo_actions.promotion.pipeline import StageStatus, status_rows
from kargo_actions.promotion.service import settled_states
from kargo_actions.promotion.transitions import describe
from kargo_actions.report.dashboard_links import DeepLink, parse_links
from kargo_actions.report.dashboard_metrics import DashboardMetrics, collect_metrics
from kargo_actions.report.dashboard_waiting import Waiting, waiting_for
from kargo_actions.report.graph import PipelineGraph, build_graph
from kargo_actions.struct import struct

PAGE_SIZE = 500  # Freight per page of a Warehouse's timeline
RECENT = 24  # newest Freight per Warehouse on the index page

FAILED_PHASES = frozenset({"Failed", "Errored", "Aborted"})
RUNNING_PHASES = frozenset({"Pending", "Running"})


@struct
class Placement:
    """Where one Freight is: Stages holding it (since), verified in, approved for."""

    current: tuple[tuple[str, str], ...] = ()
    verified: tuple[tuple[str, VerifiedFreight], ...] = ()
    approved: tuple[tuple[str, ApprovedFreight], ...] = ()


@struct
class Health:
    """A Stage's one-word state, a CSS state class (ok, warn, bad, busy, idle) and why."""

    label: str
    state: str
    reason: str = ""


@struct
class StageView:
    """One Stage as the dashboard shows it."""

    status: StageStatus
    resource: Stage
    state: StageStateRecord
    promotions: tuple[PromotionRecord, ...]  # newest first
    verifications: tuple[VerificationRecord, ...]  # newest first
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    health: Health
    # Promotions in progress, for people: a waiting one (what for, since when, deadline), queued ones, and
    # the command that acts on each.
    activity: tuple[str, ...] = ()
    waiting: Waiting | None = None  # the next Freight and what it lacks, when none newer is available

    @property
    def name(self) -> str:
        return self.status.stage


@struct
class Dashboard:
    """Everything the site shows, read once."""

    title: str
    project: str
    generated_at: datetime
    ledger_commit: str | None
    tag_prefix: str
    graph: PipelineGraph
    stages: tuple[StageView, ...]
    warehouses: tuple[str, ...]
    timelines: Mapping[str, tuple[Freight, ...]]  # warehouse -> Freight shown, newest first
    totals: Mapping[str, int]  # warehouse -> Freight recorded
    places: Mapping[str, Placement]
    promotions_by_freight: Mapping[str, tuple[PromotionRecord, ...]]
    verifications_by_freight: Mapping[str, tuple[VerificationRecord, ...]]
    paged: frozenset[str]  # Freight IDs that have a page
    problems: tuple[Problem, ...] = ()
    freight_links: tuple[DeepLink, ...] = ()  # ProjectConfig spec.freightLinks
    stage_links: tuple[DeepLink, ...] = ()  # ProjectConfig spec.stageLinks
    metrics: DashboardMetrics | None = None  # the Metrics page and the Stage cards' strips

    def freight_count(self) -> int:
        return sum(self.totals.values())

    def promotion_count(self) -> int:
        return sum(len(s.promotions) for s in self.stages)

    def verification_count(self) -> int:
        return sum(len(s.verifications) for s in self.stages)


def _health(
    status: StageStatus,
    verifications: tuple[VerificationRecord, ...],
    active: PromotionRecord | None = None,
    waiting: Waiting | None = None,
) -> Health:
    """Kargo's Stage phase in one word: promoting, waiting, failed, verifying, verified, unverified, empty."""
    if status.control_flow:
        return Health(
            "Control flow", "idle", "no promotion steps: Freight available to it counts as verified"
        )
    if active is not None and active.wait is not None:
        return Health("Waiting", "busy", f"promotion {active.name} is waiting for {active.wait.description}")
    last = status.last_promotion
    if last is not None and last.phase in RUNNING_PHASES:
        return Health("Promoting", "busy", f"promotion {last.name} is {last.phase}")
    if last is not None and last.phase in FAILED_PHASES:
        return Health("Failed", "bad", f"last promotion {last.name} {last.phase}")
    if not status.current:
        if waiting is not None:
            return Health(waiting.label, "idle", waiting.summary)
        return Health("No Freight", "idle", "nothing promoted yet")
    held = {f.name for f in status.current}
    latest = next((v for v in verifications if v.freight.name in held), None)
    if latest is not None and latest.phase in ("Pending", "Running"):
        return Health("Verifying", "busy", f"verification {latest.id} is {latest.phase}")
    if status.verified:
        return Health("Verified", "ok", "the current Freight is verified here")
    if latest is not None and latest.phase in ("Failed", "Error", "Inconclusive", "Aborted"):
        return Health("Verification failed", "bad", f"verification {latest.id}: {latest.phase}")
    return Health("Unverified", "warn", "the current Freight is not verified here yet")


def _placements(states: Mapping[str, StageStateRecord], order: list[str]) -> dict[str, Placement]:
    """Freight ID -> where it is, in one pass over the Stage states (not one per Freight)."""
    current: dict[str, list[tuple[str, str]]] = {}
    verified: dict[str, list[tuple[str, VerifiedFreight]]] = {}
    approved: dict[str, list[tuple[str, ApprovedFreight]]] = {}
    for stage in order:
        state = states.get(stage)
        if state is None:
            continue
        for cur in state.current_freight:
            current.setdefault(cur.name, []).append((stage, cur.since))
        for fid, ver in state.verified.items():
            verified.setdefault(fid, []).append((stage, ver))
        for fid, app in state.approved.items():
            approved.setdefault(fid, []).append((stage, app))
    ids = set(current) | set(verified) | set(approved)
    return {
        fid: Placement(
            tuple(current.get(fid, ())), tuple(verified.get(fid, ())), tuple(approved.get(fid, ()))
        )
        for fid in ids
    }


def collect(
    project: Project,
    ledger: Ledger,
    *,
    title: str | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> Dashboard:
    """Read everything the site shows from one ledger snapshot; `limit` keeps the newest N Freight per
    Warehouse (plus every Freight a Stage holds)."""
    moment = now or datetime.now(UTC)
    spec = project.config.spec if project.config else None
    freight_links = parse_links(spec.freight_links, "freightLinks") if spec else ()
    stage_links = parse_links(spec.stage_links, "stageLinks") if spec else ()
    snap = ledger.snapshot()
    _, states, freight = settled_states(project, snap, moment)
    order = project.stage_order()
    rows = status_rows(project, states, freight, moment)
    freight = newest_first(freight)  # once: sorting 10,000 Freight for each Stage's card took 0.05 s a Stage
    problems: list[Problem] = []
    promotions_by_freight: dict[str, list[PromotionRecord]] = {}
    verifications_by_freight: dict[str, list[VerificationRecord]] = {}
    views: list[StageView] = []
    for row in rows:
        history = ledger.stage_history(row.stage, snap)
        runs = snap.load_dir(VerificationRecord, f"verifications/{row.stage}")
        problems += history.problems + runs.problems
        promotions = tuple(reversed(history.records))
        verifications = tuple(sorted(runs.records, key=lambda v: (v.started_at, v.id), reverse=True))
        for p in promotions:
            promotions_by_freight.setdefault(p.freight.name, []).append(p)
        in_progress = [p for p in reversed(promotions) if p.phase in RUNNING_PHASES]
        active = next((p for p in in_progress if p.phase == "Running"), None)
        for v in verifications:
            verifications_by_freight.setdefault(v.freight.name, []).append(v)
        waiting = waiting_for(project.stages[row.stage], row, states, freight, moment)
        row = replace(
            row,
            opening=opening(project, snap, row.stage, moment),
            deferred=snap.load(DeferredPromotionRecord, deferred_path(row.stage)),
        )
        views.append(
            StageView(
                status=row,
                resource=project.stages[row.stage],
                state=states.get(row.stage) or StageStateRecord(stage=row.stage),
                promotions=promotions,
                verifications=verifications,
                upstream=tuple(project.upstream(row.stage)),
                downstream=tuple(project.downstream(row.stage)),
                health=_health(row, verifications, active, waiting),
                activity=tuple(f"{p.name}: {describe(p, moment)}" for p in in_progress),
                waiting=waiting,
            )
        )
    by_warehouse: dict[str, list[Freight]] = {w: [] for w in sorted(project.warehouses)}
    for f in freight:
        by_warehouse.setdefault(f.origin.name, []).append(f)
    held = {c.name for s in states.values() for c in s.current_freight}
    timelines: dict[str, tuple[Freight, ...]] = {}
    for wh, items in by_warehouse.items():
        if limit is None or len(items) <= limit:
            timelines[wh] = tuple(items)
        else:
            timelines[wh] = tuple(f for i, f in enumerate(items) if i < limit or f.name in held)
    for key in promotions_by_freight:
        promotions_by_freight[key].sort(key=lambda p: (p.created_at, p.name), reverse=True)
    return Dashboard(
        title=title or f"{project.name} pipeline",
        project=project.name,
        generated_at=moment,
        ledger_commit=snap.commit,
        tag_prefix=ledger.config.tag_prefix,
        graph=build_graph(project),
        stages=tuple(views),
        warehouses=tuple(by_warehouse),
        timelines=timelines,
        totals={wh: len(items) for wh, items in by_warehouse.items()},
        places=_placements(states, order),
        promotions_by_freight={k: tuple(v) for k, v in promotions_by_freight.items()},
        verifications_by_freight={k: tuple(v) for k, v in verifications_by_freight.items()},
        paged=frozenset(f.name for items in timelines.values() for f in items),
        problems=tuple(problems),
        freight_links=freight_links,
        stage_links=stage_links,
        metrics=collect_metrics(project, snap, moment),
    )


def freight_context(dash: Dashboard, freight: Freight) -> dict[str, object]:
    """What a freightLinks entry sees: `freight`, the Freight resource as Kargo serialises it (namespace =
    project, status from the Stages)."""
    wire = freight.wire()
    wire["metadata"].setdefault("namespace", dash.project)
    place = dash.places.get(freight.name) or Placement()
    status: dict[str, object] = {}  # Kargo always serialises status, {} when the Freight is nowhere
    if place.current:
        status["currentlyIn"] = {stage: {"since": since} for stage, since in place.current}
    if place.verified:
        status["verifiedIn"] = {stage: v.wire() for stage, v in place.verified}
    if place.approved:
        status["approvedFor"] = {stage: {"approvedAt": a.approved_at} for stage, a in place.approved}
    wire["status"] = status
    return {"freight": wire}


def stage_context(dash: Dashboard, stage: StageView) -> dict[str, object]:
    """What a stageLinks entry sees: `stage`, the Stage manifest (namespace = project; no status, which is
    Kargo's controller's and lives in the ledger here)."""
    wire = stage.resource.wire()
    wire["metadata"].setdefault("namespace", dash.project)
    return {"stage": wire}
