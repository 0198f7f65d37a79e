"""Discover Warehouses as Kargo's Warehouse controller does: every subscription, then Freight by Kargo's rules.

`discover_warehouses(project, ledger)` runs every subscription of the chosen Warehouses (subscriptions.py:
images through one RegistrySession, git with one ls-remote and at most one mirror sync per URL, charts with
one index request per repository, each under its deadline, hosts side by side), keeps each subscription's
result or error, builds one Freight per Warehouse from the newest artifact of every subscription, and
records the whole run in one ledger write.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from kargo_actions.discovery.criteria import criteria_satisfied
from kargo_actions.discovery.subscriptions import (
    Caches,
    Progress,
    Silent,
    SubscriptionRef,
    SubscriptionRun,
    resolved_settings,
    run_subscriptions,
)
from kargo_actions.errors import InvalidInputError, Problem, did_you_mean
from kargo_actions.freight.identity import (
    freight_id,
)
from kargo_actions.ledger.layout import freight_path
from kargo_actions.ledger.records import DiscoveredArtifactsRecord, LedgerRecordError
from kargo_actions.ledger.records import discovered_path as _discovered_path
from kargo_actions.model.freight import Chart, Freight, FreightMetadata, FreightOrigin, GitCommit, Image
from kargo_actions.model.project import Project
from kargo_actions.model.warehouse import Warehouse
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger, Snapshot
    from kargo_actions.ledger.store import DiscoveryRunResult

# What became of a Warehouse's Freight in this run.
Decision = Literal["created", "exists", "manual", "criteria-not-met", "criteria-error", "failed"]


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@struct
class WarehouseRun:
    """One Warehouse's discovery and what became of its Freight."""

    warehouse: Warehouse
    subscriptions: tuple[SubscriptionRun, ...]
    discovered_at: str
    decision: Decision
    message: str
    freight: Freight | None = None  # the Freight the newest artifacts make (recorded when decision=created)

    @property
    def name(self) -> str:
        return self.warehouse.name

    @property
    def failed(self) -> bool:
        return self.decision in ("failed", "criteria-error")

    def errors(self) -> list[str]:
        out = [f"{s.ref.label}: {s.error}" for s in self.subscriptions if s.error is not None]
        if self.decision == "criteria-error":
            out.append(f"{self.name}: {self.message}")
        return out

    def record(self) -> DiscoveredArtifactsRecord | None:
        """The ledger record of what was discovered; None when a subscription failed (nothing half-recorded)."""
        if any(not s.ok for s in self.subscriptions):
            return None
        return DiscoveredArtifactsRecord(
            warehouse=self.name,
            discovered_at=self.discovered_at,
            results=[s.result for s in self.subscriptions if s.result is not None],
        )


@struct
class DiscoveryRun:
    """The outcome of a whole run: per Warehouse, and what the ledger write did."""

    warehouses: tuple[WarehouseRun, ...]
    recorded: DiscoveryRunResult | None = None

    @property
    def failed(self) -> bool:
        return any(w.failed for w in self.warehouses)

    def errors(self) -> list[str]:
        return [e for w in self.warehouses for e in w.errors()]

    def created(self) -> list[Freight]:
        return [w.freight for w in self.warehouses if w.decision == "created" and w.freight is not None]


def select_warehouses(project: Project, names: Sequence[str] | None) -> list[Warehouse]:
    """The named Warehouses (all when none named), in name order; an unknown name is invalid input."""
    if not names:
        return [project.warehouses[n] for n in sorted(project.warehouses)]
    problems = []
    for name in names:
        if name not in project.warehouses:
            known = ", ".join(sorted(project.warehouses)) or "none"
            hint = did_you_mean(name, project.warehouses) or f"Warehouses: {known}"
            problems.append(Problem(path="--warehouse", message=f"no Warehouse {name!r}", hint=hint))
    if problems:
        raise InvalidInputError(problems)
    return [project.warehouses[n] for n in dict.fromkeys(names)]


def previous_results(
    snapshot: Snapshot, warehouses: Sequence[Warehouse]
) -> dict[str, DiscoveredArtifactsRecord]:
    """The discovered record each Warehouse has on the ledger (an unreadable one counts as none)."""
    out = {}
    for warehouse in warehouses:
        try:
            record = snapshot.load(DiscoveredArtifactsRecord, _discovered_path(warehouse.name))
        except LedgerRecordError:
            record = None
        if record is not None:
            out[warehouse.name] = record
    return out


