"""`kargo-actions expr` through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kargo_actions.cli.main import main

FREIGHT = {
    "metadata": {"name": "abc"},
    "origin": {"kind": "Warehouse", "name": "guestbook"},
    "images": [{"repoURL": "ghcr.io/akuity/guestbook", "tag": "v1.2.3", "digest": "sha256:aa"}],
}


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kargo_actions", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_prints_the_result_as_json() -> None:
    done = invoke("expr", "vars.replicas * 2 + 1", "--context", '{"vars": {"replicas": 3}}')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == 7


def test_context_from_a_file_with_freight(tmp_path: Path) -> None:
    context = tmp_path / "context.json"
    context.write_text(
        json.dumps(
            {"ctx": {"stage": "dev"}, "vars": {"image": "ghcr.io/akuity/guestbook"}, "freight": [FREIGHT]}
        )
    )
    done = invoke("expr", "{tag: imageFrom(vars.image).Tag, stage: ctx.stage}", "--context", f"@{context}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"tag": "v1.2.3", "stage": "dev"}


def test_template_renders() -> None:
    done = invoke(
        "expr", "--template", "guestbook-${{ ctx.stage }}", "--context", '{"ctx": {"stage": "prod"}}'
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == "guestbook-prod"
    typed = invoke("expr", "--template", "${{ 40 + 2 }}")
    assert json.loads(typed.stdout) == 42


def test_rollouts_result() -> None:
    done = invoke("expr", "len(result) > 0 && all(result, {# > 0})", "--context", '{"result": [1, 2]}')
    assert json.loads(done.stdout) is True


def test_error_exits_2_with_a_caret_under_the_column() -> None:
    done = invoke("expr", "var.stage == 'dev'", "--context", '{"vars": {}}')
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0] == 'error: cannot read "stage" of "var", which is not defined (did you mean "vars"?)'
    assert lines[1:] == ["  var.stage == 'dev'", "  ^"]
    assert done.stdout == ""


def test_template_error_caret_points_into_the_template() -> None:
    done = invoke("expr", "--template", "env/${{ ctx.stage + }}")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0] == "error: unexpected end of expression"
    assert lines[1] == "  env/${{ ctx.stage + }}"
    assert lines[2].index("^") == lines[1].index("}}")


def test_a_result_json_cannot_hold_is_an_error() -> None:
    done = invoke("expr", "float('1e400')")
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == "error: the result inf cannot be represented in JSON"


def test_bad_context_is_invalid_input() -> None:
    done = invoke("expr", "1", "--context", "{nope")
    assert done.returncode == 2
    assert "invalid JSON" in done.stderr
    neither = invoke("expr")
    assert neither.returncode == 2
    assert "give either an EXPRESSION or --template TEXT" in neither.stderr


def test_main_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["expr", "upper('a') + string(1 + 1)"])
    assert done.value.code == 0
    assert json.loads(capsys.readouterr().out) == "A2"
    with pytest.raises(SystemExit) as failed:
        main(["expr", "1 +"])
    assert failed.value.code == 2
    assert capsys.readouterr().err.splitlines()[1:] == ["  1 +", "     ^"]


def test_freight_that_is_not_kargo_freight_is_named_field_by_field() -> None:
    bad = {**FREIGHT, "origin": {"kind": "Warehouse", "name": 3}, "imagez": []}
    done = invoke("expr", "1", "--context", json.dumps({"freight": [bad]}))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: freight: not a Kargo Freight: expected a string, found an integer at origin.name",
        "error: freight: not a Kargo Freight: unknown field at imagez (did you mean 'images'?)",
    ]
