"""`kargo-actions graph --format mermaid|dot|json` on kargo-advanced, and its error path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kargo_actions.cli.main import main
from tests.conftest import shared_path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.mark.parametrize(
    ("args", "start", "control_flow_mark"),
    [
        (["graph"], "flowchart LR\n", '  st_prod{{"prod"}}\n'),
        (["graph", "--format", "mermaid"], "flowchart LR\n", "  class st_prod controlFlow\n"),
        (["graph", "--format", "dot"], 'digraph "kargo-advanced" {\n', 'shape="diamond", style="dashed"'),
        (["graph", "--format", "json"], "{\n", '"controlFlow": true'),
        (["--output", "json", "graph"], "{\n", '"fanOut": true'),
    ],
)
def test_formats(
    args: list[str], start: str, control_flow_mark: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = shared_path("kargo-examples", "kargo-advanced")
    code, out, _ = run(["--repo", str(folder), "--config-dir", "kargo", *args], capsys)
    assert code == 0
    assert out.startswith(start)
    assert control_flow_mark in out
    if start == "{\n":
        data = json.loads(out)
        assert {n["name"] for n in data["nodes"] if n["fanOut"]} == {"staging", "prod"}


def test_invalid_manifests_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".kargo").mkdir()
    (tmp_path / ".kargo" / "bad.yaml").write_text("kind: Stage\n")
    code, out, err = run(["--repo", str(tmp_path), "graph"], capsys)
    assert code == 2
    assert out == ""
    assert err.endswith("bad.yaml:1:1: apiVersion: required field is missing\n")


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["graph", "--format", "svg"], capsys)
    assert code == 2
    assert "svg" in err
