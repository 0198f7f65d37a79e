"""json-parse: config table, outputs computed from a real file with fromExpression, and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import PathEscapeError, TerminalStepError
from kargo_actions.promotion.steps.json_parse import JsonParse, JsonParseConfig
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "p.json", "outputs": [{"name": "v", "fromExpression": "version"}]}, []),
    ({"outputs": [{"name": "v", "fromExpression": "version"}]}, ["config.path: required field is missing"]),
    (
        {"path": "p.json", "outputs": [{"name": "v", "fromExpression": ""}]},
        ["config.outputs[0].fromExpression: must not be empty"],
    ),
    (
        {"path": "p.json", "outputs": {"name": "v", "fromExpression": "a"}},
        ["config.outputs: expected a list, found a mapping"],
    ),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(JsonParseConfig, data) == expected


PACKAGE = """\
{
  "name": "app",
  "version": "2.1.0",
  "dependencies": {"left-pad": "^1.3.0", "react": "18.2.0"},
  "files": ["dist", "README.md"],
  "size": 1.5,
  "private": true
}
"""

RUN_CASES: list[tuple[str, Any]] = [
    ("version", "2.1.0"),
    ("dependencies['left-pad']", "^1.3.0"),
    ("files[0]", "dist"),
    ("size * 2", 3.0),
    ("private", True),
    ("name + '@' + version", "app@2.1.0"),
    ("keys(dependencies)", ["left-pad", "react"]),
    ("dependencies", {"left-pad": "^1.3.0", "react": "18.2.0"}),
]


@pytest.mark.parametrize(("expression", "expected"), RUN_CASES)
def test_outputs(tmp_path: Path, expression: str, expected: Any) -> None:
    (tmp_path / "package.json").write_text(PACKAGE)
    config = JsonParseConfig.model_validate(
        {"path": "package.json", "outputs": [{"name": "value", "fromExpression": expression}]}
    )
    assert JsonParse().run(context(tmp_path), config).outputs == {"value": expected}


@pytest.mark.parametrize(
    ("content", "path", "expression", "error", "message"),
    [
        (PACKAGE, "nope.json", "a", TerminalStepError, "path: 'nope.json' does not exist"),
        (
            PACKAGE,
            "/p.json",
            "a",
            PathEscapeError,
            "path: '/p.json' is absolute; step paths are relative to the work dir",
        ),
        (
            '{\n  "a": 1,\n}\n',
            "p.json",
            "a",
            TerminalStepError,
            "p.json: not valid JSON: line 3, column 1: Expecting property name enclosed in double quotes",
        ),
        (
            '"text"',
            "p.json",
            "a",
            TerminalStepError,
            "p.json: the document is a string, not a mapping; fromExpression sees a mapping's keys as variables",
        ),
        (
            "null",
            "p.json",
            "a",
            TerminalStepError,
            "p.json: the document is empty, not a mapping; fromExpression sees a mapping's keys as variables",
        ),
        (
            PACKAGE,
            "p.json",
            "version(",
            TerminalStepError,
            "outputs[0].fromExpression (value): unexpected end of expression (in 'version(' at column 9)",
        ),
    ],
)
def test_bad_input(
    tmp_path: Path, content: str, path: str, expression: str, error: type[Exception], message: str
) -> None:
    (tmp_path / "p.json").write_text(content)
    config = JsonParseConfig.model_validate(
        {"path": path, "outputs": [{"name": "value", "fromExpression": expression}]}
    )
    with pytest.raises(error) as err:
        JsonParse().run(context(tmp_path), config)
    assert str(err.value) == message
