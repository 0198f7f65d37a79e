"""Freight assembly: artifacts given by hand (or from JSON) matched one for one to a Warehouse's subscriptions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import field
from typing import Any

from pydantic import ValidationError

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.freight.alias import check_alias
from kargo_actions.freight.identity import freight_id, normalize_chart_url, normalize_git_url
from kargo_actions.ledger.records import DiscoveredArtifactsRecord, DiscoveryResult
from kargo_actions.model.freight import Chart, Freight, FreightMetadata, FreightOrigin, GitCommit, Image
from kargo_actions.model.messages import dotted, field_problems, one_line, type_name
from kargo_actions.model.warehouse import RepoSubscription, Warehouse
from kargo_actions.oci.references import split_reference
from kargo_actions.struct import struct

_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")
_COMMIT_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_ARTIFACT_KEYS = {"images", "commits", "charts"}


@struct
class Artifacts:
    """Artifact revisions in Kargo's Freight shape, before they are matched to subscriptions."""

    images: tuple[Image, ...] = ()
    commits: tuple[GitCommit, ...] = ()
    charts: tuple[Chart, ...] = ()

    def __add__(self, other: Artifacts) -> Artifacts:
        return Artifacts(self.images + other.images, self.commits + other.commits, self.charts + other.charts)

    def __len__(self) -> int:
        return len(self.images) + len(self.commits) + len(self.charts)


