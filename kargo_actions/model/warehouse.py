"""Warehouse: where Freight comes from. Image, git and chart subscriptions with Kargo's fields and defaults.

Field names, defaults and limits follow Kargo's Warehouse CRD and its subscription JSON Schemas.
Deprecated `allowTags` / `ignoreTags` are accepted and folded into `allowTagsRegexes` /
`ignoreTagsRegexes` (the loader warns); the removed image `semverConstraint` is refused.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from kargo_actions.model.base import KARGO_API_VERSION, ManifestModel, Resource
from kargo_actions.model.fields import (
    KargoDuration,
    PathSelector,
    Regex,
    SemverConstraintText,
    check_regex,
    check_semver_constraint,
)

ImageSelectionStrategy = Literal["Digest", "Lexical", "NewestBuild", "SemVer"]
CommitSelectionStrategy = Literal["NewestFromBranch", "SemVer", "Lexical", "NewestTag"]

# Deprecated subscription fields and what replaces them; the loader warns about each use.
DEPRECATED_FIELDS: dict[str, str] = {"allowTags": "allowTagsRegexes", "ignoreTags": "ignoreTagsRegexes"}

# Patterns of the subscription JSON Schemas; re.ASCII because RE2's \w and \d are ASCII only.
_IMAGE_REPO_RE = re.compile(r"^(\w+([\.-]\w+)*(:[\d]+)?/)?(\w+([\.-]\w+)*)(/\w+([\.-]\w+)*)*$", re.ASCII)
_GIT_REPO_RE = re.compile(
    r"(?:^(ssh|https?)://(?:([\w-]+)(:(.+))?@)?([\w-]+(?:\.[\w-]+)*)(?::(\d{1,5}))?(/.*)$)"
    r"|(?:^([\w-]+)@([\w+]+(?:\.[\w-]+)*):(/?.*))$",
    re.ASCII,
)
_CHART_REPO_RE = re.compile(r"^(((https?)|(oci))://)(([\w\d\.\-]+)(:([\d]+)?)?(/.*)*)$", re.ASCII)
_BRANCH_RE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9._\/-]*[a-zA-Z0-9_-])?$")
_PLATFORM_RE = re.compile(r"^\w+/\w+$", re.ASCII)
_RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _literal_tag_regex(tag: str) -> str:
    """ignoreTags listed literal tags; as a regex each must match the whole tag and nothing else."""
    return "^" + re.escape(tag) + "$"


class _TagFilters(ManifestModel):
    """allow/ignore tag regexes, plus the deprecated fields folded into them after validation."""

    allow_tags: str | None = Field(default=None, exclude=True)
    allow_tags_regexes: list[Regex] = Field(default_factory=list)
    ignore_tags: list[str] | None = Field(default=None, exclude=True)
    ignore_tags_regexes: list[Regex] = Field(default_factory=list)

    @field_validator("allow_tags")
    @classmethod
    def _allow_tags_is_regex(cls, value: str | None) -> str | None:
        return None if value is None else check_regex(value)

    @model_validator(mode="after")
    def _fold_deprecated(self) -> _TagFilters:
        # Frozen model: fold once here so every consumer reads only the *Regexes fields.
        if self.allow_tags:
            object.__setattr__(self, "allow_tags_regexes", [*self.allow_tags_regexes, self.allow_tags])
            self.model_fields_set.add("allow_tags_regexes")
        if self.ignore_tags:
            extra = [_literal_tag_regex(t) for t in self.ignore_tags]
            object.__setattr__(self, "ignore_tags_regexes", [*self.ignore_tags_regexes, *extra])
            self.model_fields_set.add("ignore_tags_regexes")
        object.__setattr__(self, "allow_tags", None)
        object.__setattr__(self, "ignore_tags", None)
        return self

    def tag_allowed(self, tag: str) -> bool:
        """Kargo's rule: a tag must match one allow regex (when any are set) and no ignore regex."""
        from kargo_actions.regex import tag_allowed_by_patterns  # RE2, the engine Kargo matches with

        return tag_allowed_by_patterns(tag, self.allow_tags_regexes, self.ignore_tags_regexes)


class ImageSubscription(_TagFilters):
    """A container image repository to watch."""

    repo_url: str = Field(alias="repoURL")
    image_selection_strategy: ImageSelectionStrategy = "SemVer"
    strict_semvers: bool = True
    constraint: str | None = Field(default=None, validate_default=True)
    platform: str | None = None
    insecure_skip_tls_verify: bool = Field(default=False, alias="insecureSkipTLSVerify")
    discovery_limit: int = Field(default=20, ge=1, le=100)
    cache_by_tag: bool = False
    semver_constraint: str | None = Field(default=None, exclude=True)

    @field_validator("repo_url")
    @classmethod
    def _repo_url(cls, value: str) -> str:
        if not _IMAGE_REPO_RE.match(value):
            raise ValueError(
                f"{value!r} is not an image repository: give host/path without scheme, tag or digest,"
                " like ghcr.io/org/app"
            )
        return value

    @field_validator("constraint")
    @classmethod
    def _constraint(cls, value: str | None, info: ValidationInfo) -> str | None:
        strategy = info.data.get("image_selection_strategy", "SemVer")
        if strategy == "SemVer" and value:
            check_semver_constraint(value)
        if strategy == "Digest" and not value:
            raise ValueError("the Digest strategy needs constraint: the mutable tag to follow, like latest")
        return value

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str | None) -> str | None:
        if value is not None and not _PLATFORM_RE.match(value):
            raise ValueError(f"platform {value!r} must be os/arch, like linux/amd64")
        return value

    @field_validator("semver_constraint")
    @classmethod
    def _removed(cls, value: str | None) -> None:
        if value is not None:
            raise ValueError("semverConstraint was removed from image subscriptions: use constraint instead")
        return None


