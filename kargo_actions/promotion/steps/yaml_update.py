"""yaml-update: set values at dotted keys of a YAML file, keeping its comments, order, quoting and indentation."""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar

from pydantic import Field, StrictStr

from kargo_actions.promotion.steps import yamledit
from kargo_actions.promotion.steps.base import StepConfig, StepContext, StepResult


class YamlUpdate(StepConfig):
    """One key (`image.tag`, `containers.0.image`, `example\\.com/v`) and its new value."""

    key: Annotated[StrictStr, Field(min_length=1)]
    """Dotted path: `image.tag`; list index `containers.0.image`; `-1` (or the length) appends; `\\.` is a literal dot (`example\\.com/version`), `\\\\` a literal backslash. Missing mapping keys are created."""
    value: Any
    """The new value: a string, number, boolean, null, list or mapping."""


class YamlUpdateConfig(StepConfig):
    """Kargo's YAMLUpdateConfig."""

    path: Annotated[StrictStr, Field(min_length=1)]
    """The YAML file."""
    updates: list[YamlUpdate] = Field(min_length=1)
    """`{key, value}` pairs, applied in order."""


def shown_value(value: Any) -> str:
    """A value as the commit message shows it: quoted only when it would not read back as itself."""
    if isinstance(value, str):
        return json.dumps(value) if yamledit.needs_quotes(value) or ": " in value or " #" in value else value
    return json.dumps(value)


class YamlUpdateStep:
    """Apply every update, write the file once; output commitMessage."""

    name: ClassVar[str] = "yaml-update"
    config_model: ClassVar[type[StepConfig]] = YamlUpdateConfig
    outputs: ClassVar[dict[str, str]] = {
        "commitMessage": "`Updated <path>` and `- <key>: <value>` per update.",
    }

    def run(self, ctx: StepContext, config: YamlUpdateConfig) -> StepResult:
        path = ctx.path(config.path)
        document = yamledit.load(path, config.path)
        for update in config.updates:
            document.data = yamledit.set_path(document.data, update.key, update.value)
        document.save()
        lines = [f"- {u.key}: {shown_value(u.value)}" for u in config.updates]
        message = f"Updated {config.path}\n\n" + "\n".join(lines)
        return StepResult(
            message=f"updated {len(config.updates)} key(s) in {config.path}",
            outputs={"commitMessage": message},
        )
