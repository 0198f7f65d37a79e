"""Reading JSON, YAML and TOML files for steps: plain data, and errors that name the file, line and column."""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from kargo_actions.promotion.step_api import NonEmpty, StepConfig, StepContext, StepError, TerminalStepError


def read_text(ctx: StepContext, relative: str, *, field_name: str = "path", kind: str = "file") -> str:
    """The text of a work-dir file; a missing file or a directory is a terminal error naming the field."""
    path = ctx.path(relative, field_name=field_name)
    return read_path(path, relative, field_name=field_name, kind=kind)


def read_path(path: Path, shown: str, *, field_name: str = "path", kind: str = "file") -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TerminalStepError(f"{field_name}: {shown!r} does not exist") from None
    except IsADirectoryError:
        raise TerminalStepError(f"{field_name}: {shown!r} is a directory, not a {kind}") from None
    except UnicodeDecodeError as err:
        raise TerminalStepError(f"{shown}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise StepError(f"{field_name}: cannot read {shown!r}: {err.strerror or err}") from err


_TOML_PLACE = re.compile(r" \((?:at line (\d+), column (\d+)|at end of document)\)$")


def where(line: int, column: int) -> str:
    return f"line {line}, column {column}"


def parse_json(text: str, shown: str) -> Any:
    """JSON text as Python data; duplicate keys keep the last value, as Go's decoder does."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise TerminalStepError(
            f"{shown}: not valid JSON: {where(err.lineno, err.colno)}: {err.msg}"
        ) from None


def yaml_error(shown: str, err: YAMLError) -> TerminalStepError:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    at = f"{where(mark.line + 1, mark.column + 1)}: " if mark is not None else ""
    return TerminalStepError(f"{shown}: not valid YAML: {at}{problem}")


def parse_yaml(text: str, shown: str) -> Any:
    """One YAML document as plain data (timestamps become their RFC 3339 text)."""
    loader = YAML(typ="safe", pure=True)
    try:
        data = loader.load(text)
    except YAMLError as err:
        raise yaml_error(shown, err) from None
    return plain(data)


def parse_toml(text: str, shown: str) -> Any:
    """TOML text as plain data (dates and times become their RFC 3339 text)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        # tomllib's message ends "(at line L, column C)" or "(at end of document)"; put the place first.
        message = str(err)
        match = _TOML_PLACE.search(message)
        if match:
            place = where(int(match[1]), int(match[2])) if match[1] else "at the end"
            message = f"{place}: {message[: match.start()]}"
        raise TerminalStepError(f"{shown}: not valid TOML: {message}") from None
    return plain(data)


def plain(value: Any) -> Any:
    """JSON-ready data: mapping keys as text, dates and times as RFC 3339 text."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else _key_text(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime):
        text = value.isoformat()
        return text.replace("+00:00", "Z") if value.tzinfo is not None else text
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


class ParseOutput(StepConfig):
    """One output of a *-parse step: its name and the expression (no `${{ }}`) that computes it."""

    name: NonEmpty
    """The output's name (`outputs.<alias>.<name>`)."""
    from_expression: NonEmpty
    """An expression without `${{ }}`; the document's top-level keys are its variables (`image.tag`)."""


def extract_outputs(data: Any, outputs: Sequence[ParseOutput], shown: str) -> dict[str, Any]:
    """Evaluate every output's expression with the document's top-level keys as variables (as Kargo's expr.Run)."""
    from kargo_actions.expressions import Environment, ExpressionError, compile_expression

    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__.replace('str', 'string')}"
        raise TerminalStepError(
            f"{shown}: the document is {kind}, not a mapping; fromExpression sees a mapping's keys as variables"
        )
    env = Environment(variables=data)
    results: dict[str, Any] = {}
    for index, output in enumerate(outputs):
        try:
            results[output.name] = compile_expression(output.from_expression).evaluate_plain(env)
        except ExpressionError as err:
            raise TerminalStepError(
                f"outputs[{index}].fromExpression ({output.name}): {err.message} "
                f"(in {output.from_expression!r} at column {err.column})"
            ) from None
    return results
