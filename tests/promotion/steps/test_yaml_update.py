"""yaml-update: Kargo's tables (yaml_updater_test.go, pkg/yaml yaml_test.go, pkg/sjson split_key_test.go at
1c764767) as data, and real files edited byte for byte as Kargo edits them."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import TerminalStepError
from kargo_actions.promotion.steps.support.yamlbytes import kargo_split_key, kargo_value, set_values_in_text
from kargo_actions.promotion.steps.yaml_update import YamlUpdateConfig, YamlUpdateStep
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context

CONFIG_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "path is not specified",
        {"updates": [{"key": "a", "value": 1}]},
        ["config.path: required field is missing"],
    ),
    (
        "path is empty",
        {"path": "", "updates": [{"key": "a", "value": 1}]},
        ["config.path: must not be empty"],
    ),
    ("updates is null", {"path": "v.yaml"}, ["config.updates: required field is missing"]),
    (
        "updates is empty",
        {"path": "v.yaml", "updates": []},
        ["config.updates: must have at least 1 item"],
    ),
    (
        "key not specified",
        {"path": "v.yaml", "updates": [{"value": 1}]},
        ["config.updates[0].key: required field is missing"],
    ),
    (
        "key is empty",
        {"path": "v.yaml", "updates": [{"key": "", "value": 1}]},
        ["config.updates[0].key: must not be empty"],
    ),
    (
        "value not specified",
        {"path": "v.yaml", "updates": [{"key": "a"}]},
        ["config.updates[0].value: required field is missing"],
    ),
    (
        "valid config",
        {
            "path": "fake-path",
            "updates": [
                {"key": "fake-key", "value": "fake-value"},
                {"key": "another-fake-key", "value": "another-fake-value"},
                {"key": "yet-another-fake-key", "value": 5},
            ],
        },
        [],
    ),
    ("null and a mapping as values", {"path": "v.yaml", "updates": [{"key": "a", "value": None}]}, []),
]


@pytest.mark.parametrize(
    ("data", "expected"), [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES]
)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(YamlUpdateConfig, data) == expected


SPLIT_KEY: list[tuple[str, str, list[str] | str]] = [
    ("empty key", "", "empty key"),
    ("starts with dot", ".foo", "empty key part"),
    ("ends with dot", "foo.", "empty key part"),
    ("double dots", "foo..bar", "empty key part"),
    ("invalid escape sequence", "foo\\nbar", "invalid escape sequence"),
    ("invalid use of colon", "foo:bar", "unexpected colon"),
    ("basic split", "foo.bar.bat.baz", ["foo", "bar", "bat", "baz"]),
    ("escaped dots", "foo\\.bar.bat\\.baz", ["foo.bar", "bat.baz"]),
    ("escaped colon", "foo.bar\\:bat.baz", ["foo", "bar:bat", "baz"]),
    ("unescaped colon", "foo.bar.:2.baz", ["foo", "bar", "2", "baz"]),
    ("ours: surrounding spaces are trimmed, as Kargo's TrimSpace", "  image.tag ", ["image", "tag"]),
]


@pytest.mark.parametrize(("key", "expected"), [c[1:] for c in SPLIT_KEY], ids=[c[0] for c in SPLIT_KEY])
def test_split_key(key: str, expected: list[str] | str) -> None:
    if isinstance(expected, str):
        with pytest.raises(TerminalStepError, match=expected):
            kargo_split_key(key)
    else:
        assert kargo_split_key(key) == expected


LONG = "Did you ever hear the tragedy of Darth Plagueis The Wise? " * 1000

# name, input, updates, output
SET_VALUES: list[tuple[str, str, list[tuple[str, Any]], str]] = [
    (
        "no extra quotes around true number",
        "\ncharacters:\n- name: Arthur Dent\n  answer: idk\n",
        [("characters.0.answer", 42)],
        "\ncharacters:\n- name: Arthur Dent\n  answer: 42\n",
    ),
    (
        "extra quotes around string containing a valid number",
        "\ncharacters:\n- name: Arthur Dent\n  answer: idk\n",
        [("characters.0.answer", "42")],
        '\ncharacters:\n- name: Arthur Dent\n  answer: "42"\n',
    ),
    (
        "success",
        "\ncharacters:\n- name: Anakin\n  affiliation: Light side\n",
        [("characters.0.affiliation", "Dark side")],
        "\ncharacters:\n- name: Anakin\n  affiliation: Dark side\n",
    ),
    (
        "really long lines still work",
        f'\ncharacters:\n- name: Anakin\n  affiliation: Light side\n  temptation: "{LONG}"\n',
        [("characters.0.affiliation", "Dark side")],
        f'\ncharacters:\n- name: Anakin\n  affiliation: Dark side\n  temptation: "{LONG}"\n',
    ),
    ("successful update", "key: value\n", [("key", "newvalue")], "key: newvalue\n"),
    (
        "Kargo's run case",
        '\nimage:\n  tag: oldtag\n  numStr: "5"\n  realNum: 5\n',
        [("image.tag", "fake-tag"), ("image.numStr", "42"), ("image.realNum", 42)],
        '\nimage:\n  tag: fake-tag\n  numStr: "42"\n  realNum: 42\n',
    ),
    # Ours, each as Kargo's line editing does it.
    ("the old quotes go with the old value", "tag: 'v1'\n", [("tag", "v2")], "tag: v2\n"),
    ("so does the rest of the line", "tag: v1  # pinned\n", [("tag", "v2")], "tag: v2\n"),
    ("an empty value", "tag:\nnext: 1\n", [("tag", "v2")], "tag: v2\nnext: 1\n"),
    ("an empty list item", "l:\n-\n- 2\n", [("l.0", "v")], "l:\n- v\n- 2\n"),
    ("CRLF line ends become LF", "a: 1\r\nb: 2\r\n", [("b", 3)], "a: 1\nb: 3\n"),
    ("a last line gets its newline", "a: 1", [("a", 2)], "a: 2\n"),
    ("only the first document", "a: 1\n---\na: 2\n", [("a", 3)], "a: 3\n---\na: 2\n"),
    ("an escaped dot", "example.com/v: 1\n", [("example\\.com/v", "2")], 'example.com/v: "2"\n'),
    ("a numeric mapping key", "8080: http\n", [(":8080", "https")], "8080: https\n"),
    ("the last update of a line wins", "a: 1\n", [("a", 2), ("a", 3)], "a: 3\n"),
    ("strings that read as other types are quoted", "a: x\n", [("a", "true")], 'a: "true"\n'),
    ("JSON text is quoted", "a: x\n", [("a", "[1, 2]")], 'a: "[1, 2]"\n'),
    ("a string that would not read back is quoted", "a: x\n", [("a", "b: c")], 'a: "b: c"\n'),
    ("and a string with a line break", "a: x\n", [("a", "1\n2")], 'a: "1\\n2"\n'),
    ("null", "a: x\n", [("a", None)], "a: null\n"),
    ("a list", "a: x\n", [("a", [1, "b"])], 'a: [1, "b"]\n'),
    ("a float as Go prints it", "a: x\n", [("a", 1.5)], "a: 1.5\n"),
]


@pytest.mark.parametrize(
    ("text", "updates", "expected"), [c[1:] for c in SET_VALUES], ids=[c[0] for c in SET_VALUES]
)
def test_set_values_in_text(text: str, updates: list[tuple[str, Any]], expected: str) -> None:
    assert set_values_in_text(text, updates, "v.yaml") == expected


FIND: list[tuple[str, str, str]] = [
    ("node not found", "characters.imperials", "key path not found"),
    ("alpha input where an index is due", "characters.rebels.first.name", "key path not found"),
    ("node found, but not a scalar", "characters.rebels", "key path does not address a scalar node"),
    ("ours: an index past the end", "characters.rebels.1.name", "key path not found"),
    ("ours: a negative index", "characters.rebels.-1.name", "key path not found"),
    ("ours: a key under a scalar", "characters.rebels.0.name.first", "key path not found"),
]


@pytest.mark.parametrize(("key", "message"), [c[1:] for c in FIND], ids=[c[0] for c in FIND])
def test_key_paths_that_address_no_scalar(key: str, message: str) -> None:
    with pytest.raises(TerminalStepError, match=message):
        set_values_in_text("\ncharacters:\n  rebels:\n  - name: Skywalker\n", [(key, "x")], "v.yaml")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("repo/image:tag1", "repo/image:tag1"),
        ("42", '"42"'),
        (42, "42"),
        ("true", '"true"'),
        ("1e5", '"1e5"'),
        ("null", '"null"'),
        ("yes", "yes"),
        ("~", '"~"'),
        ("", '""'),
        (True, "true"),
        (1e6, "1e+06"),
        ({"a": 1}, '{"a": 1}'),
    ],
)
def test_values_as_kargo_writes_them(value: Any, shown: str) -> None:
    assert kargo_value(value) == shown


def run(work: Path, path: str, updates: list[dict[str, Any]]) -> dict[str, Any]:
    config = YamlUpdateConfig.model_validate({"path": path, "updates": updates})
    return YamlUpdateStep().run(context(work), config).outputs


VALUES = """\
# Values for the guestbook chart.
replicaCount: 1

