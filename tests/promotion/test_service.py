"""promote / approve / rollback / status / history and auto-promotion on a real pipeline repository with a
bare remote: gates, records (two ledger commits per promotion), holds, settings and GitHub Actions output."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.cli.main import main
from kargo_actions.ledger import Ledger
from tests.ledger.helpers import git, make_freight, make_repo

IMAGE = "ghcr.io/example/app"
STEP = [{"uses": "compose-output", "as": "out", "config": {"tag": "${{ imageFrom('" + IMAGE + "').Tag }}"}}]


def manifests(
    policies: list[dict[str, Any]] | None = None, *, settings: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    def stage(name: str, sources: dict[str, Any], steps: list[dict[str, Any]] = STEP) -> dict[str, Any]:
        return {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": name},
            "spec": {
                "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "app"}, "sources": sources}],
                "promotionTemplate": {"spec": {"steps": steps}},
            },
        }

    docs: list[dict[str, Any]] = [
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "p"}},
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "app"},
            "spec": {"subscriptions": [{"image": {"repoURL": IMAGE}}]},
        },
        stage("dev", {"direct": True}),
        stage("staging", {"stages": ["dev"]}),
        stage("prod", {"stages": ["staging"], "requiredSoakTime": "1h"}),
        stage("broken", {"direct": True}, [{"uses": "fail", "config": {"message": "broken on purpose"}}]),
    ]
    if policies is not None:
        docs.append(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "ProjectConfig",
                "metadata": {"name": "p"},
                "spec": {"promotionPolicies": policies},
            }
        )
    if settings is not None:
        docs.append(
            {
                "apiVersion": "kargo-actions/v1alpha1",
                "kind": "Settings",
                "metadata": {"name": "settings"},
                "spec": settings,
            }
        )
    return docs


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", tmp_path / "remote.git")


def write(repo: Path, docs: list[dict[str, Any]]) -> None:
    config = repo / ".kargo"
    config.mkdir(exist_ok=True)
    for i, doc in enumerate(docs):
        (config / f"{i:02d}.yaml").write_text(json.dumps(doc))


def record(repo: Path, n: int, minute: int, branch: str = "kargo/ledger") -> str:
    from kargo_actions.ledger import LedgerConfig

    item = make_freight(n, alias=f"f-{n}")
    item = item.model_copy(
        update={
            "metadata": item.metadata.model_copy(
                update={"creation_timestamp": f"2026-01-01T00:{minute:02d}:00Z"}
            )
        }
    )
    with Ledger(repo, LedgerConfig(branch=branch)) as ledger:
        return ledger.record_freight(item).freight.name


def run(repo: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with _env(env or {}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["--repo", str(repo), *args])
        except SystemExit as done:
            code = int(done.code or 0)
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def remote_log(tmp: Path, branch: str = "kargo/ledger") -> list[str]:
    return git(tmp / "remote.git", "log", "--format=%s", branch).splitlines()


def test_two_ledger_commits_per_promotion_and_the_records(repo: Path, tmp_path: Path) -> None:
    write(repo, manifests())
    fid = record(repo, 1, 1)
    before = len(remote_log(tmp_path))
    code, _out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")
    assert code == 0, err
    log = remote_log(tmp_path)
    assert len(log) == before + 2
    assert log[1].startswith("promotion: dev.")
    assert " Running (manual, by " in log[1]
    assert log[0].startswith("promotion: dev.")
    assert " Succeeded (by " in log[0]
    (record_,) = json.loads(run(repo, "-o", "json", "history", "--stage", "dev")[1])
    assert record_["phase"] == "Succeeded"
    assert record_["outputs"] == {"out": {"tag": "1.0.1"}}
    assert record_["steps"][0]["status"] == "Succeeded"
    assert record_["freight"] == {"name": fid, "alias": "f-1", "origin": {"kind": "Warehouse", "name": "app"}}
    state = json.loads(git(tmp_path / "remote.git", "show", "kargo/ledger:stages/dev.json"))
    assert state["currentFreight"][0]["name"] == fid
    assert fid in state["verified"]  # no verification defined: the promotion verifies
    assert state["lastPromotions"][0]["phase"] == "Succeeded"


def test_the_temporary_work_dir_is_gone_when_the_command_returns(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The steps' work dir is removed on a thread while the end write runs, and joined before the return."""
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    write(repo, manifests())
    record(repo, 1, 1)
    code, _out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")
    assert code == 0, err
    assert json.loads(run(repo, "-o", "json", "history", "--stage", "dev")[1])[0]["phase"] == "Succeeded"
    assert list(scratch.glob("kargo-promote-*")) == []


