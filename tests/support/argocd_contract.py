"""Argo CD's official API description (swagger.json, Swagger 2.0) as a checker of recorded exchanges.

openapi-core reads OpenAPI 3 only, and converting Swagger 2.0 would put a converter of our own between the
contract and the check. Swagger 2.0's schemas are JSON Schema draft 4, so this checks them with jsonschema
directly: the operation is found by method and path template, query parameters must be declared and of their
type, the body must fit the body parameter's schema, and the answer the schema of its status ("200", else
"default": runtimeError). Every object schema that lists properties is closed (additionalProperties: false):
Argo CD's objects are protobuf messages with a fixed set of fields, so a field the description does not have
is a misspelling on our side, which an open schema would let through. A merge patch sent to ApplicationPatch
is checked as a (partial) Application too.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jsonschema import Draft4Validator

from tests.conftest import shared_path


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, as the test server saw them."""

    method: str
    path: str
    query: str
    request_body: bytes
    status: int
    response_body: bytes
    response_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]


def _closed(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


class ArgoCDContract:
    """Validates request/response pairs against Argo CD's swagger.json."""

    def __init__(self, path: Path) -> None:
        self.document = json.loads(path.read_text())
        self._definitions = _closed(copy.deepcopy(self.document["definitions"]))
        self._validators: dict[str, Draft4Validator] = {}
        operations = []
        for template, item in self.document["paths"].items():
            regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            for method, spec in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    operations.append(_Operation(method.upper(), template, re.compile(f"^{regex}$"), spec))
        # literal segments win over parameters (/applications/manifestsWithFiles over /applications/{name})
        self._operations = sorted(operations, key=lambda o: o.template.count("{"))

    def operation(self, method: str, path: str) -> _Operation | None:
        return next(
            (o for o in self._operations if o.method == method.upper() and o.pattern.match(path)), None
        )

    def validator(self, ref: str) -> Draft4Validator:
        """A validator of the definition `ref` ("#/definitions/X") with every definition at hand."""
        if ref not in self._validators:
            schema = {"definitions": self._definitions, "$ref": ref}
            self._validators[ref] = Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
        return self._validators[ref]

    def problems(self, exchange: Exchange) -> list[str]:
        """What is wrong with one exchange (empty when both sides keep to Argo CD's contract)."""
        where = f"{exchange.method} {exchange.path} -> {exchange.status}"
        op = self.operation(exchange.method, exchange.path)
        if op is None:
            return [f"{where}: no such operation in Argo CD's API"]
        found = [f"{where}: request: {p}" for p in self._request_problems(op, exchange)]
        found += [f"{where}: response: {p}" for p in self._response_problems(op, exchange)]
        return found

    def _request_problems(self, op: _Operation, exchange: Exchange) -> list[str]:
        params = op.spec.get("parameters", [])
        query = {p["name"]: p for p in params if p["in"] == "query"}
        found: list[str] = []
        seen: dict[str, int] = {}
        for name, value in parse_qsl(exchange.query, keep_blank_values=True):
            seen[name] = seen.get(name, 0) + 1
            param = query.get(name)
            if param is None:
                found.append(f"query parameter {name!r} is not one of {op.spec['operationId']}'s")
                continue
            kind = param.get("items", {}).get("type") if param["type"] == "array" else param["type"]
            if kind == "boolean" and value not in ("true", "false"):
                found.append(f"query parameter {name!r}: {value!r} is not a boolean")
            if kind == "integer" and not re.fullmatch(r"-?\d+", value):
                found.append(f"query parameter {name!r}: {value!r} is not an integer")
            if param["type"] != "array" and seen[name] > 1:
                found.append(f"query parameter {name!r} given more than once")
        body_param = next((p for p in params if p["in"] == "body"), None)
        if body_param is None:
            if exchange.request_body:
                found.append("a body was sent to an operation that takes none")
            return found
        try:
            body = json.loads(exchange.request_body or b"null")
        except ValueError as err:
            return [*found, f"the body is not JSON: {err}"]
        if body is None and body_param.get("required"):
            return [*found, "the body is required"]
        found += _schema_problems(self.validator(body_param["schema"]["$ref"]), body)
        if op.spec["operationId"] == "ApplicationService_Patch" and isinstance(body, dict):
            found += self._patch_problems(body)
        return found

    def _patch_problems(self, body: dict[str, Any]) -> list[str]:
        if body.get("patchType") not in ("merge", "json"):
            return [f"patchType {body.get('patchType')!r} is not one Argo CD applies (merge, json)"]
        if body.get("patchType") != "merge":
            return []
        try:
            patch = json.loads(body.get("patch", ""))
        except ValueError as err:
            return [f"patch is not JSON: {err}"]
        return [
            f"merge patch: {p}"
            for p in _schema_problems(self.validator("#/definitions/v1alpha1Application"), patch)
        ]

    def _response_problems(self, op: _Operation, exchange: Exchange) -> list[str]:
        responses = op.spec["responses"]
        spec = responses.get(str(exchange.status)) or responses.get("default")
        if spec is None:
            return [f"status {exchange.status} is not described"]
        if exchange.status < 400 and str(exchange.status) not in responses:
            return [f"success status {exchange.status} is not described (only {sorted(responses)})"]
        content_type = {k.lower(): v for k, v in exchange.response_headers.items()}.get("content-type", "")
        if not content_type.startswith("application/json"):
            return [f"Content-Type {content_type!r} is not application/json"]
        try:
            body = json.loads(exchange.response_body)
        except ValueError as err:
            return [f"the body is not JSON: {err}"]
        return _schema_problems(self.validator(spec["schema"]["$ref"]), body)


def _schema_problems(validator: Draft4Validator, value: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message[:300]}"
        for e in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    ]


@functools.cache
def _contract_at(path: str) -> ArgoCDContract:
    return ArgoCDContract(Path(path))


def contract() -> ArgoCDContract:
    """The contract of the shared swagger.json, loaded once per process (skips when it is absent)."""
    return _contract_at(str(shared_path("specs", "argocd", "swagger.json")))
