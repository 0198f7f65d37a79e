"""The file steps together in real promotions: parse outputs feed later steps through expressions."""

from __future__ import annotations

from pathlib import Path

from kargo_actions.promotion.result import PromotionPhase
from kargo_actions.promotion.step_api import StepStatus
from tests.promotion.helpers import promote, write_project

STEPS = [
    {
        "uses": "yaml-parse",
        "as": "values",
        "config": {
            "path": "src/values.yaml",
            "outputs": [
                {"name": "tag", "fromExpression": "image.tag"},
                {"name": "replicas", "fromExpression": "replicas * 2"},
            ],
        },
    },
    {
        "uses": "json-update",
        "as": "bump",
        "config": {
            "path": "src/package.json",
            "updates": [
                {"key": "version", "value": "${{ outputs.values.tag }}"},
                {"key": "config.replicas", "value": "${{ outputs.values.replicas }}"},
            ],
        },
    },
    {
        "uses": "toml-update",
        "config": {
            "path": "src/app.toml",
            "updates": [{"key": "app.image", "value": "app:${{ outputs.values.tag }}"}],
        },
    },
    {
        "uses": "json-parse",
        "as": "pkg",
        "config": {"path": "src/package.json", "outputs": [{"name": "version", "fromExpression": "version"}]},
    },
    {
        "uses": "file-write",
        "config": {
            "path": "src/RELEASE",
            "contents": "${{ ctx.stage }} runs ${{ outputs.pkg.version }}\n",
            "permissions": "0644",
        },
    },
    {"uses": "tar", "config": {"inPath": "src", "outPath": "dist/src.tgz", "gzip": True}},
    {"uses": "untar", "config": {"inPath": "dist/src.tgz", "outPath": "unpacked"}},
    {
        "uses": "toml-parse",
        "as": "check",
        "config": {
            "path": "unpacked/app.toml",
            "outputs": [{"name": "image", "fromExpression": "app.image"}],
        },
    },
    {
        "uses": "yaml-merge",
        "as": "merge",
        "config": {"inFiles": ["src/values.yaml", "src/dev.yaml"], "outFile": "out/values.yaml"},
    },
]


def _work(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    (work / "src/values.yaml").write_text("image:\n  tag: v2.0.1\nreplicas: 2\n")
    (work / "src/dev.yaml").write_text("replicas: 1\n")
    (work / "src/package.json").write_text('{\n  "version": "0.0.0",\n  "config": {}\n}\n')
    (work / "src/app.toml").write_text('[app]\nimage = "app:old"  # set by Kargo\n')
    return work


def test_parse_outputs_feed_later_steps(tmp_path: Path) -> None:
    project = write_project(tmp_path / "repo", STEPS)
    work = _work(tmp_path)
    result = promote(project, work)
    assert result.phase is PromotionPhase.SUCCEEDED, result.message
    assert result.outputs["values"] == {"tag": "v2.0.1", "replicas": 4}
    assert result.outputs["pkg"] == {"version": "v2.0.1"}
    assert result.outputs["check"] == {"image": "app:v2.0.1"}
    assert result.outputs["bump"]["commitMessage"] == (
        'Updated src/package.json\n\n- version: "v2.0.1"\n- config.replicas: 4'
    )
    assert result.outputs["merge"] == {
        "commitMessage": "Merged 2 YAML files to out/values.yaml\n- src/values.yaml\n- src/dev.yaml"
    }
    assert (work / "src/package.json").read_text() == (
        '{\n  "version": "v2.0.1",\n  "config": {\n    "replicas": 4\n  }\n}\n'
    )
    assert (work / "unpacked/RELEASE").read_text() == "dev runs v2.0.1\n"
    assert (work / "unpacked/app.toml").read_text() == '[app]\nimage = "app:v2.0.1"  # set by Kargo\n'
    assert (work / "out/values.yaml").read_text() == "image:\n  tag: v2.0.1\nreplicas: 1\n"


def test_a_broken_file_errs_with_its_line_and_stops_the_promotion(tmp_path: Path) -> None:
    project = write_project(tmp_path / "repo", STEPS)
    work = _work(tmp_path)
    (work / "src/values.yaml").write_text("image:\n  tag: [v2\n")
    result = promote(project, work)
    assert result.phase is PromotionPhase.ERRORED
    statuses = [s.status for s in result.steps]
    assert statuses == [StepStatus.ERRORED] + [StepStatus.SKIPPED] * (len(STEPS) - 1)
    assert "src/values.yaml: not valid YAML: line 3" in result.message
    assert (work / "src/package.json").read_text() == '{\n  "version": "0.0.0",\n  "config": {}\n}\n'
