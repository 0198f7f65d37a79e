"""Kargo's expression environment: ctx, vars, outputs, task.outputs and Kargo's functions."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from ruamel.yaml import YAML

from kargo_actions.expressions.environment import Environment
from kargo_actions.expressions.errors import EvalFailure
from kargo_actions.expressions.runtime import DEFAULT_LIMITS, Function, Limits
from kargo_actions.expressions.values import ExprObject, QuotedStr, to_json, to_plain, type_name
from kargo_actions.freight.identity import normalize_chart_url, normalize_git_url, normalize_image_url
from kargo_actions.model.freight import Chart, Freight, GitCommit, Image
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from kargo_actions.semver import Version

StepStatuses = Callable[[], Mapping[str, str]]
"""Returns the status of every step run so far in this promotion, by alias ("Succeeded", "Failed", ...)."""
DataProvider = Callable[[str], Mapping[str, str]]
"""Returns the data of a named secret or config map; an empty map when there is none."""
MetadataProvider = Callable[[str], Mapping[str, Any] | None]
"""Returns the metadata of a named Stage, or None."""

FAILED_STEP_STATUSES = frozenset({"Failed", "Errored"})


@struct(eq=False)
class OriginValue(ExprObject):
    """warehouse(name): a FreightOrigin."""

    name: str
    kind: str = "Warehouse"
    type_name: ClassVar[str] = "FreightOrigin"
    field_names: ClassVar[tuple[str, ...]] = ("Kind", "Name")

    def _field(self, name: str) -> Any:
        return self.kind if name == "Kind" else self.name

    def to_plain(self) -> Any:
        return {"kind": self.kind, "name": self.name}


@struct(eq=False)
class ImageValue(ExprObject):
    """imageFrom(...): an Image of the Freight collection."""

    image: Image
    type_name: ClassVar[str] = "Image"
    field_names: ClassVar[tuple[str, ...]] = ("RepoURL", "Tag", "Digest", "Annotations")

    def _field(self, name: str) -> Any:
        if name == "Annotations":
            return dict(self.image.annotations or {})
        return {"RepoURL": self.image.repo_url, "Tag": self.image.tag, "Digest": self.image.digest}[name]

    def to_plain(self) -> Any:
        return self.image.model_dump(by_alias=True, exclude_none=True, exclude={"subscription_name"})


@struct(eq=False)
class CommitValue(ExprObject):
    """commitFrom(...): a GitCommit of the Freight collection."""

    commit: GitCommit
    type_name: ClassVar[str] = "GitCommit"
    field_names: ClassVar[tuple[str, ...]] = (
        "RepoURL",
        "ID",
        "Branch",
        "Tag",
        "Message",
        "Author",
        "Committer",
    )

    def _field(self, name: str) -> Any:
        c = self.commit
        values = {
            "RepoURL": c.repo_url,
            "ID": c.id,
            "Branch": c.branch,
            "Tag": c.tag,
            "Message": c.message,
            "Author": c.author,
            "Committer": c.committer,
        }
        return values[name] or ""  # Go's zero value for an unset string

    def to_plain(self) -> Any:
        return self.commit.model_dump(by_alias=True, exclude_none=True, exclude={"subscription_name"})


@struct(eq=False)
class ChartValue(ExprObject):
    """chartFrom(...): a Chart of the Freight collection."""

    chart: Chart
    type_name: ClassVar[str] = "Chart"
    field_names: ClassVar[tuple[str, ...]] = ("RepoURL", "Name", "Version")

    def _field(self, name: str) -> Any:
        return {"RepoURL": self.chart.repo_url, "Name": self.chart.name, "Version": self.chart.version}[name]

    def to_plain(self) -> Any:
        return self.chart.model_dump(by_alias=True, exclude_none=True, exclude={"subscription_name"})


@struct(eq=False)
class SemverValue(ExprObject):
    """semverParse(v): a semantic version used through methods (Major(), IncMinor().String(), ...).

    The version is the one discovery reads (kargo_actions.semver): one reading of versions, Masterminds'
    lenient one (a `v` prefix and missing minor or patch are accepted), for tags and expressions alike.
    """

    version: Version
    type_name: ClassVar[str] = "semver.Version"
    method_names: ClassVar[tuple[str, ...]] = (
        "Major",
        "Minor",
        "Patch",
        "Prerelease",
        "Metadata",
        "IncMajor",
        "IncMinor",
        "IncPatch",
        "String",
        "Original",
    )

    @classmethod
    def parse(cls, text: str) -> SemverValue | None:
        from kargo_actions.semver import parse_version  # 5 ms of regexes: only when used

        version = parse_version(text.strip())
        return None if version is None else cls(version)

    def __str__(self) -> str:
        return str(self.version)

    def _call(self, name: str, args: Sequence[Any]) -> Any:
        if args:
            raise EvalFailure(f"{name}() takes no arguments, got {len(args)}")
        from kargo_actions.semver import Version

        v = self.version
        if name == "IncMajor":
            return SemverValue(Version(v.major + 1, 0, 0))
        if name == "IncMinor":
            return SemverValue(Version(v.major, v.minor + 1, 0))
        if name == "IncPatch":
            # A pre-release or build of x.y.z is followed by x.y.z itself.
            bump = 0 if v.prerelease or v.metadata else 1
            return SemverValue(Version(v.major, v.minor, v.patch + bump))
        values: dict[str, Any] = {
            "Major": v.major,
            "Minor": v.minor,
            "Patch": v.patch,
            "Prerelease": v.prerelease,
            "Metadata": v.metadata,
            "String": str(v),
            "Original": v.original or str(v),
        }
        return values[name]

    def to_plain(self) -> Any:
        return str(self)


def quote(value: Any) -> QuotedStr:
    """Kargo's quote(): the value as text that a template keeps as a string."""
    return QuotedStr(value if isinstance(value, str) else to_json(value))


