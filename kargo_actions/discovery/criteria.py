"""Kargo's freightCreationCriteria: the expression a Warehouse may set to decide whether the newest artifacts
make Freight, and the functions Kargo gives it (imageFrom, commitFrom, chartFrom over the newest discovered
artifacts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from kargo_actions.discovery.subscriptions import SubscriptionRun
from kargo_actions.expressions import Environment, ExpressionError, Function, compile_expression
from kargo_actions.expressions.errors import EvalFailure
from kargo_actions.expressions.kargo import ChartValue
from kargo_actions.expressions.values import ExprObject
from kargo_actions.freight.identity import normalize_chart_url, normalize_git_url, normalize_image_url
from kargo_actions.model.freight import Chart, GitCommit, Image
from kargo_actions.struct import struct


@struct(eq=False)
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


@struct(eq=False)
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
