"""Record schemas without pydantic: check a parsed record against its JSON Schema and give its wire form.

The schemas in `kargo_actions/ledger/schemas/` are generated from the record models
(`python -m kargo_actions.report.record_schemas --write`; a test fails when they are stale). `conform`
understands the subset of JSON Schema those files use and nothing else, so a schema that needs more fails
loudly (SchemaError) instead of passing records unchecked.

The contract with the models: a record `conform` accepts is one the model accepts, and the value it returns
is the model's wire form (`KargoModel.wire()`: properties in field order, defaults filled, nulls left out).
It may refuse records the model would accept (snake_case keys, say); callers then read through the model,
which also gives the precise error for a bad record. A differential test holds both halves of the contract.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).parent / "schemas"
# Every keyword the generated schemas may use; anything else is a SchemaError.
KEYWORDS = frozenset(
    {
        "$schema",
        "$defs",
        "$ref",
        "title",
        "description",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "anyOf",
        "const",
        "enum",
        "default",
        "minLength",
        "maxItems",
    }
)


class Mismatch(ValueError):
    """The value does not conform (or conforms only in a way the quick path does not reproduce)."""


class SchemaError(RuntimeError):
    """The schema uses a keyword this module does not implement: a bug, never bad input."""


@cache
def record_schema(name: str) -> dict[str, Any]:
    """A generated record schema by file stem, e.g. `freight-record`."""
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    return schema


def conform(value: Any, schema: dict[str, Any]) -> Any:
    """`value` (parsed JSON) checked against `schema` (a whole schema, with its $defs); its wire form."""
    return _conform(value, schema, schema.get("$defs", {}))


def _conform(value: Any, schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    unknown = schema.keys() - KEYWORDS
    if unknown:
        raise SchemaError(f"unsupported schema keywords: {', '.join(sorted(unknown))}")
    if "$ref" in schema:
        return _conform(value, defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            try:
                return _conform(value, option, defs)
            except Mismatch:
                continue
        raise Mismatch("matches none of anyOf")
    if "const" in schema and not _same(value, schema["const"]):
        raise Mismatch(f"expected {schema['const']!r}")
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        raise Mismatch(f"expected one of {schema['enum']!r}")
    kind = schema.get("type")
    if kind is None:
        return value  # untyped (Any): taken as it is, nulls inside included, as the models keep them
    if kind == "object":
        return _object(value, schema, defs)
    if kind == "array":
        if type(value) is not list or len(value) > schema.get("maxItems", len(value)):
            raise Mismatch("expected an array")
        items = schema.get("items", {})
        return [_not_null(_conform(item, items, defs)) if items else item for item in value]
    if kind == "string":
        if type(value) is not str or len(value) < schema.get("minLength", 0):
            raise Mismatch("expected a string")
        return value
    if kind == "integer":
        if type(value) is not int:
            raise Mismatch("expected an integer")
        return value
    if kind == "boolean":
        if type(value) is not bool:
            raise Mismatch("expected a boolean")
        return value
    if kind == "null":
        if value is not None:
            raise Mismatch("expected null")
        return None
    raise SchemaError(f"unsupported schema type {kind!r}")


def _object(value: Any, schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if type(value) is not dict:
        raise Mismatch("expected an object")
    properties: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    if any(name not in value for name in schema.get("required", ())):
        raise Mismatch("a required property is missing")
    out: dict[str, Any] = {}
    for name, sub in properties.items():
        if name in value:
            item = _conform(value[name], sub, defs)
        elif "default" in sub:
            item = json.loads(json.dumps(sub["default"]))  # a fresh copy of a list or object default
        else:
            continue
        if item is not None:
            out[name] = item
    for name, item in value.items():
        if name in properties:
            continue
        if extra is False:
            raise Mismatch(f"unexpected property {name!r}")
        out[name] = _not_null(_conform(item, extra, defs)) if isinstance(extra, dict) and extra else item
    return out


def _not_null(value: Any) -> Any:
    """A typed item of an array or map that is null: whether the model keeps it is the model's call."""
    if value is None:
        raise Mismatch("null item")
    return value


def _same(value: Any, expected: Any) -> bool:
    return type(value) is type(expected) and value == expected
