"""set-freight-alias: gives a Freight a new alias (unique in the ledger) through the ledger's alias API."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from kargo_actions.errors import InvalidInputError
from kargo_actions.promotion.step_api import StepConfig, StepContext, StepResult, TerminalStepError


class SetFreightAliasConfig(StepConfig):
    """Kargo's SetFreightAliasConfig."""

    name: Annotated[str, Field(min_length=1)] = Field(
        description="The Freight to rename: its name (ID); an alias or unique ID prefix works too."
    )
    alias: Annotated[str, Field(min_length=1)] = Field(
        description="The new alias; no other Freight may hold it. The old alias is released."
    )


class SetFreightAlias:
    """Set the alias of a recorded Freight; an alias another Freight holds is refused."""

    name: ClassVar[str] = "set-freight-alias"
    config_model: ClassVar[type[StepConfig]] = SetFreightAliasConfig
    work_dir_free: ClassVar[bool] = True
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, ctx: StepContext, config: SetFreightAliasConfig) -> StepResult:
        ledger = ctx.ledger
        if ledger is None:
            raise TerminalStepError(
                "set-freight-alias changes the ledger, and this run has none "
                "(run the promotion with `kargo-actions promote`, which opens the repository's ledger)"
            )
        try:
            freight = ledger.set_alias(config.name, config.alias)
        except InvalidInputError as err:
            raise TerminalStepError(
                f"cannot set alias {config.alias!r} on Freight {config.name!r}: {err}"
            ) from err
        return StepResult(message=f"Freight {freight.name} is now {freight.alias!r}")
