"""Stage: a promotion target, the Freight it requests, how it promotes and how it verifies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kargo_actions.model.base import KARGO_API_VERSION, ManifestModel, Resource
from kargo_actions.model.fields import KargoDuration, ResourceName
from kargo_actions.model.freight import FreightOrigin
from kargo_actions.model.promotion_task import PromotionVar, StageStep, check_unique_aliases


class AutoPromotionOptions(ManifestModel):
    selection_policy: Literal["NewestFreight", "MatchUpstream"] = "NewestFreight"


class FreightSources(ManifestModel):
    """Where requested Freight may come from: the Warehouse directly, or upstream Stages."""

    direct: bool = False
    stages: list[ResourceName] = Field(default_factory=list)
    required_soak_time: KargoDuration | None = None
    availability_strategy: Literal["OneOf", "All", ""] = ""
    auto_promotion_options: AutoPromotionOptions | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> FreightSources:
        if not self.direct and not self.stages:
            raise ValueError("sources needs direct: true or at least one upstream stage in stages")
        return self

    @property
    def strategy(self) -> Literal["OneOf", "All"]:
        """The availability strategy with Kargo's default (OneOf) applied."""
        return self.availability_strategy or "OneOf"

    @property
    def selection_policy(self) -> Literal["NewestFreight", "MatchUpstream"]:
        return (self.auto_promotion_options or AutoPromotionOptions()).selection_policy


class FreightRequest(ManifestModel):
    origin: FreightOrigin
    sources: FreightSources

    @field_validator("origin", mode="before")
    @classmethod
    def _kind_given(cls, value: Any) -> Any:
        # FreightOrigin defaults its kind (Freight records need no more); the Stage CRD requires it.
        if isinstance(value, dict) and "kind" not in value:
            raise ValueError("origin needs kind: Warehouse")
        return value


class PromotionTemplateSpec(ManifestModel):
    vars: list[PromotionVar] = Field(default_factory=list)
    steps: list[StageStep] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _aliases(cls, steps: list[StageStep]) -> list[StageStep]:
        check_unique_aliases(steps)
        return steps


class PromotionTemplate(ManifestModel):
    spec: PromotionTemplateSpec


class AnalysisTemplateReference(ManifestModel):
    name: str = Field(min_length=1)
    kind: Literal["AnalysisTemplate", "ClusterAnalysisTemplate"] = "AnalysisTemplate"


class AnalysisRunArgument(ManifestModel):
    name: str = Field(min_length=1)
    value: str


class AnalysisRunMetadata(ManifestModel):
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class Verification(ManifestModel):
    analysis_templates: list[AnalysisTemplateReference] = Field(default_factory=list)
    analysis_run_metadata: AnalysisRunMetadata | None = None
    args: list[AnalysisRunArgument] = Field(default_factory=list)


class StageSpec(ManifestModel):
    shard: str | None = None
    requested_freight: list[FreightRequest] = Field(min_length=1)
    promotion_template: PromotionTemplate | None = None
    verification: Verification | None = None
    vars: list[PromotionVar] = Field(default_factory=list)
    targets: dict[str, Any] | None = None

    @field_validator("requested_freight")
    @classmethod
    def _one_request_per_origin(cls, requests: list[FreightRequest]) -> list[FreightRequest]:
        seen: dict[str, int] = {}
        for i, req in enumerate(requests):
            key = f"{req.origin.kind}/{req.origin.name}"
            if key in seen:
                raise ValueError(
                    f"requestedFreight[{seen[key]}] and requestedFreight[{i}] both request Freight from {key}"
                )
            seen[key] = i
        return requests


class Stage(Resource):
    """A Kargo Stage (kind Stage)."""

    api_version: Literal["kargo.akuity.io/v1alpha1"] = KARGO_API_VERSION
    kind: Literal["Stage"] = "Stage"
    spec: StageSpec
    status: dict[str, Any] | None = Field(default=None, exclude=True)

    @property
    def steps(self) -> list[StageStep]:
        template = self.spec.promotion_template
        return template.spec.steps if template is not None else []

    @property
    def is_control_flow(self) -> bool:
        """No promotion steps: the Stage only marks Freight available to it as verified in itself."""
        return not self.steps

    @property
    def upstream_stages(self) -> list[str]:
        """Every Stage named as a source, in first-mention order."""
        names: list[str] = []
        for req in self.spec.requested_freight:
            names.extend(s for s in req.sources.stages if s not in names)
        return names

    @property
    def warehouses(self) -> list[str]:
        """Warehouses this Stage requests Freight from."""
        return [r.origin.name for r in self.spec.requested_freight]

    def request_for(self, warehouse: str) -> FreightRequest | None:
        return next((r for r in self.spec.requested_freight if r.origin.name == warehouse), None)
