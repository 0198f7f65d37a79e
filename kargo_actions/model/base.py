"""Shared model configuration: Kargo's camelCase wire names, unknown fields forbidden."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class KargoModel(BaseModel):
    """Base of every manifest model: camelCase on the wire, snake_case in Python, extras refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )

    def wire(self) -> dict[str, object]:
        """The Kargo wire form: camelCase keys, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
