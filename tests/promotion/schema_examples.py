"""Configs generated from Kargo's step JSON Schemas: valid ones, and mutations of them that may be invalid.

A small generator of our own (hypothesis strategies) for the keywords Kargo's step schemas use: type,
properties, required, additionalProperties, minProperties, enum, const, minLength, pattern, format,
items, minItems, uniqueItems, minimum, maximum, oneOf, anyOf and $ref (local and to a sibling file).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

JSON = Any
_MAX_TEXT = 12

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=_MAX_TEXT),
)
ANY_JSON: st.SearchStrategy[JSON] = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def load_schemas(folder: Path) -> dict[str, dict[str, Any]]:
    """Every schema file of the folder by file name."""
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}


def inline(schemas: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    """The schema `name` with every $ref replaced by what it points at (no schema here is recursive)."""

    def resolve(doc: str, pointer: str) -> Any:
        node: Any = schemas[doc]
        for part in (p for p in pointer.split("/") if p):
            node = node[part]
        return node

    def walk(node: Any, doc: str) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target, _, pointer = node["$ref"].partition("#")
                doc_of_target = target or doc
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return {**walk(resolve(doc_of_target, pointer), doc_of_target), **walk(rest, doc)}
            return {k: walk(v, doc) for k, v in node.items() if k not in ("$schema", "definitions", "$id")}
        if isinstance(node, list):
            return [walk(v, doc) for v in node]
        return node

    result = walk(schemas[name], name)
    assert isinstance(result, dict)
    return result


def _merge(base: dict[str, Any], branch: dict[str, Any]) -> dict[str, Any]:
    """A oneOf/anyOf branch applied to the schema around it (properties merged one by one)."""
    merged = {k: v for k, v in base.items() if k not in ("oneOf", "anyOf")}
    for key, value in branch.items():
        if key == "properties":
            props = dict(merged.get("properties", {}))
            for prop, sub in value.items():
                props[prop] = {**props.get(prop, {}), **sub}
            merged["properties"] = props
        elif key == "required":
            merged["required"] = sorted({*merged.get("required", []), *value})
        else:
            merged[key] = value
    return merged


def strategy(schema: dict[str, Any]) -> st.SearchStrategy[JSON]:
    """Instances that the schema (mostly) accepts; callers filter with a real validator."""
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return st.one_of([strategy(_merge(schema, branch)) for branch in schema[key]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind is None:
        return ANY_JSON if "properties" not in schema else _object(schema)
    return {
        "object": _object,
        "string": _string,
        "integer": _integer,
        "number": _number,
        "boolean": lambda s: st.booleans(),
        "array": _array,
        "null": lambda s: st.none(),
    }[kind](schema)


def _string(schema: dict[str, Any]) -> st.SearchStrategy[JSON]:
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    if schema.get("format") == "email":
        return st.emails()
    if schema.get("format") == "uri":
        return st.builds(
            lambda host, path: f"https://{host}.example.com/{path}",
            st.from_regex(r"[a-z]{1,8}", fullmatch=True),
            st.from_regex(r"[a-z0-9/]{0,12}", fullmatch=True),
        )
    least = schema.get("minLength", 0)
    return st.text(
        st.characters(exclude_categories=("Cs", "Cc")), min_size=least, max_size=max(least, _MAX_TEXT)
    )


def _integer(schema: dict[str, Any]) -> st.SearchStrategy[JSON]:
    low = schema.get("minimum", -1000)
    return st.integers(low, schema.get("maximum", low + 2000))


def _number(schema: dict[str, Any]) -> st.SearchStrategy[JSON]:
    low = schema.get("minimum", -1000)
    high = schema.get("maximum", low + 2000)
    return st.integers(int(low), int(high)) | st.floats(low, high, allow_nan=False)


def _array(schema: dict[str, Any]) -> st.SearchStrategy[JSON]:
    items = strategy(schema.get("items", {}))
    least = schema.get("minItems", 0)
    unique: Callable[[Any], str] | None = (
        (lambda v: json.dumps(v, sort_keys=True)) if schema.get("uniqueItems") else None
    )
    return st.lists(items, min_size=least, max_size=least + 2, unique_by=unique)


def _object(schema: dict[str, Any]) -> st.SearchStrategy[JSON]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    extra = schema.get("additionalProperties", True)
    least = schema.get("minProperties", 0)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, sub in properties.items():
            if name in required or draw(st.booleans()):
                result[name] = draw(strategy(sub))
        if extra is not False:
            values = ANY_JSON if extra is True else strategy(extra)
            count = draw(st.integers(max(0, least - len(result)), max(least - len(result), 0) + 2))
            for _ in range(count):
                key = draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in properties))
                result[key] = draw(values)
        return result

    return build()


# Values of every JSON type, to put where the schema expects another one.
WRONG_VALUES: tuple[JSON, ...] = (None, 7, 2.5, "text", True, [], {}, [1], {"k": "v"}, "")


def paths_of(instance: JSON, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every location inside an instance (the root excluded)."""
    found: list[tuple[str | int, ...]] = []
    if isinstance(instance, dict):
        for key, value in instance.items():
            found.append((*prefix, key))
            found += paths_of(value, (*prefix, key))
    elif isinstance(instance, list):
        for index, value in enumerate(instance):
            found.append((*prefix, index))
            found += paths_of(value, (*prefix, index))
    return found


def replaced(instance: JSON, path: tuple[str | int, ...], value: JSON) -> JSON:
    """A copy of instance with the value at path replaced."""
    copy = json.loads(json.dumps(instance))
    node = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return copy


def removed(instance: JSON, path: tuple[str | int, ...]) -> JSON:
    """A copy of instance without the key or item at path."""
    copy = json.loads(json.dumps(instance))
    node = copy
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return copy