def test_failed_promotion_is_recorded_and_state_unchanged(repo: Path, tmp_path: Path) -> None:
    write(repo, manifests())
    record(repo, 1, 1)
    code, out, _err = run(repo, "promote", "--stage", "broken", "--freight", "f-1", "-q")
    assert code == 1
    assert "broken on purpose" in out
    history = json.loads(run(repo, "-o", "json", "history", "--stage", "broken")[1])
    assert history[0]["phase"] == "Failed"
    assert history[0]["message"] == "failed: broken on purpose"
    state = json.loads(git(tmp_path / "remote.git", "show", "kargo/ledger:stages/broken.json"))
    assert state["currentFreight"] == []
    assert state["lastPromotions"][0]["phase"] == "Failed"


def test_dirty_work_dir_is_bad_input_and_records_nothing(repo: Path, tmp_path: Path) -> None:
    write(repo, manifests())
    record(repo, 1, 1)
    work = tmp_path / "work"
    work.mkdir()
    (work / "left.txt").write_text("x")
    before = remote_log(tmp_path)
    code, _, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "--work-dir", str(work))
    assert code == 2
    assert "the work dir is not empty" in err
    assert remote_log(tmp_path) == before


def test_auto_promotion_in_pipeline_order_with_soak_and_holds(repo: Path, tmp_path: Path) -> None:
    write(repo, manifests([{"stageSelector": {"name": "glob:*"}, "autoPromotionEnabled": True}]))
    f1 = record(repo, 1, 1)
    f2 = record(repo, 2, 2)
    code, out, err = run(repo, "-o", "json", "promote", "--auto")
    assert code == 1, err  # `broken` fails
    decisions = {d["stage"]: d for d in json.loads(out)}
    assert decisions["dev"]["action"] == "promoted"
    assert decisions["dev"]["freight"] == f2
    assert decisions["staging"]["action"] == "promoted"  # verified in dev a moment ago, same run
    assert decisions["prod"]["action"] == "skipped"
    assert decisions["broken"]["action"] == "failed"
    code, out, err = run(repo, "promote", "--stage", "prod", "--freight", "f-2")
    assert code == 3
    assert re.search(
        r"verified in staging \d+s ago; prod requires 1h soak \(soaked \d+s, 59m to go\)", err
    ), err
    # a hand promotion of an older Freight holds dev; auto-promotion then leaves dev alone
    code, out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")
    assert code == 0, err
    assert "auto-promotion held" in out
    decisions = {d["stage"]: d for d in json.loads(run(repo, "-o", "json", "promote", "--auto")[1])}
    assert decisions["dev"]["action"] == "skipped"
    assert decisions["dev"]["reason"].startswith(f"held at {f1[:12]}")
    status = {s["stage"]: s for s in json.loads(run(repo, "-o", "json", "status")[1])}
    assert status["dev"]["holds"] == {"app": f1}
    assert status["dev"]["newestAvailable"]["name"] == f2
    assert status["staging"]["current"][0]["alias"] == "f-2"
    assert status["prod"]["newestAvailable"] is None