def unsafe_quote(value: Any) -> QuotedStr:
    """Kargo's unsafeQuote(): the JSON form of the value, so strings keep visible quotes."""
    return QuotedStr(json.dumps(to_plain(value), ensure_ascii=False, separators=(",", ":")))


def as_json(value: Any) -> QuotedStr:
    """Kargo's asJSON(): pretty-printed JSON ending in a newline."""
    return QuotedStr(to_json(value, indent=2) + "\n")


def as_yaml(value: Any) -> QuotedStr:
    """Kargo's asYAML(): a YAML document of the value."""
    import io

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(to_plain(value), stream)
    return QuotedStr(stream.getvalue())


def _one_string(name: str, args: list[Any], what: str = "argument") -> str:
    if not isinstance(args[0], str):
        raise EvalFailure(f"{name}(): the {what} must be a string, got {type_name(args[0])}")
    if not args[0]:
        raise EvalFailure(f"{name}(): the {what} must not be empty")
    return str(args[0])


def _origin_arg(name: str, value: Any) -> OriginValue:
    if not isinstance(value, OriginValue):
        raise EvalFailure(
            f"{name}(): the origin must be a FreightOrigin from warehouse(NAME), got {type_name(value)}"
        )
    return value


def environ_provider(
    prefix: str, environ: Mapping[str, str] | None = None, mask: Callable[[str], None] | None = None
) -> DataProvider:
    """Secrets or config maps from environment variables the workflow sets.

    `secret('slack')` reads `<prefix>SLACK` (a JSON object of keys) and `<prefix>SLACK__<key>` (one key
    each); the name is upper-cased with every other character than letters and digits as `_`. A name with
    neither gives an empty map. `mask` gets every value taken out of a JSON object: GitHub masks the
    whole variable, not the values inside it (pass kargo_actions.redact.mask for secrets inside
    GitHub Actions).
    """
    source = os.environ if environ is None else environ

    def provide(name: str) -> Mapping[str, str]:
        stem = prefix + re.sub(r"[^A-Za-z0-9]", "_", name).upper()
        data: dict[str, str] = {}
        whole = source.get(stem)
        if whole:
            try:
                parsed = json.loads(whole)
            except json.JSONDecodeError:
                raise EvalFailure(f"{stem} must hold a JSON object of keys and values") from None
            if not isinstance(parsed, dict):
                raise EvalFailure(f"{stem} must hold a JSON object of keys and values")
            data.update({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()})
            if mask is not None:
                for value in data.values():
                    mask(value)
        for key, value in source.items():
            if key.startswith(stem + "__"):
                data[key[len(stem) + 2 :]] = value
        return data

    return provide


