"""The composite actions: generated per-step actions are fresh, inputs become typed configs, outputs are
written with random heredoc delimiters, secrets are masked, and zizmor and actionlint find nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.github.output import command_outputs, format_outputs, write_outputs
from kargo_actions.promotion import step_actions as actions_gen
from kargo_actions.promotion.step_inputs import CONFIG_ENV, ENV_PREFIX, config_from_inputs
from kargo_actions.redact import mask
from tests.support.workflow_tools import load_yaml, tool

ROOT = Path(__file__).resolve().parents[2]


def test_generated_step_actions_are_fresh(tmp_path: Path) -> None:
    report = actions_gen.generate(ROOT / "actions" / "steps", check=True)
    assert not report.stale, (
        f"stale step actions {report.stale}: run `kargo-actions workflows generate-actions`"
    )


def test_every_registered_step_has_an_action_mirroring_its_config() -> None:
    from kargo_actions.promotion.registry import get_step, step_names

    for name in step_names():
        action = load_yaml(ROOT / "actions" / "steps" / name / "action.yml")
        model = get_step(name).config_model
        wire = {(f.alias or n) for n, f in model.model_fields.items()}
        extras = {"step-config", "step-context", "step-alias", "work-dir"}
        assert set(action["inputs"]) == wire | extras, name
        required = {n for n, f in model.model_fields.items() if f.is_required()}
        assert {k for k, v in action["inputs"].items() if v["required"]} == {
            model.model_fields[n].alias or n for n in required
        }, name
        declared = {
            k for k in getattr(type(get_step(name)), "outputs", {}) if re.fullmatch(r"[A-Za-z_][\w-]*", k)
        }
        assert set(action["outputs"]) == {"step-status", "step-message", "step-outputs"} | declared, name
        env = action["runs"]["steps"][1]["env"]
        # every input reaches the shell through env, never through ${{ }} in `run`
        assert all("${{" not in step.get("run", "") for step in action["runs"]["steps"]), name
        assert {v.removeprefix("${{ inputs.").removesuffix(" }}") for v in env.values()} == set(
            action["inputs"]
        ), name


def test_a_stale_action_is_found_and_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "steps"
    first = actions_gen.generate(out)
    assert "git-push/action.yml" in first.written
    (out / "git-push" / "action.yml").write_text("changed\n")
    (out / "gone").mkdir()
    (out / "gone" / "action.yml").write_text(actions_gen.GENERATED_MARK + " from gone\n")
    (out / "mine").mkdir()
    (out / "mine" / "action.yml").write_text("name: my own action\n")
    check = actions_gen.generate(out, check=True)
    assert set(check.stale) == {"git-push/action.yml", "gone/action.yml"}
    again = actions_gen.generate(out)
    assert again.written == ("git-push/action.yml",)
    assert again.removed == ("gone/action.yml",)
    assert (out / "mine" / "action.yml").is_file()  # not generated: left alone
    assert actions_gen.generate(out, check=True).stale == ()


@pytest.mark.parametrize(
    ("step", "inputs", "expected"),
    [
        (
            "git-push",
            {"path": "./out", "maxAttempts": "5", "force": "true"},
            {"path": "./out", "maxAttempts": 5, "force": True},
        ),
        ("git-push", {"path": "./out", "provider": ""}, {"path": "./out"}),
        ("copy", {"inPath": "a", "outPath": "007"}, {"inPath": "a", "outPath": "007"}),
        (
            "git-clone",
            {"repoURL": "https://x/y.git", "checkout": "- branch: main\n  path: ./src\n"},
            {"repoURL": "https://x/y.git", "checkout": [{"branch": "main", "path": "./src"}]},
        ),
        (
            "yaml-update",
            {"path": "v.yaml", CONFIG_ENV: '{"path": "ignored.yaml", "updates": [{"key": "a", "value": 1}]}'},
            {"path": "v.yaml", "updates": [{"key": "a", "value": 1}]},
        ),
    ],
)
def test_inputs_become_the_typed_config(step: str, inputs: dict[str, str], expected: dict[str, Any]) -> None:
    env = {(k if k == CONFIG_ENV else ENV_PREFIX + k): v for k, v in inputs.items()}
    assert config_from_inputs(step, env) == expected


def test_bad_inputs_are_all_reported() -> None:
    env = {ENV_PREFIX + "path": "x", ENV_PREFIX + "force": "yes", ENV_PREFIX + "maxAttempts": "many"}
    with pytest.raises(InvalidInputError) as caught:
        config_from_inputs("git-push", env)
    lines = caught.value.lines()
    assert any("inputs.force" in line and "true or false" in line for line in lines)
    assert any("inputs.maxAttempts" in line for line in lines)


def _read_outputs(text: str) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT the way the runner does (name<<DELIM ... DELIM)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines) - 1:
        name, _, delimiter = lines[i].partition("<<")
        body: list[str] = []
        i += 1
        while lines[i] != delimiter:
            body.append(lines[i])
            i += 1
        values[name] = "\n".join(body)
        i += 1
    return values


def test_outputs_use_a_fresh_random_delimiter_and_survive_hostile_values(tmp_path: Path) -> None:
    target = tmp_path / "out"
    hostile = "line1\nEOF\nstatus=hacked\nghadelimiter_x"
    write_outputs({"message": hostile, "count": 3, "data": {"a": [1, 2]}}, target)
    write_outputs({"message2": hostile}, target)
    text = target.read_text()
    delimiters = [line.partition("<<")[2] for line in text.splitlines() if "<<" in line]
    assert len(set(delimiters)) == 4
    assert all(len(d) > 30 for d in delimiters)
    assert _read_outputs(text) == {
        "message": hostile,
        "count": "3",
        "data": '{"a":[1,2]}',
        "message2": hostile,
    }
    with pytest.raises(InvalidInputError):
        format_outputs({"bad name": "x"})
    assert write_outputs({"a": "b"}, "") is False


def test_mask_each_line_of_a_secret() -> None:
    import io

    out = io.StringIO()
    mask("-----BEGIN KEY-----\nabc\n\n-----END KEY-----", out)
    assert out.getvalue().splitlines() == [
        "::add-mask::-----BEGIN KEY-----",
        "::add-mask::abc",
        "::add-mask::-----END KEY-----",
    ]


@pytest.mark.parametrize(
    ("document", "code", "freight", "promotion", "status"),
    [
        (
            [{"name": "dev.01abc", "stage": "dev", "freight": "f1", "phase": "Succeeded"}],
            0,
            "f1",
            "dev.01abc",
            "succeeded",
        ),
        (
            {"created": [{"kind": "Freight", "metadata": {"name": "f2"}}], "warehouses": []},
            1,
            "f2",
            "",
            "failed",
        ),
        ({"freight": "f3", "stage": "prod", "created": True}, 0, "f3", "", "succeeded"),
        (  # promote --auto [--stage S]: one decision per Stage
            [
                {
                    "stage": "uat",
                    "action": "promoted",
                    "freight": "f4",
                    "promotion": "uat.01x",
                    "phase": "Succeeded",
                },
                {"stage": "prod", "action": "skipped", "reason": "held", "freight": None},
            ],
            0,
            "f4",
            "uat.01x",
            "succeeded",
        ),
        (None, 3, "", "", "refused"),
    ],
)
def test_command_outputs(document: Any, code: int, freight: str, promotion: str, status: str) -> None:
    got = command_outputs(document, code)
    assert (got["freight"], got["promotion"], got["status"], got["exit-code"]) == (
        freight,
        promotion,
        status,
        str(code),
    )


def test_step_action_script_runs_a_step_and_writes_outputs(tmp_path: Path) -> None:
    """The generated action's `run` script, executed by bash as the runner would, with the inputs in env."""
    action = load_yaml(ROOT / "actions" / "steps" / "compose-output" / "action.yml")
    script = action["runs"]["steps"][1]["run"]
    output = tmp_path / "github_output"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
        "RUNNER_TEMP": str(tmp_path),
        CONFIG_ENV: '{"tag": "v1", "list": [1, 2]}',
        "KARGO_STEP_CONTEXT": "",
        "KARGO_STEP_ALIAS": "",
        "KARGO_STEP_WORK_DIR": str(tmp_path),
    }
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    values = _read_outputs(output.read_text())
    assert values["step-status"] == "Succeeded"
    assert json.loads(values["step-outputs"]) == {"tag": "v1", "list": [1, 2]}
    assert values["tag"] == "v1"
    assert values["list"] == "[1,2]"


