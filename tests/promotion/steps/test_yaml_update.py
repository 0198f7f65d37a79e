"""yaml-update: config table, dotted keys, and a real file diffed before and after (comments, quotes, indents)."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.steps.base import TerminalStepError
from kargo_actions.promotion.steps.yaml_update import YamlUpdateConfig, YamlUpdateStep
from kargo_actions.promotion.steps.yamledit import split_key
from tests.promotion.steps.conftest import config_errors, context

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "v.yaml", "updates": [{"key": "a", "value": "b"}]}, []),
    ({"path": "v.yaml", "updates": [{"key": "a", "value": None}, {"key": "b", "value": {"c": [1]}}]}, []),
    (
        {"path": "v.yaml", "updates": []},
        ["updates: List should have at least 1 item after validation, not 0"],
    ),
    ({"path": "v.yaml", "updates": [{"key": "a"}]}, ["updates.0.value: Field required"]),
    (
        {"path": "v.yaml", "updates": [{"key": "", "value": 1}]},
        ["updates.0.key: String should have at least 1 character"],
    ),
    ({"updates": [{"key": "a", "value": 1}]}, ["path: Field required"]),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert config_errors(YamlUpdateConfig, data) == expected


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("image.tag", ["image", "tag"]),
        ("example\\.com/version", ["example.com/version"]),
        ("configs.example\\.com/feature.enabled", ["configs", "example.com/feature", "enabled"]),
        ("path\\\\to.file", ["path\\to", "file"]),
        ("containers.0.image", ["containers", "0", "image"]),
    ],
)
def test_split_key(key: str, parts: list[str]) -> None:
    assert split_key(key) == parts


VALUES = """\
# Values for the guestbook chart.
replicaCount: 1

image:
    repository: 'ghcr.io/akuity/guestbook'   # where the image lives
    tag: "v0.0.1"    # set by Kargo
    pullPolicy: IfNotPresent

podAnnotations:
    example.com/revision: abc

containers:
  - name: app
    args: [--port, "8080"]
  - name: sidecar
    image: envoy:1.0

# trailing comment
"""

# "~" marks a blank context line (a lone space, which editors strip).
EXPECTED_DIFF = """\
--- before
+++ after
@@ -1,18 +1,22 @@
 # Values for the guestbook chart.
-replicaCount: 1
+replicaCount: 3
~
 image:
     repository: 'ghcr.io/akuity/guestbook'   # where the image lives
-    tag: "v0.0.1"    # set by Kargo
+    tag: "v0.0.5"    # set by Kargo
     pullPolicy: IfNotPresent
~
 podAnnotations:
-    example.com/revision: abc
+    example.com/revision: def
~
 containers:
   - name: app
     args: [--port, "8080"]
   - name: sidecar
-    image: envoy:1.0
+    image: envoy:1.1
+  - name: extra
~
 # trailing comment
+resources:
+    limits:
+        cpu: "1.5"
""".replace("~\n", " \n")


def test_round_trip_diff(tmp_path: Path) -> None:
    values = tmp_path / "charts/guestbook/values.yaml"
    values.parent.mkdir(parents=True)
    values.write_text(VALUES)
    updates = [
        {"key": "image.tag", "value": "v0.0.5"},
        {"key": "replicaCount", "value": 3},
        {"key": "podAnnotations.example\\.com/revision", "value": "def"},
        {"key": "containers.1.image", "value": "envoy:1.1"},
        {"key": "containers.-1", "value": {"name": "extra"}},
        {"key": "resources.limits.cpu", "value": "1.5"},
    ]
    result = YamlUpdateStep().run(
        context(tmp_path),
        YamlUpdateConfig.model_validate({"path": "charts/guestbook/values.yaml", "updates": updates}),
    )
    after = values.read_text()
    diff = "".join(difflib.unified_diff(VALUES.splitlines(True), after.splitlines(True), "before", "after"))
    assert diff == EXPECTED_DIFF
    assert result.outputs == {
        "commitMessage": "Updated charts/guestbook/values.yaml\n\n"
        "- image.tag: v0.0.5\n"
        "- replicaCount: 3\n"
        "- podAnnotations.example\\.com/revision: def\n"
        "- containers.1.image: envoy:1.1\n"
        '- containers.-1: {"name": "extra"}\n'
        '- resources.limits.cpu: "1.5"'
    }


@pytest.mark.parametrize(
    ("content", "key", "message"),
    [
        ("a: 1\n", "a.b", "key 'a.b': 'a' holds a scalar (1), so it has no key 'b'"),
        ("l: [1, 2]\n", "l.x", "key 'l.x': 'l.x' indexes a list, so it must be a number"),
        ("l: [1, 2]\n", "l.5", "key 'l.5': index 5 is past the end of a list of 2 item(s)"),
        ("a: 1\n", "a..b", "key 'a..b': an empty key part (two dots in a row, or a dot at an end)"),
        (
            "a: [\n",
            "a",
            "v.yaml: not valid YAML: line 2, column 1: expected the node content, but found '<stream end>'",
        ),
    ],
)
def test_refusals_leave_the_file_alone(tmp_path: Path, content: str, key: str, message: str) -> None:
    (tmp_path / "v.yaml").write_text(content)
    with pytest.raises(TerminalStepError) as err:
        YamlUpdateStep().run(
            context(tmp_path),
            YamlUpdateConfig.model_validate({"path": "v.yaml", "updates": [{"key": key, "value": 1}]}),
        )
    assert str(err.value) == message
    assert (tmp_path / "v.yaml").read_text() == content


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TerminalStepError, match=r"path: 'nope\.yaml' does not exist"):
        YamlUpdateStep().run(
            context(tmp_path),
            YamlUpdateConfig.model_validate({"path": "nope.yaml", "updates": [{"key": "a", "value": 1}]}),
        )
