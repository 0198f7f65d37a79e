"""`github sync`: make the repository's GitHub settings match the pipeline.

- an environment per Stage (control-flow Stages excepted), with the reviewers, wait timer and deployment branch/tag policy of the
  Settings manifest's `environments.<stage>` (no entry: an unprotected environment);
- a branch ruleset requiring `kargo/gate` (and Settings `requiredChecks`) on every branch promotion pull
  requests target: git-open-pr `targetBranch` values the manifests fix (literals, `ctx.stage`, vars with
  literal values) plus Settings `promotionBranches`;
- a tag ruleset that blocks updating and deleting Freight tags (`refs/tags/<tagPrefix>/**`);
- a branch ruleset that blocks force-pushes to, and deletion of, the ledger branch (a rewound ledger loses
  records; `kargo-actions ledger repair` puts them back, this keeps it from happening).

What the pipeline wants (`Wanted`) is derived by kargo_actions.promotion.github_wanted; `plan` reads and
compares (nothing is written); `apply` writes only what differs, so a second apply finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from typing import Any, Literal

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.github.client import ClientOptions, GitHubClient
from kargo_actions.github.errors import GitHubNotFoundError
from kargo_actions.github.models import (
    BranchPolicy,
    EnvironmentSpec,
    Reviewer,
    RulesetSpec,
)
from kargo_actions.struct import struct

GATE_RULESET = "kargo-actions: promotion gate"
TAGS_RULESET = "kargo-actions: freight tags"
LEDGER_RULESET = "kargo-actions: ledger branch"
# Pacing of the command's client (GitHub's guidance for integrations); tests use an unpaced one.
CLIENT_OPTIONS = ClientOptions()


@struct
class WantedEnvironment:
    """An environment as the settings describe it (reviewers by login or team:<id>, resolved when planned)."""

    name: str
    reviewers: tuple[str, ...] = ()
    wait_timer: int = 0
    prevent_self_review: bool = False
    branch_policy: BranchPolicy | None = None


@struct
class Wanted:
    """What the repository should have, derived from the project alone (no API calls)."""

    environments: tuple[WantedEnvironment, ...]
    rulesets: tuple[RulesetSpec, ...]
    notes: tuple[str, ...] = ()


@struct
class Change:
    """One write the plan needs: create or update an environment or a ruleset, with what differs."""

    kind: Literal["environment", "ruleset"]
    name: str
    action: Literal["create", "update"]
    details: tuple[str, ...] = ()
    environment: EnvironmentSpec | None = field(default=None, compare=False)
    ruleset: RulesetSpec | None = field(default=None, compare=False)
    ruleset_id: int | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "action": self.action, "details": list(self.details)}

    def text(self) -> str:
        sign = "+" if self.action == "create" else "~"
        head = f"{sign} {self.kind} {self.name!r} ({self.action})"
        return "\n".join([head, *(f"    {d}" for d in self.details)])


@struct
class SyncPlan:
    repository: str
    changes: tuple[Change, ...]
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "changes": [c.to_json() for c in self.changes],
            "notes": list(self.notes),
        }

    def text(self) -> str:
        lines = [f"github sync plan for {self.repository}:"]
        lines += [c.text() for c in self.changes] or [
            "  nothing to change: the repository matches the pipeline"
        ]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _resolve_reviewers(client: GitHubClient, names: Sequence[str]) -> tuple[Reviewer, ...]:
    reviewers: list[Reviewer] = []
    unknown: list[Problem] = []
    for name in names:
        team = name.removeprefix("team:") if name.startswith("team:") else None
        if team is not None and team.isdigit():
            reviewers.append(Reviewer("Team", int(team)))
            continue
        try:
            if team is not None:
                org, _, slug = team.partition("/")
                reviewers.append(Reviewer("Team", client.team_id(org, slug)))
            else:
                reviewers.append(Reviewer("User", client.user_id(name)))
        except GitHubNotFoundError:
            what = f"team {team!r}" if team is not None else f"user {name!r}"
            unknown.append(
                Problem(
                    path="spec.environments.reviewers",
                    message=f"GitHub {what} does not exist (or the token cannot see it)",
                    hint="team slugs are the lowercase, hyphenated names in the team's URL" if team else "",
                )
            )
    if unknown:
        raise InvalidInputError(unknown)
    return tuple(reviewers)


def _normal(spec: EnvironmentSpec) -> EnvironmentSpec:
    """The spec as GitHub reports it back: reviewers and patterns unordered, self-review only with reviewers."""
    policy = spec.branch_policy
    if policy is not None:
        policy = BranchPolicy(
            protected_branches=policy.protected_branches,
            patterns=tuple(sorted(set(policy.patterns), key=lambda p: (p.type, p.name))),
        )
    reviewers = tuple(sorted(set(spec.reviewers), key=lambda r: (r.type, r.id)))
    return EnvironmentSpec(
        wait_timer=spec.wait_timer,
        reviewers=reviewers,
        prevent_self_review=spec.prevent_self_review and bool(reviewers),
        branch_policy=policy,
    )


def _policy_text(policy: BranchPolicy | None) -> str:
    if policy is None:
        return "any branch"
    if policy.protected_branches:
        return "protected branches"
    return ", ".join(f"{p.type} {p.name}" for p in policy.patterns) or "no ref"


def _environment_details(old: EnvironmentSpec | None, new: EnvironmentSpec) -> tuple[str, ...]:
    before = old or EnvironmentSpec()
    details: list[str] = []
    if before.wait_timer != new.wait_timer:
        details.append(f"wait timer: {before.wait_timer} -> {new.wait_timer} min")
    if before.reviewers != new.reviewers:
        shown = [", ".join(f"{r.type} {r.id}" for r in s.reviewers) or "none" for s in (before, new)]
        details.append(f"reviewers: {shown[0]} -> {shown[1]}")
    if before.prevent_self_review != new.prevent_self_review:
        details.append(f"prevent self-review: {before.prevent_self_review} -> {new.prevent_self_review}")
    if before.branch_policy != new.branch_policy:
        details.append(
            f"deployment refs: {_policy_text(before.branch_policy)} -> {_policy_text(new.branch_policy)}"
        )
    return tuple(details)


def _ruleset_text(spec: RulesetSpec) -> dict[str, str]:
    blocks = [
        name
        for flag, name in (
            (spec.block_creation, "creation"),
            (spec.block_update, "update"),
            (spec.block_deletion, "deletion"),
            (spec.block_force_push, "force push"),
        )
        if flag
    ]
    return {
        "target": spec.target,
        "enforcement": spec.enforcement,
        "refs": ", ".join(spec.include) or "none",
        "excluded refs": ", ".join(spec.exclude) or "none",
        "required checks": ", ".join(spec.required_checks) or "none",
        "strict checks": str(spec.strict_checks),
        "blocks": ", ".join(blocks) or "nothing",
    }


def _ruleset_details(old: RulesetSpec | None, new: RulesetSpec) -> tuple[str, ...]:
    after = _ruleset_text(new)
    if old is None:
        return tuple(f"{k}: {v}" for k, v in after.items() if v not in ("none", "nothing", "False"))
    before = _ruleset_text(old)
    return tuple(f"{k}: {before[k]} -> {after[k]}" for k in after if before[k] != after[k])


def plan_sync(client: GitHubClient, wanted: Wanted) -> SyncPlan:
    """What must change for the repository to match `wanted`; reads only."""
    changes: list[Change] = []
    for env in wanted.environments:
        spec = _normal(
            EnvironmentSpec(
                wait_timer=env.wait_timer,
                reviewers=_resolve_reviewers(client, env.reviewers),
                prevent_self_review=env.prevent_self_review,
                branch_policy=env.branch_policy,
            )
        )
        current = client.get_environment(env.name)
        if current is None:
            changes.append(
                Change("environment", env.name, "create", _environment_details(None, spec), environment=spec)
            )
        elif _normal(current.spec) != spec:
            details = _environment_details(_normal(current.spec), spec)
            changes.append(Change("environment", env.name, "update", details, environment=spec))
    existing = {r.spec.name: r for r in client.list_rulesets()}
    for ruleset in wanted.rulesets:
        found = existing.get(ruleset.name)
        if found is None:
            changes.append(
                Change("ruleset", ruleset.name, "create", _ruleset_details(None, ruleset), ruleset=ruleset)
            )
        elif found.spec != ruleset:
            changes.append(
                Change(
                    "ruleset",
                    ruleset.name,
                    "update",
                    _ruleset_details(found.spec, ruleset),
                    ruleset=ruleset,
                    ruleset_id=found.id,
                )
            )
    return SyncPlan(client.repository, tuple(changes), wanted.notes)


def apply_sync(client: GitHubClient, plan: SyncPlan) -> tuple[Change, ...]:
    """Write the plan's changes (each is idempotent: environments are PUT, rulesets matched by name)."""
    done: list[Change] = []
    for change in plan.changes:
        if change.kind == "environment" and change.environment is not None:
            client.put_environment(change.name, change.environment)
        elif change.ruleset is not None:
            if change.ruleset_id is None:
                client.create_ruleset(change.ruleset)
            else:
                client.update_ruleset(change.ruleset_id, change.ruleset)
        done.append(change)
    return tuple(done)