def secrets_from_environment(environ: Mapping[str, str] | None = None) -> DataProvider:
    """secret() for a workflow: KARGO_SECRET_* variables, values masked when running in GitHub Actions."""
    source = os.environ if environ is None else environ
    if source.get("GITHUB_ACTIONS") != "true":
        return environ_provider(SECRET_ENV_PREFIX, source, None)
    from kargo_actions.redact import mask

    return environ_provider(SECRET_ENV_PREFIX, source, mask)


def config_maps_from_environment(environ: Mapping[str, str] | None = None) -> DataProvider:
    """configMap() for a workflow: KARGO_CONFIGMAP_* variables."""
    return environ_provider(CONFIG_MAP_ENV_PREFIX, environ)


SECRET_ENV_PREFIX = "KARGO_SECRET_"  # noqa: S105 - a name prefix, not a secret
CONFIG_MAP_ENV_PREFIX = "KARGO_CONFIGMAP_"


@struct
class KargoEnvironment:
    """What Kargo's expressions see during a promotion (or, with fewer fields, a verification).

    The promotion engine builds one per step: the Freight collection, outputs so far, the step-status
    lookup, and the providers of secrets, config maps and Stage metadata.
    """

    project: str = ""
    stage: str = ""
    promotion: str = ""
    target_freight: Freight | None = None
    actor: str = ""
    rollback: bool = False
    step_alias: str = ""
    ui_base_url: str = ""
    vars: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] | None = None  # None: `outputs` is not defined (as when evaluating vars)
    task_outputs: Mapping[str, Any] | None = None  # None: `task` is not defined (outside a PromotionTask)
    freight: Sequence[Freight] = ()
    step_statuses: StepStatuses | None = None
    secrets: DataProvider | None = None
    config_maps: DataProvider | None = None
    stage_metadata: MetadataProvider | None = None
    # Metadata of a Freight by name (the ledger's); when None or it knows nothing, the Freight's status.metadata.
    freight_metadata: MetadataProvider | None = None
    limits: Limits = DEFAULT_LIMITS

    def context(self) -> dict[str, Any]:
        """The `ctx` variable."""
        target = self.target_freight
        return {
            "uiBaseUrl": self.ui_base_url,
            "project": self.project,
            "stage": self.stage,
            "promotion": self.promotion,
            "targetFreight": {
                "name": target.name if target else "",
                "alias": (target.alias or "") if target else "",
                "origin": {"name": target.origin.name if target else ""},
            },
            "meta": {
                "promotion": {"actor": self.actor, "rollback": self.rollback},
                "step": {"alias": self.step_alias},
            },
        }

    def variables(self) -> dict[str, Any]:
        """ctx, vars, and outputs / task when given."""
        variables: dict[str, Any] = {"ctx": self.context(), "vars": dict(self.vars)}
        if self.outputs is not None:
            variables["outputs"] = dict(self.outputs)
        if self.task_outputs is not None:
            variables["task"] = {"outputs": dict(self.task_outputs)}
        return variables

    def build(self) -> Environment:
        """The Environment to evaluate expressions and templates in."""
        return Environment(self.variables(), self.functions(), self.limits)

    def resolve_vars(self, definitions: Iterable[tuple[str, Any]]) -> dict[str, Any]:
        """Evaluate variable definitions in order, as Kargo does: each sees ctx and the vars before it.

        Later definitions replace earlier ones of the same name (promotion template vars after Stage
        vars); `outputs`, `task`, secret() and configMap() are not available, as in Kargo.
        """
        from kargo_actions.expressions.templates import render_value

        resolved: dict[str, Any] = {}
        for name, value in definitions:
            scope = replace(
                self,
                vars=resolved,
                outputs=None,
                task_outputs=None,
                secrets=_unavailable("secret"),
                config_maps=_unavailable("configMap"),
            )
            resolved[name] = render_value(value, scope.build())
        return resolved

    def functions(self) -> dict[str, Function]:
        """Kargo's functions, bound to this environment's Freight, step statuses and providers."""

        def fn(name: str, impl: Callable[[list[Any]], Any], lo: int, hi: int, params: str) -> Function:
            return Function(name, lambda ev, args: impl(args), lo, hi, params)

        def one(name: str, impl: Callable[[Any], Any]) -> Function:
            return fn(name, lambda args: impl(args[0]), 1, 1, "value")

        return {
            f.name: f
            for f in (
                one("quote", quote),
                one("unsafeQuote", unsafe_quote),
                one("asJSON", as_json),
                one("asYAML", as_yaml),
                fn("warehouse", lambda a: OriginValue(_one_string("warehouse", a, "name")), 1, 1, "name"),
                fn("commitFrom", self._commit_from, 1, 2, "repoURL[, origin]"),
                fn("imageFrom", self._image_from, 1, 2, "repoURL[, origin]"),
                fn("chartFrom", self._chart_from, 1, 3, "repoURL[, chartName][, origin]"),
                fn("success", lambda a: not self._has_failure(), 0, 0, ""),
                fn("failure", lambda a: self._has_failure(), 0, 0, ""),
                fn("always", lambda a: True, 0, 0, ""),
                fn("status", self._status, 1, 1, "stepAlias"),
                fn("semverParse", _semver_parse, 1, 1, "version"),
                fn("semverDiff", _semver_diff, 2, 2, "version1, version2"),
                fn("freightMetadata", self._freight_metadata, 1, 2, "freightName[, key]"),
                fn("freightStatus", self._freight_status, 1, 1, "freightName"),
                fn("stageMetadata", self._stage_metadata, 1, 1, "stageName"),
                fn("secret", lambda a: self._data("secret", self.secrets, a), 1, 1, "name"),
                fn("configMap", lambda a: self._data("configMap", self.config_maps, a), 1, 1, "name"),
                fn("sharedSecret", _no_shared("sharedSecret"), 1, 1, "name"),
                fn("sharedConfigMap", _no_shared("sharedConfigMap"), 1, 1, "name"),
            )
        }

    def _candidates(self, origin: OriginValue | None) -> list[Freight]:
        if origin is None:
            return list(self.freight)
        return [f for f in self.freight if f.origin.name == origin.name]

    def _single(
        self, name: str, repo: str, found: list[tuple[Freight, Any]], origin: OriginValue | None
    ) -> Any:
        if not found:
            return None  # Kargo returns nil when nothing in the collection matches
        origins = sorted({f.origin.name for f, _ in found})
        if origin is None and len(origins) > 1:
            raise EvalFailure(
                f"{name}(): {repo} is in Freight from more than one Warehouse ({', '.join(origins)})",
                hint=f'pick one with {name}("{repo}", warehouse("{origins[0]}"))',
            )
        return found[0][1]

    def _commit_from(self, args: list[Any]) -> Any:
        return self._artifact_from("commitFrom", args, normalize_git_url, lambda f: f.commits, CommitValue)

    def _image_from(self, args: list[Any]) -> Any:
        return self._artifact_from("imageFrom", args, normalize_image_url, lambda f: f.images, ImageValue)

    def _artifact_from(
        self,
        name: str,
        args: list[Any],
        normalize: Callable[[str], str],
        artifacts: Callable[[Any], Sequence[Any]],
        value: Callable[[Any], Any],
    ) -> Any:
        """commitFrom / imageFrom: the one artifact of repoURL among the candidate Freight, as its value."""
        repo = _one_string(name, args, "repoURL")
        origin = _origin_arg(name, args[1]) if len(args) > 1 else None
        wanted = normalize(repo)
        found = [
            (f, artifact)
            for f in self._candidates(origin)
            for artifact in artifacts(f)
            if normalize(artifact.repo_url) == wanted
        ]
        single = self._single(name, repo, found, origin)
        return None if single is None else value(single)

    def _chart_from(self, args: list[Any]) -> Any:
        repo = _one_string("chartFrom", args, "repoURL")
        chart_name = ""
        origin: OriginValue | None = None
        if len(args) == 2:
            if isinstance(args[1], str):
                chart_name = args[1]
            else:
                origin = _origin_arg("chartFrom", args[1])
        elif len(args) == 3:
            if not isinstance(args[1], str):
                raise EvalFailure(
                    f"chartFrom(): with three arguments the second is the chart name, got {type_name(args[1])}"
                )
            chart_name = args[1]
            origin = _origin_arg("chartFrom", args[2])
        wanted = normalize_chart_url(repo)
        found = [
            (f, c)
            for f in self._candidates(origin)
            for c in f.charts
            if normalize_chart_url(c.repo_url) == wanted and (not chart_name or c.name == chart_name)
        ]
        chart = self._single("chartFrom", repo, found, origin)
        return None if chart is None else ChartValue(chart)

    def _statuses(self) -> Mapping[str, str]:
        return self.step_statuses() if self.step_statuses is not None else {}

    def _has_failure(self) -> bool:
        return any(status in FAILED_STEP_STATUSES for status in self._statuses().values())

    def _status(self, args: list[Any]) -> Any:
        alias = _one_string("status", args, "step alias")
        return self._statuses().get(alias, "")

    def _find_freight(self, name: str) -> Freight | None:
        if self.target_freight is not None and self.target_freight.name == name:
            return self.target_freight
        return next((f for f in self.freight if f.name == name), None)

    def _freight_metadata(self, args: list[Any]) -> Any:
        name = _one_string("freightMetadata", args, "Freight name")
        freight = self._find_freight(name)
        metadata = dict(freight.status.metadata or {}) if freight and freight.status else None
        recorded = self.freight_metadata(name) if self.freight_metadata is not None else None
        if recorded is not None:
            metadata = {**(metadata or {}), **recorded}
        if len(args) > 1:
            key = args[1]
            if not isinstance(key, str):
                raise EvalFailure(f"freightMetadata(): the key must be a string, got {type_name(key)}")
            return None if metadata is None else metadata.get(key)
        return metadata

    def _freight_status(self, args: list[Any]) -> Any:
        freight = self._find_freight(_one_string("freightStatus", args, "Freight name"))
        if freight is None:
            return None
        if freight.status is None:
            return {}
        return freight.status.model_dump(by_alias=True, exclude_none=True, mode="json")

    def _stage_metadata(self, args: list[Any]) -> Any:
        stage = _one_string("stageMetadata", args, "Stage name")
        if self.stage_metadata is None:
            return None
        found = self.stage_metadata(stage)
        return None if found is None else dict(found)

    def _data(self, name: str, provider: DataProvider | None, args: list[Any]) -> Any:
        key = _one_string(name, args, "name")
        return {} if provider is None else dict(provider(key))


