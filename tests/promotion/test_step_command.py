"""`kargo-actions step run` and `step list` as users and composite actions call them (real processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.promotion.helpers import IMAGE, freight, gone_soon

CLI = [sys.executable, "-m", "kargo_actions"]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_copy_in_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/a.txt").write_text("a")
    done = _run(["step", "run", "copy", "--config", '{"inPath": "src", "outPath": "out"}'], tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["uses"], result["status"], result["outputs"]) == ("copy", "Succeeded", {})
    assert (tmp_path / "out/a.txt").read_text() == "a"


def test_context_feeds_expressions_and_outputs_print(tmp_path: Path) -> None:
    context = {
        "ctx": {
            "project": "p",
            "stage": "dev",
            "targetFreight": {"name": "f" * 40, "alias": "brave-fox", "origin": {"name": "app"}},
            "meta": {"promotion": {"actor": "octocat"}, "step": {"alias": "compose"}},
        },
        "vars": {"n": 2},
        "freight": [freight().model_dump(by_alias=True, exclude_none=True, mode="json")],
        "outputs": {"clone": {"commit": "abc123"}},
        "task": {"outputs": {"open-pr": {"pr": {"id": 7}}}},
    }
    (tmp_path / "ctx.json").write_text(json.dumps(context))
    config = {
        "tag": f"${{{{ imageFrom('{IMAGE}').Tag }}}}",
        "who": "${{ ctx.meta.promotion.actor }}@${{ ctx.stage }}",
        "next": "${{ vars.n + 1 }}",
        "commit": "${{ outputs.clone.commit }}",
        "pr": "${{ task.outputs['open-pr'].pr.id }}",
        "me": "${{ ctx.meta.step.alias }}",
        "alias": "${{ ctx.targetFreight.alias }}",
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    work = tmp_path / "work"
    done = _run(
        [
            "step",
            "run",
            "compose-output",
            "--config",
            "@config.json",
            "--context",
            "@ctx.json",
            "--work-dir",
            str(work),
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    outputs = json.loads(done.stdout)["outputs"]
    assert outputs == {
        "tag": "v1.2.3",
        "who": "octocat@dev",
        "next": 3,
        "commit": "abc123",
        "pr": 7,
        "me": "compose",
        "alias": "brave-fox",
    }
    assert work.is_dir()


@pytest.mark.parametrize(
    ("args", "code", "stdout_part", "stderr_part"),
    [
        (
            ["step", "run", "copy", "--config", '{"inPath": "a"}'],
            2,
            "config.outPath: required field is missing",
            "",
        ),
        (["step", "run", "cpy", "--config", "{}"], 2, "", "unknown step 'cpy' (did you mean 'copy'?)"),
        (["step", "run", "argocd-update", "--config", "{}"], 2, "config.apps: required field is missing", ""),
        (["step", "run", "fail", "--config", '{"message": "stop"}'], 1, '"status": "Failed"', ""),
        (["step", "run", "fail", "--config", '{"message": "${{ nope.x }}"}'], 2, "config.message", ""),
        (["step", "run", "delete", "--config", '{"path": "../x"}'], 1, "leads outside the work dir", ""),
        (["step", "run", "fail", "--config", "[1]"], 2, "", "the config must be a JSON object"),
        (["step", "run", "fail", "--config", "{"], 2, "", "invalid JSON"),
        (["step", "run", "fail", "--config", "@missing.json"], 2, "", "cannot read --config"),
        (
            ["step", "run", "fail", "--config", "{}", "--context", '{"ctxx": {}}'],
            2,
            "",
            "--context.ctxx: unknown field (did you mean 'ctx'?)",
        ),
        (
            ["step", "run", "fail", "--config", "{}", "--context", '{"freight": [{"origin": 3}]}'],
            2,
            "",
            "--context.freight.0.origin: expected a mapping, found an integer",
        ),
    ],
)
def test_bad_input_and_failures(
    tmp_path: Path, args: list[str], code: int, stdout_part: str, stderr_part: str
) -> None:
    done = _run(args, tmp_path)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert stdout_part in done.stdout
    assert stderr_part in done.stderr


def test_step_list(tmp_path: Path) -> None:
    done = _run(["--output", "json", "step", "list"], tmp_path)
    assert done.returncode == 0
    assert {"copy", "delete", "compose-output", "fail"} <= set(json.loads(done.stdout))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_aborts_the_running_step(tmp_path: Path, sig: signal.Signals) -> None:
    # The CLI's own handlers and engine, with a test step that runs `sleep` through run_command.
    script = textwrap.dedent(
        """
        import json, sys
        from pathlib import Path
        from kargo_actions.cli.signals import abort_on_signals
        from kargo_actions.promotion.single import run_single_step
        from tests.promotion.helpers import resolve

        work = Path(sys.argv[1])
        with abort_on_signals() as abort:
            result = run_single_step(
                "test-sleep", {"seconds": 60}, work_dir=work, abort=abort, resolve_step=resolve
            )
        print(json.dumps(result.to_json()))
        """
    )
    work = tmp_path / "work"
    repo_root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(work)],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo_root)},
    )
    pid_file = work / "sleep.pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    sent = time.monotonic()
    child.send_signal(sig)
    stdout, stderr = child.communicate(timeout=30)
    assert time.monotonic() - sent < 5
    assert child.returncode == 0, stderr
    result = json.loads(stdout)
    assert result["phase"] == "Aborted"
    assert result["steps"][0]["status"] == "Aborted"
    assert gone_soon(int(pid_file.read_text()))