def parse_artifacts_json(text: str, source: str) -> Artifacts:
    """Read `{"images": [...], "commits": [...], "charts": [...]}`; every problem names its place."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInputError(
            [Problem(file=source, line=err.lineno, col=err.colno, message=f"not valid JSON: {err.msg}")]
        ) from err
    if not isinstance(data, dict):
        raise InvalidInputError(
            [
                Problem(
                    file=source,
                    message=f"expected a JSON object with images, commits, charts; got {type(data).__name__}",
                )
            ]
        )
    problems: list[Problem] = []
    for key in sorted(set(data) - _ARTIFACT_KEYS):
        problems.append(
            Problem(file=source, path=key, message="unknown key", hint="use images, commits and charts")
        )
    images = _parse_list(data, "images", Image, source, problems)
    commits = _parse_list(data, "commits", GitCommit, source, problems)
    charts = _parse_list(data, "charts", Chart, source, problems)
    if problems:
        raise InvalidInputError(problems)
    return Artifacts(tuple(images), tuple(commits), tuple(charts))


def _parse_list(
    data: dict[str, Any], key: str, model: type[Any], source: str, problems: list[Problem]
) -> list[Any]:
    items = data.get(key, [])
    if not isinstance(items, list):
        problems.append(Problem(file=source, path=key, message=f"expected a list, found {type_name(items)}"))
        return []
    parsed = []
    for i, item in enumerate(items):
        try:
            parsed.append(model.model_validate(item))
        except ValidationError as err:
            for p in field_problems(err, model):
                problems.append(
                    Problem(file=source, path=dotted((key, i, *p.loc)), message=p.message, hint=p.hint)
                )
    return parsed


def parse_image_ref(ref: str) -> Image:
    """`REPO:TAG@DIGEST` (or `REPO@DIGEST`) as an Image; the digest is required, as Kargo records one."""
    # A Freight's image, unlike a step's imageRef (steps/support/ociutil.py): digest required, tag kept.
    parts = split_reference(ref)
    repo, tag, digest = parts.name, parts.tag or "", parts.digest
    if not repo or not digest:
        raise InvalidInputError(
            [
                Problem(
                    path="--image",
                    message=f"{ref!r} is not REPO:TAG@DIGEST",
                    hint="e.g. ghcr.io/org/app:1.2.3@sha256:...",
                )
            ]
        )
    return Image(repo_url=repo, tag=tag, digest=digest)


def _parse_fields(ref: str, option: str, allowed: Sequence[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in ref.split(","):
        key, eq, value = part.partition("=")
        if not eq or key not in allowed:
            raise InvalidInputError(
                [
                    Problem(
                        path=option,
                        message=f"{part!r} is not one of {', '.join(k + '=...' for k in allowed)}",
                        hint=f"e.g. {option} {','.join(k + '=...' for k in allowed[:3])}",
                    )
                ]
            )
        fields[key] = value
    return fields


def parse_commit_ref(ref: str) -> GitCommit:
    """`repoURL=URL,id=SHA[,tag=T][,branch=B]` as a GitCommit."""
    fields = _parse_fields(ref, "--commit", ("repoURL", "id", "tag", "branch"))
    try:
        return GitCommit.model_validate(fields)
    except ValidationError as err:
        raise InvalidInputError(
            [Problem(path="--commit", message=f"{ref!r}: {one_line(err, GitCommit)}")]
        ) from err


def parse_chart_ref(ref: str) -> Chart:
    """`repoURL=URL[,name=NAME],version=V` as a Chart (no name for an oci:// repository)."""
    fields = _parse_fields(ref, "--chart", ("repoURL", "name", "version"))
    try:
        return Chart.model_validate(fields)
    except ValidationError as err:
        raise InvalidInputError(
            [Problem(path="--chart", message=f"{ref!r}: {one_line(err, Chart)}")]
        ) from err


@struct(frozen=False)
class _Matcher:
    """Pairs artifacts with subscriptions, one for one, collecting every problem."""

    warehouse: Warehouse
    problems: list[Problem] = field(default_factory=list)
    taken: dict[int, str] = field(default_factory=dict)

    def subscription_label(self, index: int) -> str:
        sub = self.warehouse.spec.subscriptions[index]
        named = f" ({sub.name!r})" if sub.name else ""
        return f"subscriptions[{index}]{named} {sub.kind} {sub.repo_url}"

    def candidates(self, kind: str, same: Any) -> list[int]:
        return [
            i for i, sub in enumerate(self.warehouse.spec.subscriptions) if sub.kind == kind and same(sub)
        ]

    def claim(
        self, kind: str, label: str, subscription_name: str | None, same: Any
    ) -> RepoSubscription | None:
        found = self.candidates(kind, same)
        if subscription_name is not None:
            found = [i for i in found if self.warehouse.spec.subscriptions[i].name == subscription_name]
        if not found:
            urls = sorted(s.repo_url for s in self.warehouse.spec.subscriptions if s.kind == kind)
            hint = (
                f"its {kind} subscriptions watch: {', '.join(urls)}"
                if urls
                else f"it has no {kind} subscription"
            )
            self.problems.append(
                Problem(
                    path=label,
                    message=f"matches no subscription of Warehouse {self.warehouse.name!r}",
                    hint=hint,
                )
            )
            return None
        if len(found) > 1:
            names = ", ".join(repr(self.warehouse.spec.subscriptions[i].name) for i in found)
            self.problems.append(
                Problem(
                    path=label,
                    message=f"matches {len(found)} subscriptions ({names})",
                    hint="give subscriptionName to say which",
                )
            )
            return None
        index = found[0]
        if index in self.taken:
            self.problems.append(
                Problem(
                    path=label,
                    message=f"is a second artifact for {self.subscription_label(index)}",
                    hint=f"{self.taken[index]} already fills it; a Freight holds one artifact per subscription",
                )
            )
            return None
        self.taken[index] = label
        return self.warehouse.spec.subscriptions[index]

    def missing(self) -> None:
        for i in range(len(self.warehouse.spec.subscriptions)):
            if i not in self.taken:
                self.problems.append(
                    Problem(
                        path=f"warehouse {self.warehouse.name}",
                        message=f"no artifact given for {self.subscription_label(i)}",
                        hint="a Freight holds exactly one artifact per subscription",
                    )
                )


def _check_image(image: Image, label: str, problems: list[Problem]) -> None:
    if not image.digest:
        problems.append(Problem(path=label, message="has no digest", hint="give REPO:TAG@sha256:..."))
    elif not _DIGEST_RE.match(image.digest):
        problems.append(Problem(path=label, message=f"digest {image.digest!r} is not ALGORITHM:HEX"))


def _check_commit(commit: GitCommit, label: str, problems: list[Problem]) -> None:
    if not _COMMIT_RE.match(commit.id):
        problems.append(
            Problem(
                path=label,
                message=f"id {commit.id!r} is not a full commit hash",
                hint="40 (or 64) lowercase hex digits",
            )
        )


def _check_chart(chart: Chart, label: str, problems: list[Problem]) -> None:
    if not chart.version:
        problems.append(Problem(path=label, message="has no version"))


def assemble_freight(warehouse: Warehouse, artifacts: Artifacts, *, alias: str | None = None) -> Freight:
    """The Freight these artifacts make for `warehouse`; InvalidInputError when they do not fit it one for one."""
    matcher = _Matcher(warehouse)
    problems = matcher.problems
    images: list[Image] = []
    commits: list[GitCommit] = []
    charts: list[Chart] = []
    for n, image in enumerate(artifacts.images):
        label = f"images[{n}] {image.repo_url}"
        _check_image(image, label, problems)
        sub = matcher.claim(
            "image", label, image.subscription_name, lambda s, i=image: s.repo_url == i.repo_url
        )
        if sub is not None:
            images.append(image.model_copy(update={"subscription_name": sub.name}))
    for n, commit in enumerate(artifacts.commits):
        label = f"commits[{n}] {commit.repo_url}"
        _check_commit(commit, label, problems)
        url = normalize_git_url(commit.repo_url)
        sub = matcher.claim(
            "git", label, commit.subscription_name, lambda s, u=url: normalize_git_url(s.repo_url) == u
        )
        if sub is not None:
            commits.append(commit.model_copy(update={"subscription_name": sub.name}))
    for n, chart in enumerate(artifacts.charts):
        label = f"charts[{n}] {chart.repo_url}" + (f" {chart.name}" if chart.name else "")
        _check_chart(chart, label, problems)
        key = (normalize_chart_url(chart.repo_url), chart.name or "")

        def same_chart(s: RepoSubscription, key: tuple[str, str] = key) -> bool:
            assert s.chart is not None
            return (normalize_chart_url(s.chart.repo_url), s.chart.name or "") == key

        sub = matcher.claim("chart", label, chart.subscription_name, same_chart)
        if sub is not None:
            charts.append(chart.model_copy(update={"subscription_name": sub.name}))
    matcher.missing()
    if alias is not None and (why := check_alias(alias)):
        problems.append(Problem(path="--alias", message=f"{alias!r}: {why}"))
    if problems:
        raise InvalidInputError(problems)
    origin = FreightOrigin(name=warehouse.name)
    fid = freight_id(origin, commits=commits, images=images, charts=charts)
    return Freight(
        metadata=FreightMetadata(name=fid, namespace=warehouse.metadata.namespace),
        alias=alias,
        origin=origin,
        commits=commits,
        images=images,
        charts=charts,
    )


def combine(parts: Iterable[Artifacts]) -> Artifacts:
    total = Artifacts()
    for part in parts:
        total = total + part
    return total


def _discovered_result(
    discovered: DiscoveredArtifactsRecord, kind: str, repo_url: str, subscription_name: str | None
) -> DiscoveryResult | None:
    for result in discovered.results:
        if result.kind != kind or result.subscription_name != subscription_name:
            continue
        same = (
            normalize_git_url(result.repo_url) == normalize_git_url(repo_url)
            if kind == "git"
            else normalize_chart_url(result.repo_url) == normalize_chart_url(repo_url)
            if kind == "chart"
            else result.repo_url == repo_url
        )
        if same:
            return result
    return None


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return shown or "none"


def check_discovered(freight: Freight, discovered: DiscoveredArtifactsRecord | None) -> None:
    """Refuse a Freight holding a revision that discovery did not list for its subscription.

    Each problem names the artifact and lists the revisions discovered for that subscription (newest first).
    """
    warehouse = freight.origin.name
    rerun = f"run `kargo-actions discover --warehouse {warehouse}`, or give --allow-undiscovered"
    if discovered is None:
        raise InvalidInputError(
            [
                Problem(
                    path=f"warehouse {warehouse}",
                    message="has no discovered artifacts on the ledger, so no revision can be checked",
                    hint=rerun,
                )
            ]
        )
    problems: list[Problem] = []

    def refuse(label: str, kind: str, repo_url: str, name: str | None, candidates: list[str] | None) -> None:
        if candidates is None:
            problems.append(
                Problem(
                    path=label,
                    message=f"discovery has listed nothing for this {kind} subscription",
                    hint=rerun,
                )
            )
        else:
            problems.append(
                Problem(
                    path=label,
                    message=f"was not discovered for {kind} {repo_url}"
                    + (f" (subscription {name!r})" if name else ""),
                    hint=f"discovered: {_listed(candidates)}; {rerun}",
                )
            )

    for n, image in enumerate(freight.images):
        found = _discovered_result(discovered, "image", image.repo_url, image.subscription_name)
        ok = found is not None and any(
            i.digest == image.digest and (not image.tag or i.tag == image.tag) for i in found.images
        )
        if not ok:
            label = f"images[{n}] {image.repo_url}:{image.tag}@{image.digest}"
            listed = None if found is None else [f"{i.tag}@{i.digest}" for i in found.images]
            refuse(label, "image", image.repo_url, image.subscription_name, listed)
    for n, commit in enumerate(freight.commits):
        found = _discovered_result(discovered, "git", commit.repo_url, commit.subscription_name)
        ok = found is not None and any(
            c.id == commit.id and (not commit.tag or c.tag == commit.tag) for c in found.commits
        )
        if not ok:
            label = f"commits[{n}] {commit.repo_url} {commit.id}"
            listed = (
                None if found is None else [f"{c.tag} ({c.id})" if c.tag else c.id for c in found.commits]
            )
            refuse(label, "git", commit.repo_url, commit.subscription_name, listed)
    for n, chart in enumerate(freight.charts):
        found = _discovered_result(discovered, "chart", chart.repo_url, chart.subscription_name)
        ok = found is not None and any(
            c.version == chart.version and (c.name or "") == (chart.name or "") for c in found.charts
        )
        if not ok:
            label = f"charts[{n}] {chart.repo_url} {chart.name} {chart.version}".replace("  ", " ")
            listed = None if found is None else [c.version for c in found.charts]
            refuse(label, "chart", chart.repo_url, chart.subscription_name, listed)
    if problems:
        raise InvalidInputError(problems)