def discover_warehouses(
    project: Project,
    ledger: Ledger,
    names: Sequence[str] | None = None,
    *,
    progress: Progress | None = None,
    env: Mapping[str, str] | None = None,
    record: bool = True,
    timeout: str | None = None,
) -> DiscoveryRun:
    """Discover the named Warehouses (all when none), decide their Freight and record the run in one write.

    `timeout` (--timeout, a Go duration) is each subscription's deadline, over KARGO_ACTIONS_DISCOVERY_TIMEOUT
    and Settings discoveryTimeout.
    """
    env = dict(os.environ if env is None else env)
    warehouses = select_warehouses(project, names)
    resolved_settings(project, env, timeout)  # bad settings stop the run before any git or network work
    # A CI checkout has neither the ledger branch nor the Freight tags: fetch them, or every run would
    # start without the git refs states and re-clone.
    ledger.sync()
    snapshot = ledger.snapshot()
    previous = previous_results(snapshot, warehouses)
    runs = run_subscriptions(
        project, warehouses, previous, progress=progress or Silent(), env=env, timeout=timeout
    )
    discovered_at = utc_now()
    decided = [
        decide(w, tuple(runs[(w.name, i)] for i in range(len(w.subscriptions))), discovered_at, snapshot)
        for w in warehouses
    ]
    if not record:
        return DiscoveryRun(tuple(decided))
    records = [r for w in decided if (r := w.record()) is not None]
    to_create = [w.freight for w in decided if w.decision == "created" and w.freight is not None]
    if not records and not to_create:
        return DiscoveryRun(tuple(decided))
    written = ledger.record_discovery_run(records, to_create)
    recorded = {r.freight.name: r for r in written.freight}
    final = []
    for w in decided:
        result = recorded.get(w.freight.name) if w.freight is not None and w.decision == "created" else None
        if result is None:
            final.append(w)
        elif result.created:
            final.append(
                _replace(
                    w,
                    freight=result.freight,
                    message=f"created Freight {result.freight.name} ({result.freight.alias})",
                )
            )
        else:  # another writer recorded the same Freight first
            final.append(
                _replace(
                    w,
                    decision="exists",
                    freight=result.freight,
                    message=f"Freight {result.freight.name} ({result.freight.alias}) already exists",
                )
            )
    return DiscoveryRun(tuple(final), written)


def _replace(run: WarehouseRun, **changes: Any) -> WarehouseRun:
    from dataclasses import replace

    return replace(run, **changes)


def newest_freight(warehouse: Warehouse, runs: Sequence[SubscriptionRun], discovered_at: str) -> Freight:
    """The Freight of the newest artifact of every subscription (exactly one each), with Kargo's ID."""
    commits: list[GitCommit] = []
    images: list[Image] = []
    charts: list[Chart] = []
    for run in runs:
        result = run.result
        assert result is not None
        name = run.ref.name
        if result.images:
            images.append(result.images[0].model_copy(update={"subscription_name": name}))
        elif result.commits:
            commits.append(result.commits[0].model_copy(update={"subscription_name": name}))
        elif result.charts:
            charts.append(result.charts[0].model_copy(update={"subscription_name": name}))
    origin = FreightOrigin(name=warehouse.name)
    return Freight(
        metadata=FreightMetadata(
            name=freight_id(origin, commits, images, charts), namespace=warehouse.metadata.namespace
        ),
        origin=origin,
        commits=commits,
        images=images,
        charts=charts,
        discovered_at=discovered_at,
    )


def decide(
    warehouse: Warehouse, runs: tuple[SubscriptionRun, ...], discovered_at: str, snapshot: Snapshot
) -> WarehouseRun:
    """What becomes of a Warehouse's Freight: none when a subscription failed, else by policy and criteria."""
    failed = [r for r in runs if not r.ok]
    if failed:
        return WarehouseRun(
            warehouse,
            runs,
            discovered_at,
            "failed",
            f"no Freight: {len(failed)} of {len(runs)} subscription(s) failed; nothing recorded for {warehouse.name}",
        )
    freight = newest_freight(warehouse, runs, discovered_at)
    spec = warehouse.spec
    if spec.freight_creation_policy == "Manual":
        return WarehouseRun(
            warehouse,
            runs,
            discovered_at,
            "manual",
            "freightCreationPolicy Manual: artifacts recorded for `freight assemble`, no Freight created",
            freight,
        )
    expression = (
        (spec.freight_creation_criteria.expression or "").strip() if spec.freight_creation_criteria else ""
    )
    if expression:
        try:
            satisfied = criteria_satisfied(expression, runs)
        except ValueError as err:
            return WarehouseRun(
                warehouse, runs, discovered_at, "criteria-error", f"freightCreationCriteria: {err}", freight
            )
        if not satisfied:
            return WarehouseRun(
                warehouse,
                runs,
                discovered_at,
                "criteria-not-met",
                "freightCreationCriteria not satisfied: no Freight created",
                freight,
            )
    # Kargo's Freight ID includes the Warehouse: one lookup in its folder, not one per Warehouse on the ledger.
    if snapshot.exists(freight_path(warehouse.name, freight.name)):
        return WarehouseRun(
            warehouse, runs, discovered_at, "exists", f"Freight {freight.name} already exists", freight
        )
    return WarehouseRun(warehouse, runs, discovered_at, "created", f"created Freight {freight.name}", freight)


__all__ = [
    "Caches",
    "Decision",
    "DiscoveryRun",
    "Progress",
    "SubscriptionRef",
    "SubscriptionRun",
    "WarehouseRun",
    "decide",
    "discover_warehouses",
    "newest_freight",
    "select_warehouses",
]
