"""The record schemas and `conform` against the record models they stand in for on the quick read path.

The contract (kargo_actions/ledger/shapes.py): what `conform` accepts, the model accepts, with the same wire
form; and every record the models write, `conform` accepts (else the quick path would never be taken).
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from kargo_actions.ledger.shapes import KEYWORDS, Mismatch, SchemaError, conform, record_schema
from kargo_actions.report.record_schemas import RECORDS, main, render, stale_files

JSON_SCALARS = st.one_of(st.booleans(), st.integers(-5, 5), st.text(max_size=5), st.none())
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def valid(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that satisfy `schema` (the subset the generated schemas use), built from the schema itself."""
    if "$ref" in schema:
        return st.deferred(lambda: valid(root["$defs"][schema["$ref"].rsplit("/", 1)[-1]], root))
    if "anyOf" in schema:
        return st.one_of([valid(option, root) for option in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=8)
    if kind == "integer":
        return st.integers(-3, 3)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(valid(schema.get("items", {}), root), max_size=min(2, schema.get("maxItems", 2)))
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fixed = {name: valid(sub, root) for name, sub in properties.items() if name in required}
        optional = {name: valid(sub, root) for name, sub in properties.items() if name not in required}
        base = st.fixed_dictionaries(fixed, optional=optional)
        extra = schema.get("additionalProperties", True)
        if not properties and isinstance(extra, dict):
            return st.dictionaries(st.text(max_size=6), valid(extra, root), max_size=2)
        if not properties and extra is True:
            return st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=2)
        return base
    return JSON_VALUES  # untyped


def mutated(value: Any) -> st.SearchStrategy[Any]:
    """A value changed in one place: a key dropped, added, renamed to snake_case, or a value replaced."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for key, item in node.items():
                walk(item, (*path, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, (*path, index))

    walk(value, ())

    def apply(path: tuple[Any, ...], how: int, replacement: Any) -> Any:
        copy = json.loads(json.dumps(value))
        if not path:
            return replacement
        parent = copy
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if how == 0 and isinstance(parent, dict):
            del parent[last]
        elif how == 1 and isinstance(parent, dict) and isinstance(last, str):
            snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in last)
            parent[snake] = parent.pop(last)
        elif how == 2 and isinstance(parent, dict):
            parent[f"{last}x"] = replacement
        else:
            parent[last] = replacement
        return copy

    return st.builds(apply, st.sampled_from(paths), st.integers(0, 3), JSON_VALUES)


def model_wire(model: type[BaseModel], value: Any) -> dict[str, Any] | None:
    try:
        return model.model_validate(value).model_dump(by_alias=True, exclude_none=True, mode="json")
    except ValidationError:
        return None


@pytest.mark.parametrize("stem", sorted(RECORDS))
def test_generated_schemas_are_fresh_and_valid_json_schema(stem: str) -> None:
    schema = record_schema(stem)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert json.dumps(schema, indent=2, ensure_ascii=False) + "\n" == render(RECORDS[stem])
    text = json.dumps(schema)
    assert all(key in KEYWORDS or not key.startswith("$") for key in schema)
    assert '"title": "Repourl"' not in text  # field titles are left out


def test_schema_files_check_and_write(tmp_path: Any) -> None:
    assert stale_files() == [], "run .venv/bin/python -m kargo_actions.report.record_schemas --write"
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    assert main(["--write", "--dir", str(tmp_path)]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / "alias-record.schema.json").write_text("{}\n")
    assert stale_files(tmp_path) == [tmp_path / "alias-record.schema.json"]


@pytest.mark.parametrize("stem", sorted(RECORDS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_valid_records_conform_with_the_models_wire_form(stem: str, data: st.DataObject) -> None:
    schema = record_schema(stem)
    value = data.draw(valid(schema, schema))
    expected = model_wire(RECORDS[stem], value)
    assert expected is not None, f"the model refuses a value its schema allows: {value!r}"
    assert conform(value, schema) == expected
    assert list(conform(value, schema)) == list(expected)  # property order too: `-o json` prints it


@pytest.mark.parametrize("stem", sorted(RECORDS))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_conform_accepts_only_what_the_model_accepts(stem: str, data: st.DataObject) -> None:
    schema = record_schema(stem)
    value = data.draw(valid(schema, schema).flatmap(mutated))
    try:
        ours = conform(value, schema)
    except Mismatch:
        return  # refusing more than the model is allowed: the model then reads it
    assert model_wire(RECORDS[stem], value) == ours
    jsonschema.validate(value, schema)  # and the JSON Schema reading of the file agrees


def test_records_the_ledger_writes_conform() -> None:
    from kargo_actions.ledger.records import FreightRecord, StageStateRecord, dump_record
    from tests.ledger.helpers import make_commit_freight, make_freight

    for freight in (
        make_freight(3, alias="brave-otter"),
        make_commit_freight("https://g.example/r.git", "a" * 40),
    ):
        data = json.loads(dump_record(FreightRecord.of(freight)))
        assert conform(data, record_schema("freight-record")) == {**freight.wire(), "schemaVersion": 1}
    state = json.loads(dump_record(StageStateRecord(stage="dev")))
    assert conform(state, record_schema("stage-state-record"))["currentFreight"] == []


@pytest.mark.parametrize(
    ("value", "schema", "result"),
    [
        ("a", {"type": "string", "minLength": 1}, "a"),
        ("", {"type": "string", "minLength": 1}, Mismatch),
        (True, {"type": "integer"}, Mismatch),  # a bool is not an integer here, as in pydantic
        (1.0, {"const": 1, "type": "integer"}, Mismatch),
        ([1, 2, 3], {"type": "array", "items": {"type": "integer"}, "maxItems": 2}, Mismatch),
        (
            {"a": None},
            {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}}},
            {},
        ),
        ({}, {"type": "object", "properties": {"a": {"type": "array", "default": []}}}, {"a": []}),
        ({"x": 1}, {"type": "object", "additionalProperties": False}, Mismatch),
        ({"x": {"y": None}}, {"type": "object", "additionalProperties": True}, {"x": {"y": None}}),
        ({"x": None}, {"type": "object", "additionalProperties": {"anyOf": [{"type": "null"}]}}, Mismatch),
        ("b", {"enum": ["a", "b"]}, "b"),
        (1, {"type": "number"}, SchemaError),
        (1, {"type": "integer", "minimum": 0}, SchemaError),  # a keyword the quick path does not check
    ],
)
def test_conform_keywords(value: Any, schema: dict[str, Any], result: Any) -> None:
    if isinstance(result, type) and issubclass(result, Exception):
        with pytest.raises(result):
            conform(value, schema)
    else:
        assert conform(value, schema) == result
