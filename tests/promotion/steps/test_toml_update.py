"""toml-update: config table, a real file diffed before/after (comments and layout kept), Kargo's refusals."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import PathEscapeError, TerminalStepError
from kargo_actions.promotion.steps.toml_update import TomlUpdateConfig, TomlUpdateStep
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "a.toml", "updates": [{"key": "a", "value": "b"}]}, []),
    ({"path": "a.toml", "updates": [{"key": "a", "value": [1]}]}, []),  # the schema allows any value
    ({"path": "a.toml", "updates": []}, ["config.updates: must have at least 1 item"]),
    ({"path": "a.toml", "updates": [{"value": 1}]}, ["config.updates[0].key: required field is missing"]),
    ({"path": "", "updates": [{"key": "a", "value": 1}]}, ["config.path: must not be empty"]),
    (
        {"path": "a.toml", "update": [{"key": "a", "value": 1}]},
        ["config.update: unknown field (did you mean 'updates'?)"],
    ),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(TomlUpdateConfig, data) == expected


CARGO = """\
# Build settings
title = "app"   # shown in the UI

[package]
version = '1.0.0'  # literal string stays literal
ports = [80,   443]   # odd spacing is kept
inline = { image = "app", tag = "v1" }
dotted.key = 5

[[servers]]
name = "a"

[[servers]]
name = "b"

[labels]
"example.com/version" = "1"
"""

EXPECTED_DIFF = """\
--- before
+++ after
@@ -1,17 +1,17 @@
 # Build settings
-title = "app"   # shown in the UI
+title = "web"   # shown in the UI
~
 [package]
-version = '1.0.0'  # literal string stays literal
-ports = [80,   443]   # odd spacing is kept
-inline = { image = "app", tag = "v1" }
-dotted.key = 5
+version = '1.2.0'  # literal string stays literal
+ports = [80,   8443]   # odd spacing is kept
+inline = { image = "app", tag = "v2" }
+dotted.key = 6
~
 [[servers]]
 name = "a"
~
 [[servers]]
-name = "b"
+name = "bb"
~
 [labels]
-"example.com/version" = "1"
+"example.com/version" = true
""".replace("~\n", " \n")


def test_round_trip_diff(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text(CARGO)
    updates = [
        {"key": "title", "value": "web"},
        {"key": "package.version", "value": "1.2.0"},
        {"key": "package.ports.1", "value": 8443},
        {"key": "package.inline.tag", "value": "v2"},
        {"key": "package.dotted.key", "value": 6},
        {"key": "servers.1.name", "value": "bb"},
        {"key": "labels.example\\.com/version", "value": True},
    ]
    result = TomlUpdateStep().run(
        context(tmp_path), TomlUpdateConfig.model_validate({"path": "Cargo.toml", "updates": updates})
    )
    after = (tmp_path / "Cargo.toml").read_text()
    diff = "".join(difflib.unified_diff(CARGO.splitlines(True), after.splitlines(True), "before", "after"))
    assert diff == EXPECTED_DIFF
    assert result.outputs == {
        "commitMessage": "Updated Cargo.toml\n\n"
        '- title: "web"\n'
        "- package.version: '1.2.0'\n"
        "- package.ports.1: 8443\n"
        '- package.inline.tag: "v2"\n'
        "- package.dotted.key: 6\n"
        '- servers.1.name: "bb"\n'
        "- labels.example\\.com/version: true"
    }


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "package.nope",
            1,
            "key 'package.nope': 'package.nope' not found in c.toml "
            "(toml-update changes existing keys only, as Kargo's does)",
        ),
        (
            "servers.2.name",
            1,
            "key 'servers.2.name': 'servers.2' not found in c.toml "
            "('servers' has 2 item(s); toml-update changes existing keys only, as Kargo's does)",
        ),
        (
            "title.x",
            1,
            "key 'title.x': 'title.x' not found in c.toml "
            "('title' holds a scalar; toml-update changes existing keys only, as Kargo's does)",
        ),
        (
            "package",
            1,
            "key 'package': addresses a table in c.toml, not a scalar; toml-update sets scalars only",
        ),
        (
            "package.ports",
            1,
            "key 'package.ports': addresses an array in c.toml, not a scalar; toml-update sets scalars only",
        ),
        (
            "title",
            ["a"],
            "updates[0].value for key 'title' is a list; toml-update sets strings, numbers and booleans only",
        ),
    ],
)
def test_refusals_leave_the_file_alone(tmp_path: Path, key: str, value: Any, message: str) -> None:
    (tmp_path / "c.toml").write_text(CARGO)
    config = TomlUpdateConfig.model_validate({"path": "c.toml", "updates": [{"key": key, "value": value}]})
    with pytest.raises(TerminalStepError) as err:
        TomlUpdateStep().run(context(tmp_path), config)
    assert str(err.value) == message
    assert (tmp_path / "c.toml").read_text() == CARGO


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a = 1\nb = \n", "c.toml: not valid TOML: line 2, column 5: Invalid value"),
        ("a = 1\na = 2\n", "c.toml: not valid TOML: line 2, column 6: Cannot overwrite a value"),
        ("a = [1,\n", "c.toml: not valid TOML: at the end: Invalid value"),
    ],
)
def test_malformed_toml(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "c.toml").write_text(content)
    config = TomlUpdateConfig.model_validate({"path": "c.toml", "updates": [{"key": "a", "value": 2}]})
    with pytest.raises(TerminalStepError) as err:
        TomlUpdateStep().run(context(tmp_path), config)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("nope.toml", TerminalStepError, "path: 'nope.toml' does not exist"),
        ("../c.toml", PathEscapeError, "path: '../c.toml' leads outside the work dir"),
    ],
)
def test_bad_paths(tmp_path: Path, path: str, error: type[Exception], message: str) -> None:
    (tmp_path / "c.toml").write_text(CARGO)
    config = TomlUpdateConfig.model_validate({"path": path, "updates": [{"key": "title", "value": "x"}]})
    with pytest.raises(error) as err:
        TomlUpdateStep().run(context(tmp_path / "work"), config)
    assert str(err.value) == message
