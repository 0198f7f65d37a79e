"""yaml-parse: config table, outputs computed from a real file with fromExpression, and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import PathEscapeError, TerminalStepError
from kargo_actions.promotion.steps.yaml_parse import YamlParse, YamlParseConfig
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "v.yaml", "outputs": [{"name": "tag", "fromExpression": "image.tag"}]}, []),
    ({"path": "v.yaml", "outputs": []}, ["config.outputs: must have at least 1 item"]),
    ({"path": "v.yaml"}, ["config.outputs: required field is missing"]),
    (
        {"path": "v.yaml", "outputs": [{"name": "", "fromExpression": "a"}]},
        ["config.outputs[0].name: must not be empty"],
    ),
    (
        {"path": "v.yaml", "outputs": [{"name": "a", "from_expression": "a"}]},
        ["config.outputs[0].from_expression: unknown field (did you mean 'fromExpression'?)"],
    ),
    (
        {"path": "v.yaml", "outputs": [{"name": "a", "fromExpression": "${{ a }}", "value": 1}]},
        ["config.outputs[0].value: unknown field (known fields: fromExpression, name)"],
    ),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(YamlParseConfig, data) == expected


VALUES = """\
# chart values
image:
  repository: ghcr.io/example/app
  tag: "v1.2.3"
replicas: 3
hosts: [a.example.com, b.example.com]
released: 2024-05-01
enabled: yes-please
apps:
  dev: {replicas: 1}
  prod: {replicas: 5}
"""

RUN_CASES: list[tuple[str, Any]] = [
    ("image.tag", "v1.2.3"),
    ("replicas * 2", 6),
    ("hosts[1]", "b.example.com"),
    ("len(hosts)", 2),
    ("image.repository + ':' + image.tag", "ghcr.io/example/app:v1.2.3"),
    ("apps['prod']", {"replicas": 5}),
    ("released", "2024-05-01"),
    ("image.missing", None),
    ("image?.missing?.deeper", None),
]


@pytest.mark.parametrize(("expression", "expected"), RUN_CASES)
def test_outputs(tmp_path: Path, expression: str, expected: Any) -> None:
    (tmp_path / "values.yaml").write_text(VALUES)
    config = YamlParseConfig.model_validate(
        {"path": "values.yaml", "outputs": [{"name": "value", "fromExpression": expression}]}
    )
    result = YamlParse().run(context(tmp_path), config)
    assert result.outputs == {"value": expected}


def test_several_outputs_by_name(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text(VALUES)
    outputs = [
        {"name": "tag", "fromExpression": "image.tag"},
        {"name": "count", "fromExpression": "replicas"},
    ]
    result = YamlParse().run(
        context(tmp_path), YamlParseConfig.model_validate({"path": "values.yaml", "outputs": outputs})
    )
    assert result.outputs["tag"] == "v1.2.3"
    assert result.outputs["count"] == 3


@pytest.mark.parametrize(
    ("content", "path", "expression", "error", "message"),
    [
        (VALUES, "nope.yaml", "a", TerminalStepError, "path: 'nope.yaml' does not exist"),
        (VALUES, "../v.yaml", "a", PathEscapeError, "path: '../v.yaml' leads outside the work dir"),
        ("", "v.yaml", "a", TerminalStepError, "path: 'v.yaml' is empty; there is nothing to parse"),
        (
            "a: 1\nb: [1,\n",
            "v.yaml",
            "a",
            TerminalStepError,
            "v.yaml: not valid YAML: line 3, column 1: expected the node content, but found '<stream end>'",
        ),
        (
            "- 1\n- 2\n",
            "v.yaml",
            "a",
            TerminalStepError,
            "v.yaml: the document is a list, not a mapping; fromExpression sees a mapping's keys as variables",
        ),
        (
            VALUES,
            "v.yaml",
            "nope.tag",
            TerminalStepError,
            'outputs[0].fromExpression (value): cannot read "tag" of "nope", which is not defined'
            " (in 'nope.tag' at column 1)",
        ),
        (
            VALUES,
            "v.yaml",
            "replicas +",
            TerminalStepError,
            "outputs[0].fromExpression (value): unexpected end of expression (in 'replicas +' at column 11)",
        ),
    ],
)
def test_bad_input(
    tmp_path: Path, content: str, path: str, expression: str, error: type[Exception], message: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "v.yaml").write_text(content)
    (tmp_path / "v.yaml").write_text(VALUES)
    config = YamlParseConfig.model_validate(
        {"path": path, "outputs": [{"name": "value", "fromExpression": expression}]}
    )
    with pytest.raises(error) as err:
        YamlParse().run(context(work), config)
    assert str(err.value) == message