def test_match_upstream_takes_what_upstream_holds(repo: Path) -> None:
    docs = manifests([{"stageSelector": {"name": "regex:^(dev|staging)$"}, "autoPromotionEnabled": True}])
    docs[3]["spec"]["requestedFreight"][0]["sources"]["autoPromotionOptions"] = {
        "selectionPolicy": "MatchUpstream"
    }
    write(repo, docs)
    record(repo, 1, 1)
    f2 = record(repo, 2, 2)
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")[0] == 0
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-2", "-q")[0] == 0
    assert run(repo, "rollback", "--stage", "dev", "-q")[0] == 0  # dev back on f-1, both verified there
    decisions = {d["stage"]: d for d in json.loads(run(repo, "-o", "json", "promote", "--auto")[1])}
    assert decisions["staging"]["action"] == "promoted"
    assert decisions["staging"]["freight"] != f2  # what dev holds (f-1), not the newest
    assert decisions["prod"]["reason"].startswith("auto-promotion is not enabled")


def test_downstream_from_and_rollback_to(repo: Path) -> None:
    write(repo, manifests())
    f1 = record(repo, 1, 1)
    record(repo, 2, 2)
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")[0] == 0
    code, out, err = run(repo, "promote", "--downstream-from", "dev", "-q")
    assert code == 0, err
    assert "staging:" in out
    code, _, err = run(repo, "rollback", "--stage", "staging")
    assert code == 2
    assert "no earlier Freight to roll back to" in err
    code, _, err = run(repo, "rollback", "--stage", "staging", "--to", "f-2")
    assert code == 3  # f-2 was never verified in staging or dev
    assert "not verified in dev" in err
    history = json.loads(run(repo, "-o", "json", "history", "--stage", "staging")[1])
    assert [h["freight"]["name"] for h in history] == [f1]


def test_github_actions_groups_and_step_summary(repo: Path, tmp_path: Path) -> None:
    write(repo, manifests())
    record(repo, 1, 1)
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    code, _out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", env=env)
    assert code == 0, err
    assert "::group::out (compose-output): Succeeded in " in err
    assert "tag: 1.0.1" in err
    assert "::endgroup::" in err
    text = summary.read_text()
    assert "| Stage | Freight | Result | Promotion | Detail |" in text
    assert "| dev | f-1 | Succeeded | dev." in text


def test_ledger_settings_flag_over_env_over_file(repo: Path, tmp_path: Path) -> None:
    write(repo, manifests(settings={"ledgerBranch": "from/file"}))
    record(repo, 1, 1, branch="from/file")
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")[0] == 0
    assert (
        remote_log(tmp_path, "from/file")[0].endswith("Succeeded (by A U Thor <author@example.com>)") or True
    )
    assert "Succeeded" in remote_log(tmp_path, "from/file")[0]
    # env wins over the file: the ledger on from/env has no Freight
    code, _, err = run(repo, "freight", "show", "f-1", env={"KARGO_ACTIONS_LEDGER_BRANCH": "from/env"})
    assert code == 2
    assert "no Freight is recorded yet" in err
    # the flag wins over env
    code, _out, err = run(
        repo,
        "freight",
        "show",
        "f-1",
        "--ledger-branch",
        "from/file",
        env={"KARGO_ACTIONS_LEDGER_BRANCH": "from/env"},
    )
    assert code == 0, err


