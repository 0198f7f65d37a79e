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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

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
from kargo_actions.expressions import Environment, ExpressionError, Function, compile_expression
from kargo_actions.expressions.errors import EvalFailure
from kargo_actions.expressions.kargo import ChartValue
from kargo_actions.expressions.values import ExprObject
from kargo_actions.freight.identity import (
    freight_id,
    normalize_chart_url,
    normalize_git_url,
    normalize_image_url,
)
from kargo_actions.ledger.layout import freight_path
from kargo_actions.ledger.records import DiscoveredArtifactsRecord, LedgerRecordError
from kargo_actions.ledger.records import discovered_path as _discovered_path
from kargo_actions.model.freight import Chart, Freight, FreightMetadata, FreightOrigin, GitCommit, Image
from kargo_actions.model.project import Project
from kargo_actions.model.warehouse import Warehouse

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger, Snapshot
    from kargo_actions.ledger.store import DiscoveryRunResult

# What became of a Warehouse's Freight in this run.
Decision = Literal["created", "exists", "manual", "criteria-not-met", "criteria-error", "failed"]


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


# ---- the run ----


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


# ---- Freight creation (Kargo's rules) ----


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


# ---- freightCreationCriteria: the functions Kargo gives that expression ----


@dataclass(frozen=True, eq=False)
class DiscoveredImageValue(ExprObject):
    """imageFrom(repoURL) in a creation criteria: the newest discovered image (Kargo's DiscoveredImageReference)."""

    image: Image
    type_name: ClassVar[str] = "DiscoveredImageReference"
    field_names: ClassVar[tuple[str, ...]] = ("Tag", "Digest", "Annotations", "CreatedAt")

    def _field(self, name: str) -> Any:
        if name == "Annotations":
            return dict(self.image.annotations or {})
        if name == "CreatedAt":
            return None  # the ledger keeps no build date per image
        return {"Tag": self.image.tag, "Digest": self.image.digest}[name]

    def to_plain(self) -> Any:
        return {"tag": self.image.tag, "digest": self.image.digest, "annotations": self.image.annotations}


@dataclass(frozen=True, eq=False)
class DiscoveredCommitValue(ExprObject):
    """commitFrom(repoURL) in a creation criteria: the newest discovered commit (Kargo's DiscoveredCommit)."""

    commit: GitCommit
    type_name: ClassVar[str] = "DiscoveredCommit"
    field_names: ClassVar[tuple[str, ...]] = (
        "ID",
        "Branch",
        "Tag",
        "Subject",
        "Author",
        "Committer",
        "CreatorDate",
    )

    def _field(self, name: str) -> Any:
        c = self.commit
        if name == "CreatorDate":
            return None  # the ledger keeps no date per commit
        values = {
            "ID": c.id,
            "Branch": c.branch,
            "Tag": c.tag,
            "Subject": c.message,
            "Author": c.author,
            "Committer": c.committer,
        }
        return values[name] or ""  # Go's zero value for an unset string

    def to_plain(self) -> Any:
        c = self.commit
        return {
            "id": c.id,
            "branch": c.branch,
            "tag": c.tag,
            "subject": c.message,
            "author": c.author,
            "committer": c.committer,
        }


_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def _string_arg(name: str, args: list[Any], what: str) -> str:
    if not isinstance(args[0], str):
        raise EvalFailure(f"{name}(): the {what} must be a string")
    return args[0]


def criteria_environment(runs: Sequence[SubscriptionRun]) -> Environment:
    """imageFrom, commitFrom, chartFrom over the newest discovered artifacts (nil when the repo is not found)."""
    results = [r.result for r in runs if r.result is not None]

    def image_from(_ev: Any, args: list[Any]) -> Any:
        wanted = _image_key(_string_arg("imageFrom", args, "repoURL"))
        for r in results:
            if r.images and _image_key(r.repo_url) == wanted:
                return DiscoveredImageValue(r.images[0])
        return None

    def commit_from(_ev: Any, args: list[Any]) -> Any:
        wanted = normalize_git_url(_string_arg("commitFrom", args, "repoURL"))
        for r in results:
            if r.commits and normalize_git_url(r.repo_url) == wanted:
                return DiscoveredCommitValue(r.commits[0])
        return None

    def chart_from(_ev: Any, args: list[Any]) -> Any:
        wanted = normalize_chart_url(_string_arg("chartFrom", args, "repoURL"))
        chart_name = ""
        if len(args) == 2:
            if not isinstance(args[1], str):
                raise EvalFailure("chartFrom(): the chart name must be a string")
            chart_name = args[1]
        for r in results:
            if not r.charts or normalize_chart_url(r.repo_url) != wanted:
                continue
            newest = r.charts[0]
            if chart_name and newest.name != chart_name:
                continue
            return ChartValue(Chart(repo_url=wanted, name=newest.name, version=newest.version))
        return None

    functions: dict[str, Function] = {
        "imageFrom": Function("imageFrom", image_from, 1, 1, "repoURL"),
        "commitFrom": Function("commitFrom", commit_from, 1, 1, "repoURL"),
        "chartFrom": Function("chartFrom", chart_from, 1, 2, "repoURL[, chartName]"),
    }
    return Environment({}, functions)


def _image_key(url: str) -> str:
    # Kargo compares normalized image references (NormalizeImage: docker.io/library/x is x).
    return normalize_image_url(url)


def criteria_satisfied(expression: str, runs: Sequence[SubscriptionRun]) -> bool:
    """Kargo's freightCreationCriteria: true, false, or a result Go's strconv.ParseBool reads; ValueError else."""
    try:
        value = compile_expression(expression).evaluate(criteria_environment(runs))
    except ExpressionError as err:
        raise ValueError(str(err)) from None
    if isinstance(value, bool):
        return value
    text = "<nil>" if value is None else str(value)
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise ValueError(f"the result {text!r} of {expression!r} is not a boolean")


__all__ = [
    "Caches",
    "Decision",
    "DiscoveryRun",
    "Progress",
    "SubscriptionRef",
    "SubscriptionRun",
    "WarehouseRun",
    "criteria_satisfied",
    "decide",
    "discover_warehouses",
    "newest_freight",
    "select_warehouses",
]
