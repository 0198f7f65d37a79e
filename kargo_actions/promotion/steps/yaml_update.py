"""yaml-update: set values at existing keys of a YAML file, editing only their lines, as Kargo does."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from kargo_actions.promotion.step_api import NonEmpty, StepConfig, StepContext, StepResult
from kargo_actions.promotion.steps.support import yamlbytes, yamledit


class YamlUpdate(StepConfig):
    """One key (`image.tag`, `containers.0.image`, `example\\.com/v`) and its new value."""

    key: NonEmpty
    """Dotted path to a scalar that exists: `image.tag`; list index `containers.0.image`; `\\.` is a literal dot (`example\\.com/version`), `\\:` a literal colon, and a leading `:` makes a numeric part a mapping key (`ports.:8080`). A key that does not exist, or that holds a mapping or a list, is an error."""
    value: Any
    """The new value: a string (quoted when it would read back as something else), number, boolean, null, list or mapping."""


class YamlUpdateConfig(StepConfig):
    """Kargo's YAMLUpdateConfig."""

    path: NonEmpty
    """The YAML file."""
    updates: list[YamlUpdate] = Field(min_length=1)
    """`{key, value}` pairs, applied in order."""


class YamlUpdateStep:
    """Apply every update, write the file once; output commitMessage."""

    name: ClassVar[str] = "yaml-update"
    config_model: ClassVar[type[StepConfig]] = YamlUpdateConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {
        "commitMessage": "`Updated <path>` and `- <key>: <value>` per update.",
    }

    def run(self, ctx: StepContext, config: YamlUpdateConfig) -> StepResult:
        path = ctx.path(config.path)
        text = yamledit.read(path, config.path)
        updates = [(u.key, u.value) for u in config.updates]
        path.write_bytes(yamlbytes.set_values_in_text(text, updates, config.path).encode())
        lines = [f"- {u.key}: {yamlbytes.kargo_value(u.value)}" for u in config.updates]
        message = f"Updated {config.path}\n\n" + "\n".join(lines)
        return StepResult(
            message=f"updated {len(config.updates)} key(s) in {config.path}",
            outputs={"commitMessage": message},
        )
