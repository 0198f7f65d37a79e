"""pydantic's validation errors in this project's words: the one translator for every caller that validates input.

Each problem keeps its field path (`loc`, without the union members pydantic adds) so the caller can place it:
the loader at a file, line and column, step-config validation under `config`, a ledger record under its file.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from kargo_actions.errors import did_you_mean
from kargo_actions.model.base import model_in
from kargo_actions.struct import struct

Loc = tuple[str | int, ...]

# pydantic error type -> what the field expected, as the messages say it.
EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "a boolean (true or false)",
    "bool_parsing": "a boolean (true or false)",
    "float_type": "a number",
    "float_parsing": "a number",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


@struct
class FieldProblem:
    """One problem of a document or config: where (field path), what, and how to fix it."""

    loc: Loc
    message: str
    hint: str = ""


def type_name(value: Any) -> str:
    """What a value read from YAML or JSON is, as the messages say it."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if value is None:
        return "null"
    return "a string"


def field_problems(err: ValidationError, model: type[BaseModel]) -> list[FieldProblem]:
    """Every error of `err` (raised validating `model`) as a FieldProblem, in pydantic's order.

    A value that fits no member of a union (int | str) fails once per member: those become one problem. A
    misspelt required field fails twice (unknown `stepz`, missing `steps`): the unknown field says it all.
    """
    errors = err.errors(include_url=False)
    translated = [(_clean(error["loc"]), error, *_message_for(error, model)) for error in errors]
    meant = {
        (*loc[:-1], hint.split("'")[1])
        for loc, error, _, hint in translated
        if error["type"] == "extra_forbidden" and hint.startswith("did you mean '")
    }
    problems: list[FieldProblem] = []
    type_errors: dict[Loc, tuple[int, list[str], str]] = {}
    for loc, error, message, hint in translated:
        if error["type"] == "missing" and loc in meant:
            continue
        if error["type"] in EXPECTED:
            if loc not in type_errors:
                type_errors[loc] = (len(problems), [], type_name(error.get("input")))
                problems.append(FieldProblem(loc, ""))  # filled in below, once every member is known
            type_errors[loc][1].append(EXPECTED[error["type"]])
        else:
            problems.append(FieldProblem(loc, message, hint))
    for loc, (index, expected, found) in type_errors.items():
        problems[index] = FieldProblem(loc, f"expected {' or '.join(dict.fromkeys(expected))}, found {found}")
    return problems


def dotted(loc: Loc) -> str:
    """A field path as flags, settings and JSON records name it: `freight.0.origin` (no brackets)."""
    return ".".join(str(p) for p in loc)


def one_line(err: ValidationError, model: type[BaseModel]) -> str:
    """The first problem of `err` as one line of text (`field.path: message`), for a message with room for one."""
    problems = field_problems(err, model)
    first = problems[0]
    text = f"{dotted(first.loc)}: {first.message}" if first.loc else first.message
    if first.hint:
        text += f" ({first.hint})"
    more = len(problems) - 1
    return text + (f" (and {more} more problem{'' if more == 1 else 's'})" if more else "")


def _clean(loc: Any) -> Loc:
    # pydantic names the union member it tried (e.g. "str", "list[str]"); the document has no such key.
    return tuple(
        p for p in loc if not (isinstance(p, str) and (p in ("str", "int", "bool", "float") or "[" in p))
    )


def _message_for(error: Any, model: type[BaseModel]) -> tuple[str, str]:
    """Turn one pydantic error into (message, hint)."""
    kind = error["type"]
    loc = _clean(error["loc"])
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required field is missing", ""
    if kind == "extra_forbidden":
        known = _known_fields(model, loc[:-1])
        hint = did_you_mean(str(loc[-1]), known) or (
            ("known fields: " + ", ".join(sorted(known))) if known else ""
        )
        return "unknown field", hint
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        return f"must be one of {expected}, not {value!r}", did_you_mean(
            str(value), re.findall(r"'([^']*)'", expected)
        )
    if kind in EXPECTED:
        return f"expected {EXPECTED[kind]}, found {type_name(value)}", ""
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return f"must have at least {least} item{'' if least == 1 else 's'}", ""
    if kind == "string_too_short":
        return "must not be empty", ""
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long", ""
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = ctx.get("ge", ctx.get("le", ctx.get("gt", ctx.get("lt"))))
        word = {"greater_than_equal": "at least", "less_than_equal": "at most"}.get(
            kind, kind.replace("_", " ")
        )
        return f"must be {word} {bound}, not {value!r}", ""
    message = str(error.get("msg", ""))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message, ""


def _known_fields(model: type[BaseModel], loc: Loc) -> list[str]:
    """Wire names of the fields valid at loc, found by walking the model classes along it."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int):
            continue
        field = next((f for name, f in current.model_fields.items() if part in (f.alias, name)), None)
        if field is None:
            return []
        current = model_in(field.annotation)
    if current is None:
        return []
    return [f.alias or n for n, f in current.model_fields.items() if not f.exclude]