class GitSubscription(_TagFilters):
    """A git repository to watch: a branch's newest commit or the newest matching tag."""

    repo_url: str = Field(alias="repoURL")
    commit_selection_strategy: CommitSelectionStrategy = "NewestFromBranch"
    branch: str | None = Field(default=None, min_length=1, max_length=255)
    strict_semvers: bool = True
    semver_constraint: SemverConstraintText | None = None
    expression_filter: str | None = None
    insecure_skip_tls_verify: bool = Field(default=False, alias="insecureSkipTLSVerify")
    blobless: bool = False
    include_paths: list[PathSelector] = Field(default_factory=list)
    exclude_paths: list[PathSelector] = Field(default_factory=list)
    discovery_limit: int = Field(default=20, ge=1, le=100)
    since: str | None = None

    @field_validator("repo_url")
    @classmethod
    def _repo_url(cls, value: str) -> str:
        if not _GIT_REPO_RE.match(value):
            raise ValueError(
                f"{value!r} is not a git repository URL: use https://host/path (or ssh://, git@host:path)"
            )
        return value

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str | None) -> str | None:
        if value is not None and not _BRANCH_RE.match(value):
            raise ValueError(f"branch {value!r} is not a valid branch name")
        return value

    @field_validator("since")
    @classmethod
    def _since(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = f"since {value!r} is not an RFC 3339 date-time like 2024-01-31T00:00:00Z"
        if not _RFC3339_RE.match(value):
            raise ValueError(problem)
        try:
            datetime.fromisoformat(value.upper())
        except ValueError as err:
            raise ValueError(problem) from err
        return value


class ChartSubscription(ManifestModel):
    """A Helm chart: by name in an https chart repository, or an oci:// repository that is the chart."""

    repo_url: str = Field(alias="repoURL")
    name: str | None = Field(default=None, validate_default=True)
    semver_constraint: SemverConstraintText | None = None
    discovery_limit: int = Field(default=20, ge=1, le=100)
    insecure_skip_tls_verify: bool = Field(default=False, alias="insecureSkipTLSVerify")

    @field_validator("repo_url")
    @classmethod
    def _repo_url(cls, value: str) -> str:
        if not _CHART_REPO_RE.match(value):
            raise ValueError(
                f"{value!r} is not a chart repository URL: use https://host/path or oci://host/path"
            )
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None, info: ValidationInfo) -> str | None:
        repo = str(info.data.get("repo_url", ""))
        if repo.startswith("oci://") and value:
            raise ValueError("name must be empty for an oci:// repository: the URL names the chart")
        if repo.startswith(("http://", "https://")) and not value:
            raise ValueError("name is required for an https chart repository")
        return value

    @property
    def is_oci(self) -> bool:
        return self.repo_url.startswith("oci://")


class RepoSubscription(ManifestModel):
    """One subscription: exactly one of image, git or chart, and an optional name."""

    name: str | None = Field(default=None, min_length=1)
    image: ImageSubscription | None = None
    git: GitSubscription | None = None
    chart: ChartSubscription | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RepoSubscription:
        kinds = [k for k in ("image", "git", "chart") if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = " and ".join(kinds) if kinds else "none"
            raise ValueError(f"a subscription needs exactly one of image, git or chart (found {found})")
        return self

    @property
    def kind(self) -> Literal["image", "git", "chart"]:
        if self.image is not None:
            return "image"
        return "git" if self.git is not None else "chart"

    @property
    def source(self) -> ImageSubscription | GitSubscription | ChartSubscription:
        found = self.image or self.git or self.chart
        assert found is not None
        return found

    @property
    def repo_url(self) -> str:
        return self.source.repo_url


class FreightCreationCriteria(ManifestModel):
    expression: str | None = None


class WarehouseSpec(ManifestModel):
    interval: KargoDuration = "5m0s"
    freight_creation_policy: Literal["Automatic", "Manual"] = "Automatic"
    freight_creation_criteria: FreightCreationCriteria | None = None
    shard: str | None = None
    subscriptions: list[RepoSubscription] = Field(min_length=1)

    @field_validator("subscriptions")
    @classmethod
    def _unique(cls, subs: list[RepoSubscription]) -> list[RepoSubscription]:
        seen: dict[tuple[str, str], int] = {}
        names: dict[str, int] = {}
        for i, sub in enumerate(subs):
            key = (sub.kind, sub.repo_url + ("/" + (sub.chart.name or "") if sub.chart else ""))
            if key in seen:
                raise ValueError(
                    f"subscriptions[{seen[key]}] and subscriptions[{i}] both watch {sub.kind} {sub.repo_url}: keep one"
                )
            seen[key] = i
            if sub.name is not None:
                if sub.name in names:
                    raise ValueError(
                        f"subscriptions[{names[sub.name]}] and subscriptions[{i}] are both named {sub.name!r}"
                    )
                names[sub.name] = i
        return subs


class Warehouse(Resource):
    """A Kargo Warehouse (apiVersion kargo.akuity.io/v1alpha1, kind Warehouse)."""

    api_version: Literal["kargo.akuity.io/v1alpha1"] = KARGO_API_VERSION
    kind: Literal["Warehouse"] = "Warehouse"
    spec: WarehouseSpec
    status: dict[str, Any] | None = Field(default=None, exclude=True)

    @property
    def subscriptions(self) -> list[RepoSubscription]:
        return self.spec.subscriptions
