"""toml-parse: config table, outputs computed from a real file with fromExpression, and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import PathEscapeError, TerminalStepError
from kargo_actions.promotion.steps.toml_parse import TomlParse, TomlParseConfig
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "c.toml", "outputs": [{"name": "v", "fromExpression": "package.version"}]}, []),
    (
        {"path": "c.toml", "outputs": [{"name": "v"}]},
        ["config.outputs[0].fromExpression: required field is missing"],
    ),
    (
        {"path": "c.toml", "outputs": [{"name": 1, "fromExpression": "a"}]},
        ["config.outputs[0].name: expected a string, found an integer"],
    ),
    (
        {"path": None, "outputs": [{"name": "v", "fromExpression": "a"}]},
        ["config.path: expected a string, found null"],
    ),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(TomlParseConfig, data) == expected


CARGO = """\
[package]
name = "app"
version = "0.4.2"
edition = 2021

[dependencies]
serde = { version = "1.0", features = ["derive"] }

[[bin]]
name = "app-cli"

[release]
date = 2024-05-01T10:00:00Z
"""

RUN_CASES: list[tuple[str, Any]] = [
    ("package.version", "0.4.2"),
    ("package.edition + 1", 2022),
    ("dependencies.serde.features[0]", "derive"),
    ("bin[0].name", "app-cli"),
    ("release.date", "2024-05-01T10:00:00Z"),
    ("package", {"name": "app", "version": "0.4.2", "edition": 2021}),
]


@pytest.mark.parametrize(("expression", "expected"), RUN_CASES)
def test_outputs(tmp_path: Path, expression: str, expected: Any) -> None:
    (tmp_path / "Cargo.toml").write_text(CARGO)
    config = TomlParseConfig.model_validate(
        {"path": "Cargo.toml", "outputs": [{"name": "value", "fromExpression": expression}]}
    )
    assert TomlParse().run(context(tmp_path), config).outputs == {"value": expected}


@pytest.mark.parametrize(
    ("content", "path", "message"),
    [
        (CARGO, "nope.toml", "path: 'nope.toml' does not exist"),
        ("", "c.toml", "path: 'c.toml' is empty; there is nothing to parse"),
        ("[package]\nname = app\n", "c.toml", "c.toml: not valid TOML: line 2, column 8: Invalid value"),
        (
            "[a]\nx = 1\n[a]\n",
            "c.toml",
            "c.toml: not valid TOML: line 3, column 3: Cannot declare ('a',) twice",
        ),
    ],
)
def test_bad_input(tmp_path: Path, content: str, path: str, message: str) -> None:
    (tmp_path / "c.toml").write_text(content)
    config = TomlParseConfig.model_validate({"path": path, "outputs": [{"name": "v", "fromExpression": "a"}]})
    with pytest.raises(TerminalStepError) as err:
        TomlParse().run(context(tmp_path), config)
    assert str(err.value) == message


def test_path_outside(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(CARGO)
    config = TomlParseConfig.model_validate(
        {"path": "../c.toml", "outputs": [{"name": "v", "fromExpression": "a"}]}
    )
    with pytest.raises(PathEscapeError, match=r"path: '\.\./c\.toml' leads outside the work dir"):
        TomlParse().run(context(tmp_path / "work"), config)