image:
    repository: 'ghcr.io/akuity/guestbook'   # where the image lives
    tag: "v0.0.1"    # set by Kargo
    pullPolicy: IfNotPresent


podAnnotations:
    # the revision the pod runs
    example.com/revision: abc

containers:
  - name: app
    args: [--port, "8080"]
  - name: sidecar
    image: envoy:1.0

# trailing comment
"""

# Only the addressed lines change; blank lines and every other comment stay.
EXPECTED_DIFF = """\
--- before
+++ after
@@ -1,20 +1,20 @@
 # Values for the guestbook chart.
-replicaCount: 1
+replicaCount: 3
~
 image:
     repository: 'ghcr.io/akuity/guestbook'   # where the image lives
-    tag: "v0.0.1"    # set by Kargo
+    tag: v0.0.5
     pullPolicy: IfNotPresent
~
~
 podAnnotations:
     # the revision the pod runs
-    example.com/revision: abc
+    example.com/revision: def
~
 containers:
   - name: app
     args: [--port, "8080"]
   - name: sidecar
-    image: envoy:1.0
+    image: envoy:1.1
~
 # trailing comment
""".replace("~\n", " \n")


def test_a_real_file_changes_only_on_the_addressed_lines(tmp_path: Path) -> None:
    values = tmp_path / "charts/guestbook/values.yaml"
    values.parent.mkdir(parents=True)
    values.write_text(VALUES)
    outputs = run(
        tmp_path,
        "charts/guestbook/values.yaml",
        [
            {"key": "image.tag", "value": "v0.0.5"},
            {"key": "replicaCount", "value": 3},
            {"key": "podAnnotations.example\\.com/revision", "value": "def"},
            {"key": "containers.1.image", "value": "envoy:1.1"},
        ],
    )
    after = values.read_text()
    diff = "".join(difflib.unified_diff(VALUES.splitlines(True), after.splitlines(True), "before", "after"))
    assert diff == EXPECTED_DIFF
    assert outputs == {
        "commitMessage": "Updated charts/guestbook/values.yaml\n\n"
        "- image.tag: v0.0.5\n"
        "- replicaCount: 3\n"
        "- podAnnotations.example\\.com/revision: def\n"
        "- containers.1.image: envoy:1.1"
    }


def test_commit_message_as_kargo_writes_it(tmp_path: Path) -> None:
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart/values.yaml").write_text("image1: a\nimage2: b\nnumStr: c\nrealNum: d\n")
    outputs = run(
        tmp_path,
        "chart/values.yaml",
        [
            {"key": "image1", "value": "repo1/image1:tag1"},
            {"key": "image2", "value": "repo2/image2:tag2"},
            {"key": "numStr", "value": "42"},
            {"key": "realNum", "value": 42},
        ],
    )
    assert outputs["commitMessage"] == (
        "Updated chart/values.yaml\n\n"
        "- image1: repo1/image1:tag1\n"
        "- image2: repo2/image2:tag2\n"
        '- numStr: "42"\n'
        "- realNum: 42"
    )


@pytest.mark.parametrize(
    ("content", "key", "message"),
    [
        # A typo fails the promotion instead of adding a key nothing reads.
        ("image:\n  tag: v1\n", "image.tga", "key 'image.tga': key path not found: 'image' has no key 'tga'"),
        (
            "image:\n  tag: v1\n",
            "image",
            "key 'image': key path does not address a scalar node (it holds a mapping)",
        ),
        ("l: [1, 2]\n", "l", "key 'l': key path does not address a scalar node (it holds a list)"),
        ("a: 1\n", "a.b", "key 'a.b': key path not found: 'a' holds a scalar, not 'b'"),
        ("l: [1, 2]\n", "l.x", "key 'l.x': key path not found: 'l' is a list, so 'x' must be an index"),
        ("l: [1, 2]\n", "l.2", "key 'l.2': key path not found: index 2 of a list of 2 item(s)"),
        ("a: &x 1\nb: *x\n", "b", "key 'b': key path not found: 'b' is an alias"),
        ("a: 1\n", "a..b", "key 'a..b': empty key part"),
        ("", "a", "key 'a': key path not found: the document is empty"),
        (
            "a: [\n",
            "a",
            "v.yaml: not valid YAML: line 2, column 1: expected the node content, but found '<stream end>'",
        ),
        ("characters:\n- name: Anakin\n\taffiliation: Light side\n", "characters", "v.yaml: not valid YAML"),
        # Lines Kargo would leave broken: a flow collection, a block scalar, an anchor others use.
        ("l: [1, 2]\n", "l.1", "v.yaml: editing the lines as Kargo does would leave invalid YAML"),
        ("a: |\n  text\n", "a", "key 'a': editing the line as Kargo does would not give it the new value"),
        ("a: &x 1\nb: *x\n", "a", "v.yaml: editing the lines as Kargo does would leave invalid YAML"),
    ],
)
def test_refusals_leave_the_file_alone(tmp_path: Path, content: str, key: str, message: str) -> None:
    (tmp_path / "v.yaml").write_text(content)
    with pytest.raises(TerminalStepError) as err:
        run(tmp_path, "v.yaml", [{"key": key, "value": 1}])
    assert str(err.value).startswith(message)
    assert (tmp_path / "v.yaml").read_text() == content


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TerminalStepError, match=r"path: 'nope\.yaml' does not exist"):
        run(tmp_path, "nope.yaml", [{"key": "a", "value": 1}])
