"""helm-update-chart: set versions of a chart's dependencies in Chart.yaml (given, or the Freight's charts)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepResult,
    TerminalStepError,
)
from kargo_actions.promotion.steps.support import yamledit


class ChartUpdate(StepConfig):
    """A dependency, named by its `repository` and `name` exactly as Chart.yaml has them, and its new version."""

    repository: NonEmpty
    """The dependency's `repository`, exactly as Chart.yaml has it."""
    name: NonEmpty
    """The dependency's chart name."""
    version: NonEmpty
    """The version to set."""


class HelmUpdateChartConfig(StepConfig):
    """Kargo's HelmUpdateChartConfig."""

    path: NonEmpty
    """The chart directory."""
    charts: list[ChartUpdate] | None = Field(default=None, min_length=1)
    """`{repository, name, version}`; `repository` and `name` must match the dependency exactly (for OCI: the registry URL and the chart name, as Helm writes them). Omitted: each dependency that names a chart of the Freight being promoted gets that chart's version (classic: repository URL + name; OCI: `<repository>/<name>` is the Freight's URL)."""


def _matches(dependency: Any, repository: str, name: str) -> bool:
    if not isinstance(dependency, dict):
        return False
    return str(dependency.get("repository", "")).rstrip("/") == repository.rstrip("/") and (
        str(dependency.get("name", "")) == name
    )


class HelmUpdateChart:
    """Update `dependencies[].version` in Chart.yaml; output commitMessage."""

    name: ClassVar[str] = "helm-update-chart"
    config_model: ClassVar[type[StepConfig]] = HelmUpdateChartConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {
        "commitMessage": "`Updated chart dependencies for <path>` and `- <name>: <old> -> <new>` per change; absent when nothing changed.",
    }

    def run(self, ctx: StepContext, config: HelmUpdateChartConfig) -> StepResult:
        chart_file = ctx.path(config.path) / "Chart.yaml"
        shown = f"{config.path}/Chart.yaml"
        document = yamledit.load(chart_file, shown)
        dependencies = document.data.get("dependencies") if isinstance(document.data, dict) else None
        if not isinstance(dependencies, list):
            raise TerminalStepError(f"{shown}: has no dependencies list to update")
        updates = config.charts or self._from_freight(ctx, dependencies)
        changes: list[str] = []
        for index, update in enumerate(updates):
            found = [d for d in dependencies if _matches(d, update.repository, update.name)]
            if not found:
                raise TerminalStepError(
                    f"charts[{index}]: no dependency named {update.name!r} from {update.repository!r} "
                    f"in {shown} (repository and name must match Chart.yaml exactly)"
                )
            for dependency in found:
                old = str(dependency.get("version", ""))
                if old != update.version:
                    dependency["version"] = yamledit.scalar(update.version, dependency.get("version"))
                    changes.append(f"- {update.name}: {old or '(none)'} -> {update.version}")
        if changes:
            document.save()
        message = f"Updated chart dependencies for {config.path}\n\n" + "\n".join(changes) if changes else ""
        return StepResult(
            message=f"{len(changes)} dependency version(s) changed in {shown}",
            outputs={"commitMessage": message} if message else {},
        )

    def _from_freight(self, ctx: StepContext, dependencies: list[Any]) -> list[ChartUpdate]:
        """The Freight's chart versions for the dependencies that name one of its charts."""
        collection = list(ctx.freight) or ([ctx.target_freight] if ctx.target_freight else [])
        updates: list[ChartUpdate] = []
        for dependency in dependencies:
            if not isinstance(dependency, dict):
                continue
            repository = str(dependency.get("repository", "")).rstrip("/")
            name = str(dependency.get("name", ""))
            for freight in collection:
                for chart in freight.charts:
                    url = chart.repo_url.rstrip("/")
                    # Classic repositories: URL + name. OCI: Kargo's URL names the chart, Helm's the registry.
                    if (url == repository and chart.name == name) or (
                        url.startswith("oci://") and url == f"{repository}/{name}"
                    ):
                        updates.append(ChartUpdate(repository=repository, name=name, version=chart.version))
        if not updates:
            raise TerminalStepError(
                "charts: none given and no dependency in Chart.yaml matches a chart of the Freight; "
                "list the charts to update"
            )
        return updates
