"""json-update: set values at dotted keys of a JSON file, changing only those values' text."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field

from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from kargo_actions.promotion.steps.support import structured
from kargo_actions.promotion.steps.support.jsonedit import JsonText
from kargo_actions.promotion.steps.support.keypath import parse_key


class JsonUpdate(StepConfig):
    """One key (`image.tag`, `containers.0.image`, `example\\.com/v`) and its new scalar value."""

    key: NonEmpty
    """Dotted path: `image.tag`; list index `ports.0`; `-1` (or an index past the end) appends; `\\.` is a literal dot, `:0` a key that looks like a number. Missing keys are created."""
    value: Any
    """The new value: a string, number or boolean."""


class JsonUpdateConfig(StepConfig):
    """Kargo's JSONUpdateConfig."""

    path: NonEmpty
    """The JSON file."""
    updates: list[JsonUpdate] = Field(min_length=1)
    """`{key, value}` pairs, applied in order."""


def check_scalar(step: str, index: int, key: str, value: Any) -> None:
    """Kargo's *-update steps set strings, numbers and booleans only."""
    if value is None or isinstance(value, dict | list):
        kind = "null" if value is None else ("an object" if isinstance(value, dict) else "a list")
        raise TerminalStepError(
            f"updates[{index}].value for key {key!r} is {kind}; {step} sets strings, numbers and booleans only"
        )


def commit_line(key: str, value: Any) -> str:
    """`- key: value` as Kargo writes it: strings quoted (Go's %q), other values as Go's %v."""
    from kargo_actions.expressions.builtins import go_value_text

    return f"- {key}: {json.dumps(value, ensure_ascii=False) if isinstance(value, str) else go_value_text(value)}"


class JsonUpdateStep:
    """Apply every update to the text, write the file once; output commitMessage."""

    name: ClassVar[str] = "json-update"
    config_model: ClassVar[type[StepConfig]] = JsonUpdateConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {
        "commitMessage": "`Updated <path>` and `- <key>: <value>` per update"
    }

    def run(self, ctx: StepContext, config: JsonUpdateConfig) -> StepResult:
        path = ctx.path(config.path)
        text = structured.read_path(path, config.path, kind="JSON file")
        structured.parse_json(text, config.path)
        document = JsonText(text)
        for index, update in enumerate(config.updates):
            check_scalar(self.name, index, update.key, update.value)
            parse_key(update.key)
            document.set(update.key, update.value)
        try:
            path.write_text(document.text, encoding="utf-8")
        except OSError as err:
            raise StepError(f"path: cannot write {config.path!r}: {err.strerror or err}") from err
        lines = "\n".join(commit_line(u.key, u.value) for u in config.updates)
        return StepResult(
            message=f"updated {len(config.updates)} key(s) in {config.path}",
            outputs={"commitMessage": f"Updated {config.path}\n\n{lines}"},
        )
