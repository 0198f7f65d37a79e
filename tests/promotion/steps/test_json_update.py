"""json-update: config table, then real files edited in place (only the changed bytes differ) and refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import PathEscapeError, TerminalStepError
from kargo_actions.promotion.steps.json_update import JsonUpdateConfig, JsonUpdateStep
from kargo_actions.promotion.steps.support.keypath import KeyPart, parse_key
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "a.json", "updates": [{"key": "a", "value": "b"}]}, []),
    ({"path": "a.json", "updates": [{"key": "a", "value": None}]}, []),  # the schema allows any value
    ({"path": "a.json", "updates": []}, ["config.updates: must have at least 1 item"]),
    ({"path": "a.json", "updates": [{"key": "a"}]}, ["config.updates[0].value: required field is missing"]),
    ({"path": "a.json", "updates": [{"key": "", "value": 1}]}, ["config.updates[0].key: must not be empty"]),
    ({"updates": [{"key": "a", "value": 1}]}, ["config.path: required field is missing"]),
    (
        {"path": "a.json", "updates": [{"key": "a", "value": 1, "as": "x"}]},
        ["config.updates[0].as: unknown field (known fields: key, value)"],
    ),
    (
        {"path": 1, "updates": [{"key": "a", "value": 1}]},
        ["config.path: expected a string, found an integer"],
    ),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(JsonUpdateConfig, data) == expected


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("image.tag", [KeyPart("image"), KeyPart("tag")]),
        ("example\\.com/version", [KeyPart("example.com/version")]),
        ("ports.:8080", [KeyPart("ports"), KeyPart("8080", forced_key=True)]),
        ("a\\:b.c", [KeyPart("a:b"), KeyPart("c")]),
        ("path\\\\to.file", [KeyPart("path\\to"), KeyPart("file")]),
    ],
)
def test_key_syntax(key: str, parts: list[KeyPart]) -> None:
    assert list(parse_key(key)) == parts


PRETTY = """\
{
    "image": {
        "repository": "ghcr.io/example/app",
        "tag": "v1.0.0"
    },
    "example.com/version": "1",
    "replicas": 1,
    "ports": [80, 443],
    "containers": [
        {"name": "app", "image": "app:v1"}
    ],
    "labels": {}
}
"""

RUN_CASES: list[tuple[str, str, list[dict[str, Any]], str, str]] = [
    (
        "pretty file: replace, create nested, append, literal dot",
        PRETTY,
        [
            {"key": "image.tag", "value": "v1.2.0"},
            {"key": "replicas", "value": 3},
            {"key": "example\\.com/version", "value": "2"},
            {"key": "containers.0.image", "value": "app:v2"},
            {"key": "ports.-1", "value": 8080},
            {"key": "labels.team", "value": "blue"},
            {"key": "resources.limits.cpu", "value": 1.5},
            {"key": "enabled", "value": True},
        ],
        """\
{
    "image": {
        "repository": "ghcr.io/example/app",
        "tag": "v1.2.0"
    },
    "example.com/version": "2",
    "replicas": 3,
    "ports": [80, 443, 8080],
    "containers": [
        {"name": "app", "image": "app:v2"}
    ],
    "labels": {
        "team": "blue"
    },
    "resources": {
        "limits": {
            "cpu": 1.5
        }
    },
    "enabled": true
}
""",
        "Updated v.json\n\n"
        '- image.tag: "v1.2.0"\n'
        "- replicas: 3\n"
        '- example\\.com/version: "2"\n'
        '- containers.0.image: "app:v2"\n'
        "- ports.-1: 8080\n"
        '- labels.team: "blue"\n'
        "- resources.limits.cpu: 1.5\n"
        "- enabled: true",
    ),
    (
        "minified file stays minified; past-the-end index pads with null; :0 is a key",
        '{"a":{"b":1},"l":[1]}',
        [
            {"key": "a.c", "value": "x"},
            {"key": "l.3", "value": 4},
            {"key": "m.:0", "value": False},
            {"key": "n.1", "value": "y"},
        ],
        '{"a":{"b":1,"c":"x"},"l":[1,null,null,4],"m":{"0":false},"n":[null,"y"]}',
        'Updated v.json\n\n- a.c: "x"\n- l.3: 4\n- m.:0: false\n- n.1: "y"',
    ),
]


@pytest.mark.parametrize(
    ("before", "updates", "after", "message"),
    [case[1:] for case in RUN_CASES],
    ids=[case[0] for case in RUN_CASES],
)
def test_run(tmp_path: Path, before: str, updates: list[dict[str, Any]], after: str, message: str) -> None:
    (tmp_path / "v.json").write_text(before)
    result = JsonUpdateStep().run(
        context(tmp_path), JsonUpdateConfig.model_validate({"path": "v.json", "updates": updates})
    )
    assert (tmp_path / "v.json").read_text() == after
    json.loads(after)  # still JSON
    assert result.outputs == {"commitMessage": message}


@pytest.mark.parametrize(
    ("content", "key", "value", "message"),
    [
        (
            '{"a": 1}',
            "a.b",
            1,
            "key 'a.b': 'a' holds a scalar (1), so it has no key 'b'",
        ),
        ('{"l": [1]}', "l.x", 1, "key 'l.x': 'l' is a list, so 'x' must be an index"),
        ('{"a": 1}', "a..b", 1, "key 'a..b': an empty key part (two dots in a row, or a dot at an end)"),
        (
            '{"a": 1}',
            "a",
            {"b": 1},
            "updates[0].value for key 'a' is an object; json-update sets strings, numbers and booleans only",
        ),
        (
            '{"a": 1}',
            "a",
            None,
            "updates[0].value for key 'a' is null; json-update sets strings, numbers and booleans only",
        ),
        (
            '{\n  "a": 1,\n  "b": \n}\n',
            "a",
            2,
            "v.json: not valid JSON: line 4, column 1: Expecting value",
        ),
        ("", "a", 2, "v.json: not valid JSON: line 1, column 1: Expecting value"),
    ],
)
def test_refusals_leave_the_file_alone(
    tmp_path: Path, content: str, key: str, value: Any, message: str
) -> None:
    (tmp_path / "v.json").write_text(content)
    config = JsonUpdateConfig.model_validate({"path": "v.json", "updates": [{"key": key, "value": value}]})
    with pytest.raises(TerminalStepError) as err:
        JsonUpdateStep().run(context(tmp_path), config)
    assert str(err.value) == message
    assert (tmp_path / "v.json").read_text() == content


def test_a_later_bad_update_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "v.json").write_text('{"a": 1, "b": "x"}')
    config = JsonUpdateConfig.model_validate(
        {"path": "v.json", "updates": [{"key": "a", "value": 2}, {"key": "b.c", "value": 3}]}
    )
    with pytest.raises(TerminalStepError):
        JsonUpdateStep().run(context(tmp_path), config)
    assert (tmp_path / "v.json").read_text() == '{"a": 1, "b": "x"}'


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("nope.json", TerminalStepError, "path: 'nope.json' does not exist"),
        ("../outside.json", PathEscapeError, "path: '../outside.json' leads outside the work dir"),
        (
            "/etc/hosts",
            PathEscapeError,
            "path: '/etc/hosts' is absolute; step paths are relative to the work dir",
        ),
        ("dir", TerminalStepError, "path: 'dir' is a directory, not a JSON file"),
    ],
)
def test_bad_paths(tmp_path: Path, path: str, error: type[Exception], message: str) -> None:
    work = tmp_path / "work"
    (work / "dir").mkdir(parents=True)
    (tmp_path / "outside.json").write_text("{}")
    config = JsonUpdateConfig.model_validate({"path": path, "updates": [{"key": "a", "value": 1}]})
    with pytest.raises(error) as err:
        JsonUpdateStep().run(context(work), config)
    assert str(err.value) == message
    assert (tmp_path / "outside.json").read_text() == "{}"