def _unavailable(name: str) -> DataProvider:
    def provide(key: str) -> Mapping[str, str]:
        raise EvalFailure(
            f"{name}() is not available in the definition of a variable (Kargo allows only ctx and vars)"
        )

    return provide


def _no_shared(name: str) -> Callable[[list[Any]], Any]:
    def impl(args: list[Any]) -> Any:
        raise EvalFailure(
            f"{name}() is not supported: there is no shared namespace outside Kubernetes",
            hint="use secret() or configMap(), which read what the workflow passes in",
        )

    return impl


def _semver_parse(args: list[Any]) -> Any:
    if not isinstance(args[0], str):
        raise EvalFailure(f"semverParse(): the version must be a string, got {type_name(args[0])}")
    version = SemverValue.parse(args[0])
    if version is None:
        raise EvalFailure(f'semverParse(): invalid semantic version "{args[0]}"')
    return version


def _semver_diff(args: list[Any]) -> Any:
    for position, value in zip(("first", "second"), args, strict=True):
        if not isinstance(value, str):
            raise EvalFailure(
                f"semverDiff(): the {position} argument must be a string, got {type_name(value)}"
            )
    from kargo_actions.semver import parse_version

    a, b = parse_version(args[0].strip()), parse_version(args[1].strip())
    if a is None or b is None:
        return "Incomparable"
    for part, x, y in (("Major", a.major, b.major), ("Minor", a.minor, b.minor), ("Patch", a.patch, b.patch)):
        if x != y:
            return part
    return "Metadata" if a.metadata != b.metadata else "None"
