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
      reconcileInterval: 15m         # safety-net schedule of kargo-reconcile.yml (at least 5m)
      promotionLease: 10m            # how long a claim on a running promotion lasts unrenewed (at least 1m)
      githubApp: null                # {appIdVariable, privateKeySecret, owner, repositories}: jobs' App token
      discoveryTimeout: 5m           # the longest one subscription's discovery may take (at least 1s)
      discoveryShardThreshold: 50    # more Warehouses than this: kargo-discover.yml fans out as a matrix
      deployments: auto              # who records a promotion's GitHub Deployment: job | promotion | auto

Every value can also come from a flag or a KARGO_ACTIONS_* variable (flag > env > file > default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kargo_actions.manifest_files import SETTINGS_API_VERSION
from kargo_actions.model.base import ManifestModel, ObjectMeta
from kargo_actions.model.fields import parse_go_duration
from kargo_actions.model.ledger_names import LEDGER_ENV_VARS, is_ref_name


def _check_ref_part(value: str) -> str:
    if not is_ref_name(value):
        raise ValueError(f"{value!r} is not a valid git ref name")
    return value


_LOGIN = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
# A user login; a team as team:<org>/<team slug> or team:<numeric id>.
_REVIEWER = re.compile(rf"^(team:[1-9][0-9]*|team:{_LOGIN}/[A-Za-z0-9][A-Za-z0-9._-]*|{_LOGIN})$")
_CHECK = re.compile(r"^\S(?:.*\S)?$")
# GitHub's rule for Actions variable and secret names (GITHUB_ is reserved).
_ACTIONS_NAME = re.compile(r"^(?!GITHUB_)[A-Za-z_][A-Za-z0-9_]*$", re.IGNORECASE)
_REPOSITORY_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def _at_least(value: str, minimum: timedelta, hint: str) -> str:
    """A Go duration no shorter than `minimum`."""
    if parse_go_duration(value) < minimum:
        raise ValueError(f"{value!r} is shorter than {hint}")
    return value


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


class GitHubApp(ManifestModel):
    """The GitHub App whose installation token the generated promote and reconcile jobs use.

    Pushes and pull requests made with the job's GITHUB_TOKEN start no workflows, so required checks
    never report on promotion pull requests; an App token's do.
    """

    app_id_variable: str = "KARGO_APP_ID"  # the Actions variable holding the App's ID (or client ID)
    # the name of the Actions secret holding its private key (PEM), not a secret itself
    private_key_secret: str = "KARGO_APP_PRIVATE_KEY"  # noqa: S105
    owner: str | None = None  # the installation's owner; default: this repository's
    # more repositories of that owner the token reaches (a config repository); default: this one only
    repositories: list[str] = Field(default_factory=list)

    @field_validator("app_id_variable", "private_key_secret")
    @classmethod
    def _actions_name(cls, value: str) -> str:
        if not _ACTIONS_NAME.match(value):
            raise ValueError(
                f"{value!r} is not an Actions variable or secret name (letters, digits and _, not starting "
                "with a digit or GITHUB_)"
            )
        return value

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(_LOGIN, value):
            raise ValueError(f"{value!r} is not a GitHub user or organization login")
        return value

    @field_validator("repositories")
    @classmethod
    def _repositories(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _REPOSITORY_NAME.match(name):
                raise ValueError(f"{name!r} is not a repository name (the name alone, without its owner)")
        return value


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
    # the safety-net schedule of kargo-reconcile.yml (events resume waiting promotions first)
    reconcile_interval: str = "15m"
    # how long a process's claim on a running promotion lasts without renewal
    promotion_lease: str = "10m"
    github_app: GitHubApp | None = None
    # `discover`: the deadline of one subscription (one registry, git remote or chart repository), so a
    # registry that stalls or trickles cannot hold the run for ever; Kargo has no such field
    discovery_timeout: str = "5m"
    # `workflows generate`: with more Warehouses than this, discovery runs as a matrix of Warehouse groups
    discovery_shard_threshold: int = 50
    # `workflows generate`: who makes a promotion's GitHub Deployment. job: the promote job's `environment:`
    # (GitHub Actions, free of the token's rate limit); promotion: the promotion itself (ref: the Freight's
    # tag, payload: the Freight, following a promotion that waits; 3 requests); auto: job unless a promotion
    # can wait (docs/github.md, "Who makes the Deployment"). KARGO_ACTIONS_DEPLOYMENTS overrides it.
    deployments: Literal["auto", "job", "promotion"] = "auto"

    @field_validator("discovery_shard_threshold", mode="before")
    @classmethod
    def _shard_threshold(cls, value: object) -> object:
        # strict: YAML's "50", 2.5 or true must not pass as a count of Warehouses
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{value!r} is not a positive integer (Warehouses per discover job, e.g. 50)")
        return value

    @field_validator("reconcile_interval")
    @classmethod
    def _reconcile_interval(cls, value: str) -> str:
        return _at_least(value, timedelta(minutes=5), "5m, GitHub's shortest schedule (e.g. 15m)")

    @field_validator("promotion_lease")
    @classmethod
    def _promotion_lease(cls, value: str) -> str:
        return _at_least(value, timedelta(minutes=1), "1m (e.g. 10m)")

    @field_validator("discovery_timeout")
    @classmethod
    def _discovery_timeout(cls, value: str) -> str:
        return _at_least(value, timedelta(seconds=1), "1s (e.g. 5m)")

    @property
    def discovery_timeout_duration(self) -> timedelta:
        return parse_go_duration(self.discovery_timeout)

    @property
    def promotion_lease_duration(self) -> timedelta:
        return parse_go_duration(self.promotion_lease)

    @property
    def reconcile_interval_duration(self) -> timedelta:
        return parse_go_duration(self.reconcile_interval)

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
    "discovery_timeout": "KARGO_ACTIONS_DISCOVERY_TIMEOUT",
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