def test_env_script_masks_secrets_and_passes_options(tmp_path: Path) -> None:
    script = (
        f'source "{ROOT / "actions" / "setup" / "env.sh"}"; '
        'echo "TOKEN=$GITHUB_TOKEN"; echo "BRANCH=${KARGO_ACTIONS_LEDGER_BRANCH:-unset}"; '
        'echo "REMOTE=${KARGO_ACTIONS_LEDGER_REMOTE-unset}"; echo "COUNT=$GIT_CONFIG_COUNT"; '
        "git config --get gpg.format; git config --get credential.https://github.com.helper >/dev/null && echo helper"
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RUNNER_TEMP": str(tmp_path),
        "KA_GITHUB_TOKEN": "ghs_secret",
        "KA_SIGNING_KEY": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAkey\n-----END OPENSSH PRIVATE KEY-----",
        "KA_LEDGER_BRANCH": "ledger",
        "KA_LEDGER_REMOTE": "",
    }
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    # the masks come before anything could print the values
    assert lines[:4] == [
        "::add-mask::ghs_secret",
        "::add-mask::-----BEGIN OPENSSH PRIVATE KEY-----",
        "::add-mask::AAAAkey",
        "::add-mask::-----END OPENSSH PRIVATE KEY-----",
    ]
    assert "TOKEN=ghs_secret" in lines
    assert "BRANCH=ledger" in lines
    assert "REMOTE=unset" in lines  # an empty input is not an empty (= local only) remote
    assert "COUNT=3" in lines
    assert "ssh" in lines
    assert "helper" in lines
    key = next(tmp_path.glob("kargo-signing-key.*"))
    assert oct(key.stat().st_mode & 0o777) == "0o600"


