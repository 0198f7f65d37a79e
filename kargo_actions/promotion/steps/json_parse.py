"""json-parse: read a JSON file and compute outputs from it with fromExpression (expr-lang, no `${{ }}`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from kargo_actions.promotion.step_api import NonEmpty, StepConfig, StepContext, StepResult, TerminalStepError
from kargo_actions.promotion.steps.support import structured


class JsonParseConfig(StepConfig):
    """Kargo's JSONParseConfig."""

    path: NonEmpty
    """The JSON file to read."""
    outputs: list[structured.ParseOutput] = Field(min_length=1)
    """The outputs to compute from it, in order."""


class JsonParse:
    """Parse the file once, evaluate each output's expression against it."""

    name: ClassVar[str] = "json-parse"
    outputs: ClassVar[dict[str, str]] = {"<name>": "one per `outputs` entry: the value of its fromExpression"}
    config_model: ClassVar[type[StepConfig]] = JsonParseConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)

    def run(self, ctx: StepContext, config: JsonParseConfig) -> StepResult:
        text = structured.read_text(ctx, config.path, kind="JSON file")
        if not text.strip():
            raise TerminalStepError(f"path: {config.path!r} is empty; there is nothing to parse")
        data = structured.parse_json(text, config.path)
        outputs = structured.extract_outputs(data, config.outputs, config.path)
        return StepResult(message=f"parsed {config.path}: {len(outputs)} output(s)", outputs=outputs)
