"""Project and ProjectConfig kinds, and `Project`: every manifest of one project, loaded and cross-checked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from kargo_actions.errors import Problem
from kargo_actions.model.base import KARGO_API_VERSION, ManifestModel, Resource
from kargo_actions.model.fields import ResourceName
from kargo_actions.model.promotion_task import ClusterPromotionTask, PromotionTask, TaskReference
from kargo_actions.model.selectors import StageSelector
from kargo_actions.model.settings import Settings
from kargo_actions.model.stage import Stage
from kargo_actions.model.warehouse import Warehouse
from kargo_actions.model.windows import AutoRollback, PromotionWindow, check_unique_names
from kargo_actions.struct import struct

if TYPE_CHECKING:  # the analysis models load when a project has templates (manifests.MODELS)
    from kargo_actions.model.analysis import AnalysisTemplate, ClusterAnalysisTemplate


class ProjectResource(Resource):
    """The Kargo Project kind: names the project; its settings live in ProjectConfig."""

    api_version: Literal["kargo.akuity.io/v1alpha1"] = KARGO_API_VERSION
    kind: Literal["Project"] = "Project"
    spec: dict[str, Any] | None = Field(default=None, exclude=True)
    status: dict[str, Any] | None = Field(default=None, exclude=True)

    @field_validator("spec")
    @classmethod
    def _moved(cls, value: dict[str, Any] | None) -> None:
        if value is not None:
            raise ValueError(
                "Project has no spec any more: move promotionPolicies into a ProjectConfig named like the Project"
            )
        return None


class PromotionPolicy(ManifestModel):
    stage: ResourceName | None = None
    stage_selector: StageSelector | None = None
    auto_promotion_enabled: bool = False
    auto_rollback: AutoRollback | None = None

    @model_validator(mode="after")
    def _one_target(self) -> PromotionPolicy:
        if (self.stage is None) == (self.stage_selector is None):
            raise ValueError("a promotion policy needs exactly one of stage or stageSelector")
        return self

    def applies_to(self, stage: Stage) -> bool:
        if self.stage is not None:
            return self.stage == stage.name
        assert self.stage_selector is not None
        return self.stage_selector.matches(stage)


class ProjectConfigSpec(ManifestModel):
    promotion_policies: list[PromotionPolicy] = Field(default_factory=list)
    promotion_windows: list[PromotionWindow] = Field(default_factory=list)
    # Kept as raw data: no feature here reads them, but real ProjectConfigs carry them.
    webhook_receivers: list[dict[str, Any]] = Field(default_factory=list)
    # Raw too: the dashboard renders them (kargo_actions/report/dashboard_links.py).
    stage_links: list[dict[str, Any]] = Field(default_factory=list)
    freight_links: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("promotion_windows")
    @classmethod
    def _unique_windows(cls, value: list[PromotionWindow]) -> list[PromotionWindow]:
        return check_unique_names(value)


class ProjectConfig(Resource):
    """Project-wide settings Kargo defines (kind ProjectConfig, named like the Project)."""

    api_version: Literal["kargo.akuity.io/v1alpha1"] = KARGO_API_VERSION
    kind: Literal["ProjectConfig"] = "ProjectConfig"
    spec: ProjectConfigSpec = Field(default_factory=ProjectConfigSpec)
    status: dict[str, Any] | None = Field(default=None, exclude=True)


Locator = Callable[[str, str, tuple[str | int, ...]], Problem]


@struct
class Project:
    """Every manifest of one project, validated and cross-checked; built by manifests.load_project."""

    name: str
    config_dir: Path
    resource: ProjectResource | None = None
    config: ProjectConfig | None = None
    settings: Settings = field(default_factory=Settings)
    warehouses: Mapping[str, Warehouse] = field(default_factory=dict)
    stages: Mapping[str, Stage] = field(default_factory=dict)
    promotion_tasks: Mapping[str, PromotionTask] = field(default_factory=dict)
    cluster_promotion_tasks: Mapping[str, ClusterPromotionTask] = field(default_factory=dict)
    analysis_templates: Mapping[str, AnalysisTemplate] = field(default_factory=dict)
    cluster_analysis_templates: Mapping[str, ClusterAnalysisTemplate] = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()
    notices: tuple[str, ...] = ()
    locator: Locator | None = field(default=None, compare=False, repr=False)

    def task(self, ref: TaskReference) -> PromotionTask | ClusterPromotionTask | None:
        """The task a step references, or None when it does not exist."""
        if ref.kind == "ClusterPromotionTask":
            return self.cluster_promotion_tasks.get(ref.name)
        return self.promotion_tasks.get(ref.name)

    def upstream(self, stage: str) -> list[str]:
        """Stages that stage takes Freight from."""
        return self.stages[stage].upstream_stages

    def downstream(self, stage: str) -> list[str]:
        """Stages that take Freight from stage, in stage order."""
        return [s for s in self.stage_order() if stage in self.stages[s].upstream_stages]

    def stage_order(self) -> list[str]:
        """Stages sorted so that every Stage comes after its upstream Stages (ties by name)."""
        order: list[str] = []
        placed: set[str] = set()
        pending = sorted(self.stages)
        while pending:
            ready = [s for s in pending if all(u in placed or u not in self.stages for u in self.upstream(s))]
            if not ready:  # a cycle: the loader refuses those, so this only guards direct construction
                ready = pending[:1]
            for s in ready:
                order.append(s)
                placed.add(s)
            pending = [s for s in pending if s not in placed]
        return order

    def auto_promotion_enabled(self, stage: str) -> bool:
        """The first promotion policy that applies to the Stage decides; none means off (Kargo's default)."""
        policies = self.config.spec.promotion_policies if self.config else []
        for policy in policies:
            if policy.applies_to(self.stages[stage]):
                return policy.auto_promotion_enabled
        return False

    def auto_rollback(self, stage: str) -> AutoRollback | None:
        """The autoRollback of the first promotion policy that applies to the Stage (None: no rollback)."""
        policies = self.config.spec.promotion_policies if self.config else []
        for policy in policies:
            if policy.applies_to(self.stages[stage]):
                return policy.auto_rollback
        return None

    def promotion_windows(self) -> list[PromotionWindow]:
        return list(self.config.spec.promotion_windows) if self.config else []

    def locate(self, kind: str, name: str, path: tuple[str | int, ...]) -> Problem:
        """File, line and column of a field of a loaded manifest (for errors found after loading)."""
        if self.locator is None:
            return Problem(path=".".join(str(p) for p in path))
        return self.locator(kind, name, path)