def _action_files() -> list[Path]:
    return [ROOT / "action.yml", *sorted((ROOT / "actions").rglob("action.yml"))]


def test_zizmor_finds_nothing_in_the_actions_and_workflows() -> None:
    zizmor = tool("zizmor")
    targets = [str(p) for p in _action_files()]
    workflows = ROOT / ".github" / "workflows"
    if workflows.is_dir():
        targets.append(str(workflows))
    done = subprocess.run(
        [zizmor, "--offline", "--no-progress", *targets], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actions_reference_only_pinned_or_local_actions() -> None:
    for path in _action_files():
        for step in load_yaml(path)["runs"]["steps"]:
            uses = step.get("uses", "")
            if uses and not uses.startswith("./"):
                ref = uses.partition("@")[2].split()[0]
                assert re.fullmatch("[0-9a-f]{40}", ref), (path, uses)


def test_output_module_turns_a_command_result_into_outputs(tmp_path: Path) -> None:
    """What actions/setup/run.sh calls after every command: `python -m kargo_actions.github.output`."""
    result = tmp_path / "result.json"
    result.write_text(json.dumps({"created": [{"kind": "Freight", "metadata": {"name": "abc"}}]}))
    output = tmp_path / "github_output"
    env = {**os.environ, "GITHUB_OUTPUT": str(output)}
    for args in (["1", str(result)], ["3"]):
        done = subprocess.run(
            [sys.executable, "-m", "kargo_actions.github.output", *args],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
    text = output.read_text()
    first, second = text.split("freight<<")[1:]
    assert _read_outputs("freight<<" + first)["freight"] == "abc"
    assert _read_outputs("freight<<" + first)["status"] == "failed"
    assert _read_outputs("freight<<" + second)["status"] == "refused"
