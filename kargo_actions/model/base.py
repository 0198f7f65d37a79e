"""Shared model configuration: Kargo's camelCase wire names, unknown fields forbidden."""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from kargo_actions.model.fields import check_rfc1123_subdomain


class KargoModel(BaseModel):
    """Base of every manifest model: camelCase on the wire, snake_case in Python, extras refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        # Build each validator on first use, not at import: commands import many models and use few.
        defer_build=True,
    )

    def wire(self) -> dict[str, Any]:
        """The Kargo wire form: camelCase keys, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class ManifestModel(KargoModel):
    """Base of the models of Kargo manifests: like KargoModel, and strict about types as the API server is.

    Strict mode refuses "true" for a boolean and 5 for a string, where plain pydantic would coerce them.
    """

    model_config = ConfigDict(strict=True)


KARGO_API_VERSION: Final = "kargo.akuity.io/v1alpha1"


class ObjectMeta(ManifestModel):
    """Kubernetes object metadata; `name` must be an RFC 1123 subdomain."""

    name: Annotated[str, AfterValidator(check_rfc1123_subdomain)]
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    # Fields a `kubectl get -o yaml` dump carries; accepted so exported manifests load unchanged.
    generate_name: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    finalizers: list[str] | None = None
    owner_references: list[dict[str, Any]] | None = None
    managed_fields: list[dict[str, Any]] | None = None


class Resource(ManifestModel):
    """A manifest: apiVersion, kind and metadata; subclasses pin kind and add spec."""

    api_version: str
    kind: str
    metadata: ObjectMeta

    @property
    def name(self) -> str:
        return self.metadata.name

    def manifest(self) -> dict[str, object]:
        """The manifest as written (fields left to their defaults stay out), in Kargo's wire names."""
        return self.model_dump(by_alias=True, exclude_unset=True, exclude_none=True, mode="json")


def strip_annotation(annotation: Any) -> Any:
    """The type without Annotated[...] and without `| None` (each member of a larger union stripped too)."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return strip_annotation(args[0])
        return typing.Union[tuple(strip_annotation(a) for a in args)]  # noqa: UP007 - built at run time
    return annotation


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation like X | None, list[X], dict[str, X], Annotated[X, ...]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = model_in(arg)
        if found is not None:
            return found
    return None
