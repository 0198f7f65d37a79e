"""What the pipeline wants of GitHub (`github sync`): an environment per Stage with the Settings' protection,
and the rulesets of the promotion gate (on the branches promotion pull requests target), the Freight tags and
the ledger branch. Derived from the Stages and their promotion steps; github/sync.py compares it with what
GitHub holds and applies the difference.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kargo_actions.errors import InvalidInputError
from kargo_actions.expressions import ExpressionError, KargoEnvironment, render_template
from kargo_actions.github.models import GATE_CONTEXT, BranchPattern, BranchPolicy, RulesetSpec
from kargo_actions.github.sync import GATE_RULESET, LEDGER_RULESET, TAGS_RULESET, Wanted, WantedEnvironment
from kargo_actions.model.project import Project
from kargo_actions.model.settings import EnvironmentProtection
from kargo_actions.promotion.tasks import plan_promotion

OPEN_PR_STEPS = frozenset({"git-open-pr"})


def wanted_state(project: Project, env: Mapping[str, str] | None = None) -> Wanted:
    """Environments and rulesets the project asks for; notes say what could not be derived."""
    settings = project.settings.resolved(os.environ if env is None else env)
    # control-flow Stages run no promotion job, so they get no environment (the promote workflow skips them too)
    promotable = [s for s in project.stage_order() if not project.stages[s].is_control_flow]
    environments = tuple(_wanted_environment(stage, settings.environments.get(stage)) for stage in promotable)
    branches, notes = promotion_target_branches(project)
    notes += [
        f"Stage {stage} is a control-flow Stage (no promotion steps): its environment settings are not applied"
        for stage in settings.environments
        if stage in project.stages and project.stages[stage].is_control_flow
    ]
    for extra in settings.promotion_branches:
        if extra not in branches:
            branches.append(extra)
    rulesets: list[RulesetSpec] = []
    if branches:
        checks = [GATE_CONTEXT, *(c for c in settings.required_checks if c != GATE_CONTEXT)]
        rulesets.append(
            RulesetSpec(
                name=GATE_RULESET,
                target="branch",
                include=tuple(f"refs/heads/{b}" for b in sorted(branches)),
                required_checks=tuple(checks),
            )
        )
    else:
        notes.append(
            "no branch that promotion pull requests target was found (no git-open-pr step with a fixed "
            "targetBranch): no ruleset requires kargo/gate; name branches in Settings spec.promotionBranches"
        )
    rulesets.append(
        RulesetSpec(
            name=TAGS_RULESET,
            target="tag",
            include=(f"refs/tags/{settings.tag_prefix}/**",),
            block_update=True,
            block_deletion=True,
        )
    )
    rulesets.append(
        RulesetSpec(
            name=LEDGER_RULESET,
            target="branch",
            include=(f"refs/heads/{settings.ledger_branch}",),
            block_deletion=True,
            block_force_push=True,
        )
    )
    return Wanted(environments, tuple(rulesets), tuple(notes))


def _wanted_environment(stage: str, protection: EnvironmentProtection | None) -> WantedEnvironment:
    if protection is None:
        return WantedEnvironment(stage)
    policy: BranchPolicy | None = None
    if protection.protected_branches_only:
        policy = BranchPolicy(protected_branches=True)
    elif protection.deployment_branches or protection.deployment_tags:
        patterns = [BranchPattern(p, "branch") for p in protection.deployment_branches]
        patterns += [BranchPattern(p, "tag") for p in protection.deployment_tags]
        policy = BranchPolicy(patterns=tuple(patterns))
    return WantedEnvironment(
        stage,
        tuple(protection.reviewers),
        protection.wait_timer,
        protection.prevent_self_review,
        policy,
    )


def promotion_target_branches(project: Project) -> tuple[list[str], list[str]]:
    """(branches git-open-pr steps target, notes): a targetBranch is used when it is a literal or its
    expressions need only ctx.stage/ctx.project and vars with fixed values; a step whose `if` is false with
    those values is left out (kargo-simple opens pull requests only when vars.openpr is 'true')."""
    branches: list[str] = []
    notes: list[str] = []
    for stage_name in project.stage_order():
        stage = project.stages[stage_name]
        try:
            plan = plan_promotion(project, stage)
        except InvalidInputError as err:
            notes.append(f"Stage {stage_name}: its promotion steps cannot be expanded: {err}")
            continue
        for step in plan.steps:
            if step.uses not in OPEN_PR_STEPS:
                continue
            variables: dict[str, Any] = {}
            for var in (*plan.vars, *step.vars):
                base = KargoEnvironment(project=project.name, stage=stage_name, vars=dict(variables))
                try:
                    variables[var.name] = render_template(var.value or "", base.build())
                except ExpressionError:
                    variables.pop(var.name, None)  # not fixed: any use of it is not fixed either
            environment = KargoEnvironment(project=project.name, stage=stage_name, vars=variables).build()
            if step.if_:
                try:
                    runs = render_template(step.if_, environment)
                except ExpressionError:
                    runs = True  # decided at run time: protect the branch in case it runs
                if runs is False:
                    continue
            target = (step.config or {}).get("targetBranch")
            try:
                value = render_template(target, environment) if isinstance(target, str) else None
            except ExpressionError:
                value = None
            if isinstance(value, str) and value:
                if value not in branches:
                    branches.append(value)
            else:
                notes.append(
                    f"Stage {stage_name}: step {step.alias!r} ({step.uses}) targets {target!r}, which is not "
                    "fixed before the promotion runs; list the branch in Settings spec.promotionBranches"
                )
    return branches, notes
