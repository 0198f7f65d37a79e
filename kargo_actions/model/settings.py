"""Settings: this project's own manifest kind for what Kargo has no field for.

    apiVersion: kargo-actions/v1alpha1
    kind: Settings
    metadata: {name: settings}
    spec:
      ledgerBranch: kargo/ledger     # branch holding the JSON ledger
      remote: origin                 # git remote for tags and the ledger ("" = local only)
      tagPrefix: kargo/freight       # Freight tags are <tagPrefix>/<warehouse>/<freight id>
      signing: auto                  # never | auto (sign when a key is configured) | required
      cacheDir: null                 # default: KARGO_ACTIONS_CACHE or the user's cache dir
      insecureRegistries: []         # registries reached over plain http
      environments: {}               # per-Stage GitHub environment protection (used by `github sync`)
      requiredChecks: []             # more checks `github sync` requires on promotion PR target branches
      promotionBranches: []          # more branches promotion PRs target (besides those the manifests name)

Every value can also come from a flag or a KARGO_ACTIONS_* variable (flag > env > file > default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kargo_actions.ledger.config import LEDGER_ENV_VARS, is_ref_name
from kargo_actions.manifest_files import SETTINGS_API_VERSION
from kargo_actions.model.base import ManifestModel, ObjectMeta


def _check_ref_part(value: str) -> str:
    if not is_ref_name(value):
        raise ValueError(f"{value!r} is not a valid git ref name")
    return value


_LOGIN = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
# A user login; a team as team:<org>/<team slug> or team:<numeric id>.
_REVIEWER = re.compile(rf"^(team:[1-9][0-9]*|team:{_LOGIN}/[A-Za-z0-9][A-Za-z0-9._-]*|{_LOGIN})$")
_CHECK = re.compile(r"^\S(?:.*\S)?$")


class EnvironmentProtection(ManifestModel):
    """GitHub environment protection for one Stage; applied by `kargo-actions github sync`."""

    # GitHub user logins, or teams as team:<org>/<slug> (or team:<numeric id>); GitHub allows at most 6
    reviewers: list[str] = Field(default_factory=list, max_length=6)
    wait_timer: int = Field(default=0, ge=0, le=43200)  # minutes, GitHub's limit is 30 days
    prevent_self_review: bool = False
    deployment_branches: list[str] = Field(default_factory=list)  # branch name patterns that may deploy
    deployment_tags: list[str] = Field(default_factory=list)  # tag name patterns that may deploy
    protected_branches_only: bool = False  # only protected branches may deploy (excludes the two lists)

    @field_validator("reviewers")
    @classmethod
    def _reviewers(cls, value: list[str]) -> list[str]:
        for reviewer in value:
            if not _REVIEWER.match(reviewer):
                raise ValueError(
                    f"{reviewer!r} is not a GitHub login or a team (team:<org>/<slug>, e.g. "
                    "team:acme/release-managers, or team:<numeric id>)"
                )
        if len(set(value)) != len(value):
            raise ValueError("a reviewer is listed twice")
        return value

    @field_validator("deployment_branches", "deployment_tags")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not pattern or pattern != pattern.strip():
                raise ValueError(f"{pattern!r} is not a ref name pattern")
        return value

    @model_validator(mode="after")
    def _one_policy(self) -> EnvironmentProtection:
        if self.protected_branches_only and (self.deployment_branches or self.deployment_tags):
            raise ValueError("protectedBranchesOnly: true excludes deploymentBranches and deploymentTags")
        return self


class SettingsSpec(ManifestModel):
    ledger_branch: str = "kargo/ledger"
    remote: str = "origin"  # "" keeps the ledger and tags local
    tag_prefix: str = "kargo/freight"
    signing: Literal["never", "auto", "required"] = "auto"
    cache_dir: str | None = None
    insecure_registries: list[str] = Field(default_factory=list)
    environments: dict[str, EnvironmentProtection] = Field(default_factory=dict)
    # `github sync`: checks required on the branches promotion pull requests target, besides kargo/gate
    required_checks: list[str] = Field(default_factory=list)
    # `github sync`: more branches promotion pull requests target (those the manifests name only in expressions)
    promotion_branches: list[str] = Field(default_factory=list)

    @field_validator("required_checks")
    @classmethod
    def _checks(cls, value: list[str]) -> list[str]:
        for check in value:
            if not _CHECK.match(check):
                raise ValueError(f"{check!r} is not a status check name")
        return value

    @field_validator("promotion_branches")
    @classmethod
    def _branches(cls, value: list[str]) -> list[str]:
        return [_check_ref_part(v) for v in value]

    @field_validator("ledger_branch", "tag_prefix")
    @classmethod
    def _ref(cls, value: str) -> str:
        return _check_ref_part(value)


# The environment variable of each setting (the names the commands' flags already read).
ENV_VARS: dict[str, str] = {
    **LEDGER_ENV_VARS,
    "cache_dir": "KARGO_ACTIONS_CACHE",
    "insecure_registries": "KARGO_ACTIONS_INSECURE_REGISTRIES",  # comma-separated hosts
}


class Settings(ManifestModel):
    """kind Settings (apiVersion kargo-actions/v1alpha1); at most one per project, all fields optional."""

    api_version: Literal["kargo-actions/v1alpha1"] = SETTINGS_API_VERSION
    kind: Literal["Settings"] = "Settings"
    metadata: ObjectMeta = Field(default_factory=lambda: ObjectMeta(name="settings"))
    spec: SettingsSpec = Field(default_factory=SettingsSpec)

    def resolved(self, env: Mapping[str, str], **flags: str | list[str] | None) -> SettingsSpec:
        """The settings in force: a flag given (not None) > its KARGO_ACTIONS_* variable > this file > default.

        `flags` take SettingsSpec field names (ledger_branch=..., signing=...); values are checked again.
        """
        unknown = sorted(set(flags) - set(ENV_VARS))
        if unknown:
            raise ValueError(f"no such setting: {', '.join(unknown)}")
        values = self.spec.model_dump()
        for name, var in ENV_VARS.items():
            chosen: object = flags.get(name)
            if chosen is None and var in env:
                raw = env[var]
                chosen = (
                    [h.strip() for h in raw.split(",") if h.strip()] if name == "insecure_registries" else raw
                )
            if chosen is not None:
                values[name] = chosen
        return SettingsSpec.model_validate(values)
