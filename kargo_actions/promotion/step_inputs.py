"""A step's config from a composite action's inputs: one input per top-level config field, typed by the model.

GitHub hands every input over as a string ('' when not given). The per-step actions pass them in environment
variables `KARGO_STEP_INPUT_<field>` (never through a shell template); this module turns them back into the
JSON the step's config model expects: strings stay strings, booleans and integers are parsed, lists and
objects are read as YAML (so JSON works too, and a `with:` block scalar reads naturally).

Run as `python -m kargo_actions.promotion.step_inputs STEP OUT.json`.
"""

from __future__ import annotations

import enum
import json
import os
import sys
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from kargo_actions.errors import InvalidInputError, KargoActionsError, Problem
from kargo_actions.model.base import strip_annotation
from kargo_actions.report.step_docs import field_descriptions
from kargo_actions.struct import struct

ENV_PREFIX = "KARGO_STEP_INPUT_"
CONFIG_ENV = "KARGO_STEP_CONFIG"

Kind = Literal["string", "boolean", "integer", "number", "yaml"]


@struct
class InputField:
    """One top-level config field as an action input."""

    name: str  # the wire name (camelCase), also the input's name
    kind: Kind
    required: bool
    description: str
    choices: tuple[str, ...] = ()


def _kind(annotation: Any) -> tuple[Kind, tuple[str, ...]]:
    annotation = strip_annotation(annotation)
    origin = typing.get_origin(annotation)
    if origin is Literal:
        values = typing.get_args(annotation)
        if all(isinstance(v, str) for v in values):
            return "string", tuple(str(v) for v in values)
        return "yaml", ()
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return "boolean", ()
        if issubclass(annotation, enum.Enum):
            return "string", tuple(str(m.value) for m in annotation)
        if issubclass(annotation, str):
            return "string", ()
        if issubclass(annotation, int):
            return "integer", ()
        if issubclass(annotation, float):
            return "number", ()
    return "yaml", ()


def input_fields(model: type[BaseModel]) -> list[InputField]:
    """The config model's top-level fields as action inputs, in the model's order."""
    fields: list[InputField] = []
    descriptions = field_descriptions(model)
    for name, info in model.model_fields.items():
        kind, choices = _kind(info.annotation)
        fields.append(
            InputField(
                name=info.alias or name,
                kind=kind,
                required=info.is_required(),
                description=" ".join(descriptions[name].split()),
                choices=choices,
            )
        )
    return fields


def _parse(field: InputField, text: str) -> Any:
    if field.kind == "string":
        return text
    if field.kind == "boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError("expected true or false")
    if field.kind == "integer":
        return int(text.strip())
    if field.kind == "number":
        return float(text.strip())
    from io import StringIO

    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        value = YAML(typ="safe", pure=True).load(StringIO(text))
    except YAMLError as err:
        raise ValueError(f"not YAML/JSON: {str(err).splitlines()[0]}") from err
    return json.loads(json.dumps(value, default=str))


def config_from_inputs(step: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The step's config: KARGO_STEP_CONFIG (a JSON/YAML object) overlaid by every non-empty per-field input.

    Problems name the input and are all reported at once (InvalidInputError, exit 2).
    """
    from kargo_actions.promotion.registry import get_step

    model = get_step(step).config_model
    problems: list[Problem] = []
    config: dict[str, Any] = {}
    base = env.get(CONFIG_ENV, "").strip()
    if base:
        try:
            loaded = _parse(InputField("config", "yaml", False, ""), base)
        except ValueError as err:
            loaded = None
            problems.append(Problem(path="inputs.config", message=str(err)))
        if isinstance(loaded, dict):
            config.update(loaded)
        elif loaded is not None:
            problems.append(Problem(path="inputs.config", message="must be an object of config fields"))
    for field in input_fields(model):
        text = env.get(ENV_PREFIX + field.name, "")
        if text == "":
            continue  # GitHub gives '' for an input left out
        try:
            config[field.name] = _parse(field, text)
        except ValueError as err:
            problems.append(Problem(path=f"inputs.{field.name}", message=f"{err} (got {text[:40]!r})"))
    if problems:
        raise InvalidInputError(problems)
    return config


def main(argv: list[str] | None = None) -> int:
    """`python -m kargo_actions.promotion.step_inputs STEP OUT.json`: write the config built from the environment."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m kargo_actions.promotion.step_inputs STEP OUT.json", file=sys.stderr)
        return 2
    try:
        config = config_from_inputs(args[0], os.environ)
    except KargoActionsError as err:
        for line in err.lines():
            print(f"error: {line}", file=sys.stderr)
        return int(err.exit_code)
    Path(args[1]).write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
