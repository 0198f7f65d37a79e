"""Deployment environments and repository rulesets: the gates `github sync` keeps as the pipeline says."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from kargo_actions.github.api.transport import GitHubTransport
from kargo_actions.github.errors import GitHubNotFoundError
from kargo_actions.github.models import BranchPattern, Environment, EnvironmentSpec, Ruleset, RulesetSpec
from kargo_actions.github.permissions import Op
from kargo_actions.github.wire import environment_from, pattern_from


class EnvironmentsAPI(GitHubTransport):
    """Environments (reviewers, wait timer, branch policies) and repository rulesets, written idempotently."""

    def get_environment(self, name: str) -> Environment | None:
        try:
            data = self._request(
                Op.READ_ENVIRONMENTS, "GET", f"{self._path}/environments/{quote(name, safe='')}"
            )
        except GitHubNotFoundError:
            return None
        patterns: tuple[BranchPattern, ...] = ()
        policy = data.get("deployment_branch_policy")
        if policy and policy.get("custom_branch_policies"):
            patterns = tuple(pattern_from(p) for p in self._branch_policies(name))
        return environment_from(data, patterns)

    def _branch_policies(self, name: str) -> list[dict[str, Any]]:
        url = f"{self._path}/environments/{quote(name, safe='')}/deployment-branch-policies"
        return self._paged(Op.READ_ENVIRONMENTS, url, key="branch_policies")

    def put_environment(self, name: str, spec: EnvironmentSpec) -> Environment:
        """Create or update the environment to match spec, custom branch policies included (idempotent)."""
        url = f"{self._path}/environments/{quote(name, safe='')}"
        body: dict[str, Any] = {
            "wait_timer": spec.wait_timer,
            "prevent_self_review": spec.prevent_self_review,
            "reviewers": [{"type": r.type, "id": r.id} for r in spec.reviewers],
            "deployment_branch_policy": None,
        }
        if spec.branch_policy is not None:
            body["deployment_branch_policy"] = {
                "protected_branches": spec.branch_policy.protected_branches,
                "custom_branch_policies": not spec.branch_policy.protected_branches,
            }
        self._request(Op.WRITE_ENVIRONMENTS, "PUT", url, body=body)
        if spec.branch_policy is not None and not spec.branch_policy.protected_branches:
            existing = {
                (p["name"], p.get("type", "branch")): int(p["id"]) for p in self._branch_policies(name)
            }
            wanted = {(p.name, p.type) for p in spec.branch_policy.patterns}
            for key, policy_id in existing.items():
                if key not in wanted:
                    self._request(
                        Op.WRITE_ENVIRONMENTS, "DELETE", f"{url}/deployment-branch-policies/{policy_id}"
                    )
            for pattern in spec.branch_policy.patterns:
                if (pattern.name, pattern.type) not in existing:
                    self._request(
                        Op.WRITE_ENVIRONMENTS,
                        "POST",
                        f"{url}/deployment-branch-policies",
                        body={"name": pattern.name, "type": pattern.type},
                    )
        env = self.get_environment(name)
        assert env is not None, "an environment just written must exist"
        return env

    def list_rulesets(self) -> tuple[Ruleset, ...]:
        """Every ruleset of the repository, with its rules (the list endpoint omits them)."""
        items = self._paged(Op.READ_RULESETS, f"{self._path}/rulesets")
        return tuple(self.get_ruleset(int(item["id"])) for item in items)

    def get_ruleset(self, ruleset_id: int) -> Ruleset:
        data = self._request(Op.READ_RULESETS, "GET", f"{self._path}/rulesets/{ruleset_id}")
        return Ruleset(int(data["id"]), RulesetSpec.from_api(data))

    def create_ruleset(self, spec: RulesetSpec) -> Ruleset:
        data = self._request(Op.WRITE_RULESETS, "POST", f"{self._path}/rulesets", body=spec.to_api())
        return Ruleset(int(data["id"]), RulesetSpec.from_api(data))

    def update_ruleset(self, ruleset_id: int, spec: RulesetSpec) -> Ruleset:
        data = self._request(
            Op.WRITE_RULESETS, "PUT", f"{self._path}/rulesets/{ruleset_id}", body=spec.to_api()
        )
        return Ruleset(int(data["id"]), RulesetSpec.from_api(data))

    def apply_ruleset(self, spec: RulesetSpec) -> tuple[Ruleset, bool]:
        """Create or update the ruleset named spec.name; (ruleset, changed). Nothing is written when it matches."""
        for ruleset in self.list_rulesets():
            if ruleset.spec.name == spec.name:
                if ruleset.spec == spec:
                    return ruleset, False
                return self.update_ruleset(ruleset.id, spec), True
        return self.create_ruleset(spec), True
