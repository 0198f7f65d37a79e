"""Which Stages auto-promotion should start next, and starting them as promote-workflow runs.

Events made with GITHUB_TOKEN start no workflow, workflow_dispatch excepted: so discovery, each promotion and
each verification end by dispatching the promote workflow for the Stages that auto-promote and have new
Freight to take. The decision is `promote --auto`'s (selection policy, availability, holds) without promoting;
the dispatched job decides again when it runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.ledger import Ledger
from kargo_actions.model.project import Project
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from kargo_actions.github.client import GitHubClient


@struct
class Dispatch:
    """One promote-workflow run to start (or why a Stage gets none)."""

    stage: str
    freight: str = ""
    skipped: str = ""  # non-empty: why no dispatch

    def to_json(self) -> dict[str, str]:
        return {"stage": self.stage, "freight": self.freight, "skipped": self.skipped}


def downstream_stages(project: Project, stage: str) -> list[str]:
    """The Stages with steps fed by `stage`, looking through control-flow Stages (which only pass Freight on),
    in pipeline order."""
    found: list[str] = []
    queue = list(project.downstream(stage))
    seen: set[str] = set()
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        if project.stages[name].is_control_flow:
            queue += project.downstream(name)
        else:
            found.append(name)
    return [s for s in project.stage_order() if s in found]


def _targets(project: Project, after_stage: str | None) -> list[str]:
    """Every Stage with steps after discovery; after a promotion or verification, those fed by the Stage."""
    if after_stage is None:
        return [s for s in project.stage_order() if not project.stages[s].is_control_flow]
    return downstream_stages(project, after_stage)


def plan_dispatches(
    project: Project, ledger: Ledger, after_stage: str | None = None, now: datetime | None = None
) -> list[Dispatch]:
    """For each Stage that auto-promotes, the Freight its selection policy picks when it differs from what
    the Stage holds and no hold stops it (as `promote --auto` decides, without promoting)."""
    from kargo_actions.promotion.pipeline import choose_freight
    from kargo_actions.promotion.service import settled_states

    if after_stage is not None and after_stage not in project.stages:
        raise InvalidInputError([Problem(path="--after-stage", message=f"no Stage {after_stage!r}")])
    moment = now or datetime.now(UTC)
    ledger.sync()
    snap = ledger.snapshot()
    _, states, freight = settled_states(project, snap, moment)
    plan: list[Dispatch] = []
    for name in _targets(project, after_stage):
        stage = project.stages[name]
        if not project.auto_promotion_enabled(name):
            plan.append(
                Dispatch(name, skipped="auto-promotion is not enabled (ProjectConfig promotionPolicies)")
            )
            continue
        state = states.get(name)
        current = {c.name for c in state.current_freight} if state else set()
        for warehouse in stage.warehouses:
            if state is not None and warehouse in state.holds:
                plan.append(Dispatch(name, skipped=f"auto-promotion of {warehouse} is held"))
                continue
            chosen, why = choose_freight(project, name, warehouse, states, freight, moment)
            if chosen is None:
                plan.append(Dispatch(name, skipped=why))
            elif chosen.name in current:
                plan.append(Dispatch(name, chosen.name, skipped="already holds the Freight"))
            else:
                plan.append(Dispatch(name, chosen.name))
    return plan


def dispatch_all(
    plan: Iterable[Dispatch], workflow: str, ref: str, client: GitHubClient
) -> list[tuple[Dispatch, str]]:
    """Dispatch `workflow` on `ref` for every planned Stage; (dispatch, run URL) per started run."""
    started: list[tuple[Dispatch, str]] = []
    for item in plan:
        if item.skipped:
            continue
        # auto: the job decides again as `promote --auto --stage` would (Mode.AUTO, so no hold is set); the
        # freight only names the run
        run = client.dispatch_workflow(
            workflow,
            ref=ref,
            inputs={"stage": item.stage, "freight": item.freight, "auto": "true"},
        )
        started.append((item, run.html_url))
    return started
