"""set-metadata: records key/value metadata of Stages and Freight on the ledger, for stageMetadata()/freightMetadata()."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from kargo_actions.errors import InvalidInputError
from kargo_actions.promotion.step_api import StepConfig, StepContext, StepResult, TerminalStepError


class MetadataUpdate(StepConfig):
    """One resource whose metadata changes."""

    kind: Literal["Stage", "Freight"] = Field(description="Which kind of resource gets the metadata.")
    name: Annotated[str, Field(min_length=1)] = Field(
        description="The Stage name, or the Freight's name (ID; an alias or unique ID prefix works too)."
    )
    values: Annotated[dict[str, Any], Field(min_length=1)] = Field(
        description="Keys to set and their values (any JSON: strings, numbers, booleans, lists, objects); "
        "keys not named keep their value."
    )


class SetMetadataConfig(StepConfig):
    """Kargo's SetMetadataConfig."""

    updates: Annotated[list[MetadataUpdate], Field(min_length=1)] = Field(
        description="The metadata changes, applied in order."
    )


class SetMetadata:
    """Merge each update's values into the Stage's or Freight's metadata record on the ledger."""

    name: ClassVar[str] = "set-metadata"
    config_model: ClassVar[type[StepConfig]] = SetMetadataConfig
    work_dir_free: ClassVar[bool] = True
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, ctx: StepContext, config: SetMetadataConfig) -> StepResult:
        ledger = ctx.ledger
        if ledger is None:
            raise TerminalStepError(
                "set-metadata records on the ledger, and this run has none "
                "(run the promotion with `kargo-actions promote`, which opens the repository's ledger)"
            )
        done: list[str] = []
        for i, update in enumerate(config.updates):
            ctx.check_abort()
            try:
                record = ledger.set_metadata(update.kind, update.name, update.values)
            except InvalidInputError as err:
                raise TerminalStepError(f"updates[{i}]: {update.kind} {update.name!r}: {err}") from err
            done.append(f"{update.kind} {record.name}")
        return StepResult(message="metadata set on " + ", ".join(done))
