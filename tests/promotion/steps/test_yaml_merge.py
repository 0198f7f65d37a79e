"""yaml-merge: config table, real files merged (Kargo's own example, nulls, lists, comments), bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import PathEscapeError, TerminalStepError
from kargo_actions.promotion.steps.yaml_merge import YamlMerge, YamlMergeConfig
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"inFiles": ["a.yaml"], "outFile": "o.yaml"}, []),
    ({"inFiles": ["a.yaml", ""], "outFile": "o.yaml", "ignoreMissingFiles": True}, []),  # items may be empty
    ({"inFiles": [], "outFile": "o.yaml"}, ["config.inFiles: must have at least 1 item"]),
    ({"inFiles": ["a.yaml"], "outFile": ""}, ["config.outFile: must not be empty"]),
    ({"inFiles": "a.yaml", "outFile": "o.yaml"}, ["config.inFiles: expected a list, found a string"]),
    (
        {"inFiles": ["a.yaml"], "outFile": "o.yaml", "ignoreMissingFiles": "yes"},
        ["config.ignoreMissingFiles: expected a boolean (true or false), found a string"],
    ),
    (
        {"inFiles": ["a.yaml"], "outPath": "o.yaml"},
        [
            "config.outFile: required field is missing",
            "config.outPath: unknown field (known fields: ignoreMissingFiles, inFiles, outFile)",
        ],
    ),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(YamlMergeConfig, data) == expected


BASE = """\
# base values
character:
  name: Vader   # who
  ability: Force
  affiliation: Empire
vehicles:
  - Star Destroyer
retired: false
"""
OVERLAY = """\
character:
  name: Luke
  affiliation: Rebel Alliance
  siblings:
  - Leia
vehicles:
- Millennium Falcon
retired: null
"""
CLUSTER = """\
character:
  ability: null
service:
  type: LoadBalancer
"""

RUN_CASES: list[tuple[str, dict[str, str], list[str], bool, str, str]] = [
    (
        "maps merge, lists replace, null deletes, base comments stay",
        {"base.yaml": BASE, "qa.yaml": OVERLAY, "cluster.yaml": CLUSTER},
        ["base.yaml", "qa.yaml", "cluster.yaml"],
        False,
        """\
# base values
character:
  name: Luke    # who
  affiliation: Rebel Alliance
  siblings:
  - Leia
vehicles:
- Millennium Falcon
service:
  type: LoadBalancer
""",
        "Merged 3 YAML files to out/values.yaml\n- base.yaml\n- qa.yaml\n- cluster.yaml",
    ),
    (
        "missing files skipped when asked; empty files add nothing",
        {"empty.yaml": "", "qa.yaml": OVERLAY},
        ["empty.yaml", "missing.yaml", "qa.yaml"],
        True,
        """\
character:
  name: Luke
  affiliation: Rebel Alliance
  siblings:
  - Leia
vehicles:
- Millennium Falcon
retired:
""",
        "Merged 2 YAML files to out/values.yaml\n- empty.yaml\n- qa.yaml",
    ),
    (
        "one file is written out as it is",
        {"qa.yaml": CLUSTER},
        ["qa.yaml"],
        False,
        CLUSTER.replace("ability: null", "ability:"),
        "Wrote qa.yaml to out/values.yaml",
    ),
]


@pytest.mark.parametrize(
    ("files", "in_files", "ignore_missing", "expected", "message"),
    [case[1:] for case in RUN_CASES],
    ids=[case[0] for case in RUN_CASES],
)
def test_run(
    tmp_path: Path,
    files: dict[str, str],
    in_files: list[str],
    ignore_missing: bool,
    expected: str,
    message: str,
) -> None:
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    config = YamlMergeConfig.model_validate(
        {"inFiles": in_files, "outFile": "out/values.yaml", "ignoreMissingFiles": ignore_missing}
    )
    result = YamlMerge().run(context(tmp_path), config)
    assert (tmp_path / "out/values.yaml").read_text() == expected
    assert result.outputs == {"commitMessage": message}


def test_all_missing_gives_an_empty_file_and_no_message(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out/values.yaml").write_text("old: 1\n")
    config = YamlMergeConfig.model_validate(
        {"inFiles": ["a.yaml", "b.yaml"], "outFile": "out/values.yaml", "ignoreMissingFiles": True}
    )
    result = YamlMerge().run(context(tmp_path), config)
    assert (tmp_path / "out/values.yaml").read_text() == ""
    assert result.outputs == {}


@pytest.mark.parametrize(
    ("in_files", "out_file", "error", "message"),
    [
        (
            ["base.yaml", "missing.yaml"],
            "o.yaml",
            TerminalStepError,
            "inFiles[1]: 'missing.yaml' does not exist (set ignoreMissingFiles: true to skip missing files)",
        ),
        (
            ["bad.yaml"],
            "o.yaml",
            TerminalStepError,
            "bad.yaml: not valid YAML: line 2, column 3: mapping values are not allowed here",
        ),
        (
            ["../base.yaml"],
            "o.yaml",
            PathEscapeError,
            "inFiles[0]: '../base.yaml' leads outside the work dir",
        ),
        (["base.yaml"], "../o.yaml", PathEscapeError, "outFile: '../o.yaml' leads outside the work dir"),
        (["base.yaml"], "dir", TerminalStepError, "outFile: 'dir' is a directory"),
    ],
)
def test_bad_input(
    tmp_path: Path, in_files: list[str], out_file: str, error: type[Exception], message: str
) -> None:
    work = tmp_path / "work"
    (work / "dir").mkdir(parents=True)
    (work / "base.yaml").write_text(BASE)
    (tmp_path / "base.yaml").write_text(BASE)
    (work / "bad.yaml").write_text("a: b\n c: d: e\n")
    config = YamlMergeConfig.model_validate({"inFiles": in_files, "outFile": out_file})
    with pytest.raises(error) as err:
        YamlMerge().run(context(work), config)
    assert str(err.value) == message
    assert not (work / "o.yaml").exists()
