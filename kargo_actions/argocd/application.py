"""Typed views of Argo CD's Application (v1alpha1Application of Argo CD's API) and of what a sync asks for.

Only the fields kargo-actions reads are typed; a source keeps every other field it came with (path,
directory, plugin, ...) so that a source written back is the source read, changed only where a step says.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Operation phases (Argo CD's synccommon.OperationPhase).
PHASE_RUNNING = "Running"
PHASE_TERMINATING = "Terminating"
PHASE_SUCCEEDED = "Succeeded"
PHASE_FAILED = "Failed"
PHASE_ERROR = "Error"
COMPLETED_PHASES = frozenset({PHASE_SUCCEEDED, PHASE_FAILED, PHASE_ERROR})

SYNCED = "Synced"
HEALTHY = "Healthy"
DEGRADED = "Degraded"
SUSPENDED = "Suspended"
UNKNOWN = "Unknown"


class ArgoModel(BaseModel):
    """Argo CD's camelCase wire names; fields not typed here are ignored when read."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class OpenArgoModel(ArgoModel):
    """A part of an Application written back: fields not typed here are kept, so nothing is lost."""

    model_config = ConfigDict(extra="allow")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class HelmParameter(OpenArgoModel):
    name: str = ""
    value: str = ""


class SourceHelm(OpenArgoModel):
    parameters: list[HelmParameter] | None = None


class SourceKustomize(OpenArgoModel):
    images: list[str] | None = None


class ApplicationSource(OpenArgoModel):
    repo_url: str = Field(default="", alias="repoURL")
    chart: str | None = None
    target_revision: str | None = None
    helm: SourceHelm | None = None
    kustomize: SourceKustomize | None = None


class ApplicationSpec(ArgoModel):
    project: str = ""
    source: ApplicationSource | None = None
    sources: list[ApplicationSource] | None = None


class ObjectMeta(ArgoModel):
    name: str = ""
    namespace: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class Info(ArgoModel):
    name: str = ""
    value: str = ""


class SyncOperation(ArgoModel):
    revision: str = ""
    revisions: list[str] = Field(default_factory=list)


class OperationInitiator(ArgoModel):
    username: str = ""
    automated: bool = False


class Operation(ArgoModel):
    sync: SyncOperation | None = None
    info: list[Info] = Field(default_factory=list)
    initiated_by: OperationInitiator | None = None


class SyncOperationResult(ArgoModel):
    revision: str = ""
    revisions: list[str] = Field(default_factory=list)


class OperationState(ArgoModel):
    phase: str = ""
    message: str = ""
    operation: Operation | None = None
    sync_result: SyncOperationResult | None = None
    started_at: str = ""
    finished_at: str = ""

    @property
    def completed(self) -> bool:
        return self.phase in COMPLETED_PHASES


class SyncStatus(ArgoModel):
    status: str = ""
    revision: str = ""
    revisions: list[str] = Field(default_factory=list)


class HealthStatus(ArgoModel):
    status: str = ""
    message: str = ""


class Condition(ArgoModel):
    type: str = ""
    message: str = ""


class ApplicationStatus(ArgoModel):
    sync: SyncStatus = Field(default_factory=SyncStatus)
    health: HealthStatus = Field(default_factory=HealthStatus)
    operation_state: OperationState | None = None
    conditions: list[Condition] = Field(default_factory=list)


class Application(ArgoModel):
    """An Argo CD Application as the API returns it."""

    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ApplicationSpec = Field(default_factory=ApplicationSpec)
    status: ApplicationStatus = Field(default_factory=ApplicationStatus)
    operation: Operation | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def qualified_name(self) -> str:
        """namespace/name, or the name alone when the server did not say."""
        meta = self.metadata
        return f"{meta.namespace}/{meta.name}" if meta.namespace else meta.name

    @property
    def multi_source(self) -> bool:
        return bool(self.spec.sources)

    @property
    def sources(self) -> list[ApplicationSource]:
        """The sources in order: `spec.sources`, or `spec.source` alone."""
        if self.spec.sources:
            return list(self.spec.sources)
        return [self.spec.source] if self.spec.source is not None else []

    @property
    def synced_revisions(self) -> list[str]:
        """The revisions the live state was last compared to, one per source."""
        sync = self.status.sync
        return list(sync.revisions) if self.multi_source else ([sync.revision] if sync.revision else [])

    def state_summary(self) -> str:
        """One line of what Argo CD says about the app: sync, health, operation, conditions."""
        status = self.status
        parts = [f"sync {status.sync.status or 'Unknown'}"]
        if self.synced_revisions:
            parts[-1] += " at " + ", ".join(r[:12] for r in self.synced_revisions)
        health = f"health {status.health.status or 'Unknown'}"
        if status.health.message:
            health += f" ({status.health.message})"
        parts.append(health)
        state = status.operation_state
        if state is not None and state.phase:
            op = f"last operation {state.phase}"
            if state.message:
                op += f": {state.message}"
            parts.append(op)
        parts += [f"condition {c.type}: {c.message}" for c in status.conditions]
        return "; ".join(parts)


def sources_patch(app: Application, sources: list[ApplicationSource]) -> dict[str, Any]:
    """A JSON merge patch setting the app's sources to `sources` (whole: merge patches replace lists)."""
    if app.multi_source:
        return {"spec": {"sources": [s.wire() for s in sources]}}
    return {"spec": {"source": sources[0].wire()}}
