"""Freight as Kargo defines it: an immutable bundle of artifact revisions from one Warehouse."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kargo_actions.model.base import KargoModel

API_VERSION = "kargo.akuity.io/v1alpha1"


class FreightOrigin(KargoModel):
    kind: Literal["Warehouse"] = "Warehouse"
    name: str = Field(min_length=1)


class Image(KargoModel):
    repo_url: str = Field(alias="repoURL", min_length=1)
    tag: str = ""
    digest: str = ""
    annotations: dict[str, str] | None = None
    subscription_name: str | None = None


class GitCommit(KargoModel):
    repo_url: str = Field(alias="repoURL", min_length=1)
    id: str = ""
    branch: str | None = None
    tag: str | None = None
    message: str | None = None
    author: str | None = None
    committer: str | None = None
    subscription_name: str | None = None


class Chart(KargoModel):
    repo_url: str = Field(alias="repoURL", min_length=1)
    name: str = ""
    version: str = ""
    subscription_name: str | None = None


class FreightMetadata(KargoModel):
    name: str
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    creation_timestamp: str | None = None


class CurrentStage(KargoModel):
    since: str | None = None


class VerifiedStage(KargoModel):
    verified_at: str | None = None
    longest_soak: str | None = None


class ApprovedStage(KargoModel):
    approved_at: str | None = None


class FreightStatus(KargoModel):
    currently_in: dict[str, CurrentStage] | None = None
    verified_in: dict[str, VerifiedStage] | None = None
    approved_for: dict[str, ApprovedStage] | None = None
    metadata: dict[str, Any] | None = None


class Freight(KargoModel):
    """A Kargo Freight resource (apiVersion kargo.akuity.io/v1alpha1, kind Freight)."""

    api_version: Literal["kargo.akuity.io/v1alpha1"] = "kargo.akuity.io/v1alpha1"
    kind: Literal["Freight"] = "Freight"
    metadata: FreightMetadata
    alias: str | None = None
    origin: FreightOrigin
    commits: list[GitCommit] = Field(default_factory=list)
    images: list[Image] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)
    discovered_at: str | None = None
    status: FreightStatus | None = None

    @property
    def name(self) -> str:
        return self.metadata.name
