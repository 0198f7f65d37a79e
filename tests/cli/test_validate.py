"""`kargo-actions validate`: exit codes, one problem per line on stderr, JSON output, --strict."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kargo_actions.cli.main import main
from tests.conftest import shared_path

CORPUS = Path(__file__).parent.parent / "manifests" / "corpus"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.fixture
def advanced() -> Path:
    return shared_path("kargo-examples", "kargo-advanced")


def test_valid_project_prints_a_summary(advanced: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(advanced), "--config-dir", "kargo", "validate"], capsys)
    assert code == 0
    assert out == (
        "kargo-advanced: valid: 1 warehouse, 8 stages (1 control-flow), 1 promotion task, 1 analysis template;"
        " 1 warning\n"
    )
    assert err.startswith("warning: ")
    assert "spec.subscriptions[0].image.allowTags: allowTags is deprecated" in err


def test_strict_makes_warnings_errors(advanced: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(advanced), "--config-dir", "kargo", "validate", "--strict"], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert "allowTags is deprecated" in err


def test_json_summary(advanced: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["--repo", str(advanced), "--config-dir", "kargo", "--output", "json", "validate"], capsys
    )
    assert code == 0
    data = json.loads(out)
    assert data["valid"] is True
    assert (data["project"], data["stages"], data["controlFlowStages"]) == ("kargo-advanced", 8, 1)
    assert data["warnings"][0]["line"] == 11
    assert data["warnings"][0]["path"] == "spec.subscriptions[0].image.allowTags"


def test_problems_one_per_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / ".kargo"
    config.mkdir()
    names = ["17-misspelt-field.yaml", "29-invalid-strategy.yaml", "04-tabs.yaml"]
    for name in names:
        shutil.copy(CORPUS / name, config / name)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["validate"], capsys)
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "error: .kargo/04-tabs.yaml:4:1: tab character in indentation: YAML indents with spaces only",
        "error: .kargo/17-misspelt-field.yaml:8:7: spec.subscriptions[0].image.repoUrl: unknown field"
        " (did you mean 'repoURL'?)",
        "error: .kargo/29-invalid-strategy.yaml:9:7: spec.subscriptions[0].image.imageSelectionStrategy: must be one"
        " of 'Digest', 'Lexical', 'NewestBuild' or 'SemVer', not 'Semver' (did you mean 'SemVer'?)",
    ]


def test_problems_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(CORPUS / "39-stage-missing-warehouse.yaml", tmp_path / "s.yaml")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(["--config-dir", ".", "-o", "json", "validate"], capsys)
    assert code == 2
    data = json.loads(out)
    assert data["valid"] is False
    [problem] = data["problems"]
    assert problem == {
        "file": "s.yaml",
        "line": 18,
        "col": 7,
        "path": "spec.requestedFreight[0].origin.name",
        "message": "Warehouse 'guestbok' does not exist",
        "hint": "did you mean 'guestbook'?",
        "text": "s.yaml:18:7: spec.requestedFreight[0].origin.name: Warehouse 'guestbok' does not exist"
        " (did you mean 'guestbook'?)",
    }


def test_missing_config_dir_through_the_real_entry_point(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kargo_actions", "--repo", str(tmp_path), "validate"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: .kargo: config dir does not exist (create it with your Kargo manifests, or pass --config-dir DIR)\n"
    )
    assert "Traceback" not in result.stderr