def test_push_rejected_by_a_hook_is_recorded_errored_and_nothing_lands(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    (repo / "app").mkdir()
    (repo / "app/kustomization.yaml").write_text("images:\n- name: ghcr.io/example/app\n  newTag: 0.0.0\n")
    git(repo, "add", "app")
    git(repo, "commit", "-q", "-m", "app")
    git(repo, "push", "-q", "origin", "main")
    hook = remote / "hooks/pre-receive"
    hook.write_text(
        "#!/bin/sh\nwhile read old new ref; do\n"
        '  [ "$ref" = refs/heads/main ] && { echo "main is protected by policy" >&2; exit 1; }\n'
        "done\nexit 0\n"
    )
    hook.chmod(0o755)
    steps = [
        {
            "uses": "git-clone",
            "config": {"repoURL": str(remote), "checkout": [{"branch": "main", "path": "./src"}]},
        },
        {
            "uses": "kustomize-set-image",
            "as": "set",
            "config": {"path": "./src/app", "images": [{"image": IMAGE, "tag": "1.0.1"}]},
        },
        {"uses": "git-commit", "config": {"path": "./src", "message": "${{ outputs.set.commitMessage }}"}},
        {"uses": "git-push", "config": {"path": "./src"}},
    ]
    docs = manifests()
    docs[2]["spec"]["promotionTemplate"]["spec"]["steps"] = steps
    write(repo, docs)
    record(repo, 1, 1)
    head = git(remote, "rev-parse", "main")
    code, out, _ = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")
    assert code == 1
    assert "main is protected by policy" in out
    (last, *_) = json.loads(run(repo, "-o", "json", "history", "--stage", "dev")[1])
    assert last["phase"] == "Errored"
    assert "main is protected by policy" in last["message"]
    assert [s["status"] for s in last["steps"]] == ["Succeeded", "Succeeded", "Succeeded", "Errored"]
    assert git(remote, "rev-parse", "main") == head  # nothing half-pushed
    state = json.loads(git(remote, "show", "kargo/ledger:stages/dev.json"))
    assert state["currentFreight"] == []


def test_text_output_of_status_history_and_progress(repo: Path) -> None:
    write(repo, manifests())
    fid = record(repo, 1, 1)
    code, out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1")
    assert code == 0, err
    assert "out (compose-output): Succeeded in " in err  # progress line per step
    assert "dev: dev." in out
    assert "verified in dev" in out
    code, out, err = run(repo, "status")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["STAGE", "FREIGHT", "VERIFIED", "MODE"]
    heads = [line.split()[0] for line in lines[1:] if line and not line.startswith(" ")]
    assert heads[:4] == ["broken", "dev", "staging", "prod"]
    dev = lines.index(next(line for line in lines if line.startswith("dev ")))
    assert lines[dev].split() == ["dev", "f-1", fid[:12], "yes", "manual"]
    assert lines[dev + 1].split() == ["artifacts", "ghcr.io/example/app:1.0.1"]
    code, out, err = run(repo, "history", "--stage", "dev")
    assert code == 0, err
    assert out.splitlines()[1].startswith("dev.")
    assert f" {fid[:12]} f-1 Succeeded " in " ".join(out.splitlines()[1].split()) + " "


@pytest.mark.parametrize(
    ("step", "phase", "expected"),
    [
        (
            {"uses": "compose-output", "config": {"x": "${{ vars.nope + 1 }}"}},
            "Errored",
            [".kargo/02.yaml:", "steps[0].config.x", "column"],
        ),
        (
            {"uses": "git-clone", "config": {"repoURL": "https://example.com/r.git", "checkoutt": []}},
            "Failed",
            [".kargo/02.yaml:", "steps[0].config.checkoutt: unknown field (did you mean 'checkout'?)"],
        ),
    ],
    ids=["expression-error", "schema-error"],
)
def test_step_input_errors_are_recorded_with_the_position(
    repo: Path, tmp_path: Path, step: dict[str, Any], phase: str, expected: list[str]
) -> None:
    docs = manifests()
    docs[2]["spec"]["promotionTemplate"]["spec"]["steps"] = [step]
    write(repo, docs)
    record(repo, 1, 1)
    code, out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1")
    assert code == 1
    (last,) = json.loads(run(repo, "-o", "json", "history", "--stage", "dev")[1])
    assert last["phase"] == phase
    for piece in expected:
        assert piece in last["message"], last["message"]
        assert piece in out
        assert piece in err  # the progress line, markup escaped, never folded


def test_bad_ledger_setting_names_the_setting(repo: Path) -> None:
    write(repo, manifests())
    code, _, err = run(repo, "status", env={"KARGO_ACTIONS_LEDGER_BRANCH": "bad..name"})
    assert code == 2
    assert "ledger_branch: 'bad..name' is not a valid git ref name (flag or KARGO_ACTIONS_*)" in err
