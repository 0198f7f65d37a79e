"""Argo Rollouts AnalysisTemplate / ClusterAnalysisTemplate: the metrics a Stage's verification runs.

The web and prometheus providers (their authentication and rangeQuery too) are modelled field by field;
other providers are kept as raw data so templates that use them still load (running them is refused by the
verification runner).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field, model_validator

from kargo_actions.model.base import ManifestModel, Resource
from kargo_actions.model.fields import GoDuration

ARGO_API_VERSION: Final = "argoproj.io/v1alpha1"
IntOrString = int | str


class SecretKeyRef(ManifestModel):
    name: str
    key: str


class FieldRef(ManifestModel):
    field_path: str


class ValueFrom(ManifestModel):
    secret_key_ref: SecretKeyRef | None = None
    field_ref: FieldRef | None = None


class Argument(ManifestModel):
    """A template argument; no value and no valueFrom means the Stage must pass it."""

    name: str = Field(min_length=1)
    value: str | None = None
    value_from: ValueFrom | None = None


class WebMetricHeader(ManifestModel):
    key: str
    value: str


class BasicAuth(ManifestModel):
    username: str | None = None
    password: str | None = None


class OAuth2Config(ManifestModel):
    """OAuth2 client credentials (RFC 6749 4.4): a token from tokenUrl, sent as `Authorization: Bearer`."""

    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scopes: list[str] = Field(default_factory=list)


class Sigv4Config(ManifestModel):
    region: str | None = None
    profile: str | None = None
    role_arn: str | None = None


class Authentication(ManifestModel):
    sigv4: Sigv4Config | None = None
    oauth2: OAuth2Config | None = None
    basic_auth: BasicAuth | None = None


class PrometheusRangeQuery(ManifestModel):
    """start / end are expr-lang expressions giving a time (`now() - duration("1h")`); step a Go duration."""

    start: str | None = None
    end: str | None = None
    step: str | None = None


class WebMetric(ManifestModel):
    url: str = Field(min_length=1)
    method: str | None = None
    headers: list[WebMetricHeader] = Field(default_factory=list)
    body: str | None = None
    json_body: dict[str, Any] | None = None
    json_path: str | None = None
    timeout_seconds: int | None = None
    insecure: bool = False
    authentication: Authentication | None = None


class PrometheusMetric(ManifestModel):
    address: str | None = None
    query: str | None = None
    timeout: int | None = None
    insecure: bool = False
    headers: list[WebMetricHeader] = Field(default_factory=list)
    authentication: Authentication | None = None
    range_query: PrometheusRangeQuery | None = None


class MetricProvider(ManifestModel):
    web: WebMetric | None = None
    prometheus: PrometheusMetric | None = None
    job: dict[str, Any] | None = None
    kayenta: dict[str, Any] | None = None
    datadog: dict[str, Any] | None = None
    new_relic: dict[str, Any] | None = None
    wavefront: dict[str, Any] | None = None
    graphite: dict[str, Any] | None = None
    influxdb: dict[str, Any] | None = None
    skywalking: dict[str, Any] | None = None
    cloud_watch: dict[str, Any] | None = None
    plugin: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> MetricProvider:
        if len(self.kinds) != 1:
            raise ValueError(f"a metric provider needs exactly one provider (found {len(self.kinds)})")
        return self

    @property
    def kinds(self) -> list[str]:
        return [name for name in type(self).model_fields if getattr(self, name) is not None]


class Metric(ManifestModel):
    name: str = Field(min_length=1)
    provider: MetricProvider
    interval: GoDuration | None = None
    initial_delay: GoDuration | None = None
    count: IntOrString | None = None
    success_condition: str | None = None
    failure_condition: str | None = None
    failure_limit: IntOrString | None = None
    inconclusive_limit: IntOrString | None = None
    consecutive_error_limit: IntOrString | None = None
    consecutive_success_limit: IntOrString | None = None


class DryRun(ManifestModel):
    metric_name: str


class MeasurementRetention(ManifestModel):
    metric_name: str
    limit: int


class TemplateRef(ManifestModel):
    template_name: str | None = None
    cluster_scope: bool = False


class AnalysisTemplateSpec(ManifestModel):
    args: list[Argument] = Field(default_factory=list)
    metrics: list[Metric] = Field(default_factory=list)
    dry_run: list[DryRun] = Field(default_factory=list)
    measurement_retention: list[MeasurementRetention] = Field(default_factory=list)
    templates: list[TemplateRef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something_to_run(self) -> AnalysisTemplateSpec:
        if not self.metrics and not self.templates:
            raise ValueError("an analysis template needs at least one metric (or templates to include)")
        names = [m.name for m in self.metrics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"metric names must be unique: {', '.join(dupes)} repeated")
        return self

    @property
    def required_args(self) -> list[str]:
        return [a.name for a in self.args if a.value is None and a.value_from is None]


class AnalysisTemplate(Resource):
    """An Argo Rollouts AnalysisTemplate (apiVersion argoproj.io/v1alpha1)."""

    api_version: Literal["argoproj.io/v1alpha1"] = ARGO_API_VERSION
    kind: Literal["AnalysisTemplate"] = "AnalysisTemplate"
    spec: AnalysisTemplateSpec


class ClusterAnalysisTemplate(Resource):
    """An Argo Rollouts ClusterAnalysisTemplate; here found in the same folder as the rest."""

    api_version: Literal["argoproj.io/v1alpha1"] = ARGO_API_VERSION
    kind: Literal["ClusterAnalysisTemplate"] = "ClusterAnalysisTemplate"
    spec: AnalysisTemplateSpec
