"""`kargo-actions workflows generate` and `workflows dispatch`: triggers from the manifests, the promote
workflow's gates, idempotence, user regions kept, other edits refused; zizmor and actionlint on the output;
auto-promotion dispatches against the GitHub test server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.github.workflows import cron_for
from tests.promotion.test_service import manifests, record, run, write
from tests.support.github_fixtures import REPOSITORY, TOKEN
from tests.support.github_server import GitHubServer
from tests.support.workflow_tools import load_yaml, tool

PINNED = "kargo-actions/kargo-actions@" + "0123456789abcdef" * 2 + "01234567"


def _pipeline(tmp_path: Path, extra: list[dict[str, Any]] | None = None, **kw: Any) -> Path:
    from tests.ledger.helpers import make_repo

    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    write(repo, manifests(**kw) + (extra or []))
    return repo


GIT_WAREHOUSE = {
    "apiVersion": "kargo.akuity.io/v1alpha1",
    "kind": "Warehouse",
    "metadata": {"name": "config"},
    "spec": {
        "interval": "1h",
        "subscriptions": [
            {
                "git": {
                    "repoURL": "https://github.com/acme/app.git",
                    "branch": "release",
                    "includePaths": ["charts/app", "glob:env/*/values.yaml"],
                }
            },
            {"git": {"repoURL": "https://github.com/other/lib.git"}},
        ],
    },
}


@pytest.mark.parametrize(
    ("interval", "cron"),
    [
        ("5m0s", "*/5 * * * *"),
        ("30s", "*/5 * * * *"),
        ("7m", "*/10 * * * *"),
        ("15m", "*/15 * * * *"),
        ("1h", "0 */1 * * *"),
        ("5h", "0 */6 * * *"),
        ("48h", "0 0 * * *"),
    ],
)
def test_cron_from_interval(interval: str, cron: str) -> None:
    assert cron_for(interval) == cron


def test_generated_workflows_follow_the_manifests(tmp_path: Path) -> None:
    repo = _pipeline(tmp_path, [GIT_WAREHOUSE], policies=[{"stage": "staging", "autoPromotionEnabled": True}])
    code, _out, err = run(
        repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "https://github.com/acme/app"
    )
    assert code == 0, err
    discover = load_yaml(repo / ".github/workflows/kargo-discover.yml")
    promote = load_yaml(repo / ".github/workflows/kargo-promote.yml")
    on = discover["on"]
    assert [s["cron"] for s in on["schedule"]] == ["*/5 * * * *", "0 */1 * * *"]
    assert on["repository_dispatch"] == {"types": ["kargo-discover"]}
    # only the subscription of this repository triggers on push, with its includePaths as filters
    assert on["push"] == {
        "branches": ["release"],
        "paths": ["charts/app", "charts/app/**", "env/*/values.yaml"],
    }
    assert "workflow_dispatch" in on
    step = discover["jobs"]["discover"]["steps"][-1]
    assert step["uses"] == PINNED.replace("@", "/actions/discover@")
    assert "github.event_name == 'push' && 'config'" in step["with"]["warehouses"]
    assert 'fromJSON(\'{"*/5 * * * *":"app","0 */1 * * *":"config"}\')' in step["with"]["warehouses"]

    dispatch = promote["on"]["workflow_dispatch"]["inputs"]
    assert dispatch["stage"]["type"] == "choice"
    assert dispatch["stage"]["options"] == ["broken", "dev", "staging", "prod"]
    assert dispatch["freight"]["default"] == ""
    # auto-promotion dispatches set `auto`, which the promote action turns into `promote --auto --stage`
    assert {k: dispatch["auto"][k] for k in ("type", "required", "default")} == {
        "type": "boolean",
        "required": False,
        "default": False,
    }
    assert promote["run-name"].startswith(
        "${{ format('{0} {1} {2}', inputs.auto && 'auto-promote' || 'promote'"
    )
    assert promote["concurrency"] == {
        "group": "kargo-promote-${{ inputs.stage }}",
        "cancel-in-progress": False,
    }
    assert promote["permissions"] == {}
    job = promote["jobs"]["promote"]
    # no promotion can wait: the job's own deployment is the promotion's (Settings `deployments: auto`)
    assert job["environment"] == {"name": "${{ inputs.stage }}"}
    assert job["env"] == {"KARGO_ACTIONS_DEPLOYMENTS": "job"}
    assert job["permissions"] == {
        "contents": "write",  # no deployments: write, GitHub Actions makes the job's deployment
        "statuses": "write",
        "actions": "write",  # staging auto-promotes: the workflow dispatches itself
    }
    with_ = job["steps"][-1]["with"]
    assert with_["dispatch-auto-promotions"] == "true"
    assert with_["auto"] == "${{ inputs.auto }}"
    assert with_["warehouse"].startswith('${{ fromJSON(\'{"broken":"app","dev":"app"')
    checkout = job["steps"][0]
    assert checkout["with"]["persist-credentials"] is False


def test_no_auto_promotion_no_pull_requests_means_fewer_permissions(tmp_path: Path) -> None:
    repo = _pipeline(tmp_path)
    assert run(repo, "workflows", "generate", "--uses", "./")[0] == 0
    promote = load_yaml(repo / ".github/workflows/kargo-promote.yml")
    job = promote["jobs"]["promote"]
    assert set(job["permissions"]) == {"contents", "statuses"}
    assert job["steps"][1]["uses"] == "./actions/setup"
    assert "push" not in load_yaml(repo / ".github/workflows/kargo-discover.yml")["on"]  # no git subscription


def test_regenerating_is_idempotent_keeps_user_regions_and_refuses_other_edits(tmp_path: Path) -> None:
    repo = _pipeline(tmp_path)
    path = repo / ".github/workflows/kargo-promote.yml"
    assert run(repo, "workflows", "generate")[0] == 0
    first = path.read_text()
    code, out, _ = run(repo, "workflows", "generate")
    assert code == 0
    assert "unchanged" in out
    assert path.read_text() == first

    # a step of the user's inside the marked region survives a regeneration that changes the file
    mine = "      - name: Notify\n        run: echo promoted\n"
    marker = "      # kargo-actions: end user after-promote\n"
    path.write_text(first.replace(marker, mine + marker))
    docs = manifests()
    docs[3]["metadata"]["name"] = "qa"  # a Stage renamed: the choice list changes
    docs[4]["spec"]["requestedFreight"][0]["sources"] = {"stages": ["qa"]}
    for old in (repo / ".kargo").iterdir():
        old.unlink()
    write(repo, docs)
    code, out, err = run(repo, "workflows", "generate", "--check")
    assert code == 1
    assert "stale" in out
    assert run(repo, "workflows", "generate")[0] == 0
    text = path.read_text()
    assert mine + marker in text
    assert '- "qa"' in text
    assert load_yaml(path)["jobs"]["promote"]["steps"][-1]["name"] == "Notify"

    # an edit outside the regions: refused (exit 2, file untouched) unless --force, which drops it
    edited = text.replace("timeout-minutes: 60", "timeout-minutes: 90")
    path.write_text(edited)
    code, out, err = run(repo, "workflows", "generate")
    assert code == 2
    assert "kargo-promote.yml" in err
    assert "edited outside" in err
    assert "--force" in err
    assert path.read_text() == edited
    assert run(repo, "workflows", "generate", "--force")[0] == 0
    assert "timeout-minutes: 60" in path.read_text()

    # a hand-written file of the same name is never overwritten without --force
    path.write_text("name: mine\n")
    code, _, err = run(repo, "workflows", "generate")
    assert code == 2
    assert "not generated by kargo-actions" in err


def test_zizmor_and_actionlint_pass_on_generated_workflows(tmp_path: Path) -> None:
    repo = _pipeline(
        tmp_path,
        [GIT_WAREHOUSE],
        policies=[{"stage": "staging", "autoPromotionEnabled": True}],
    )
    assert run(repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "")[0] == 0
    workflows = repo / ".github" / "workflows"
    zizmor = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(workflows)], capture_output=True, text=True
    )
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    lint = subprocess.run(
        [tool("actionlint"), "-no-color", *map(str, sorted(workflows.glob("*.yml")))],
        capture_output=True,
        text=True,
        cwd=repo,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_dispatch_plans_and_starts_the_promote_workflow_for_auto_promoting_stages(
    tmp_path: Path, github: GitHubServer
) -> None:
    repo = _pipeline(tmp_path, policies=[{"stage": "dev", "autoPromotionEnabled": True}])
    older = record(repo, 1, 1)
    newest = record(repo, 2, 2)
    github.commit_files(REPOSITORY, "main", {"README": "x"})
    github.add_workflow(REPOSITORY, ".github/workflows/kargo-promote.yml", "kargo-promote")
    env = {
        "GITHUB_API_URL": github.url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_REF": "refs/heads/main",
    }
    code, out, err = run(repo, "-o", "json", "workflows", "dispatch", "--dry-run", env=env)
    assert code == 0, err
    plan = {d["stage"]: d for d in json.loads(out)}
    assert plan["dev"]["freight"] == newest
    assert plan["dev"]["skipped"] == ""
    assert "not enabled" in plan["broken"]["skipped"]
    assert github.repo(REPOSITORY).dispatches == []

    code, out, err = run(repo, "workflows", "dispatch", env=env)
    assert code == 0, err
    [sent] = github.repo(REPOSITORY).dispatches
    assert (sent.workflow_path, sent.ref, sent.inputs) == (
        ".github/workflows/kargo-promote.yml",
        "main",
        {"stage": "dev", "freight": newest, "auto": "true"},
    )
    assert older != newest

    # after a promotion of dev: only Stages fed by dev are considered (staging: not auto-promoted)
    code, out, err = run(repo, "-o", "json", "workflows", "dispatch", "--after-stage", "dev", env=env)
    assert code == 0, err
    assert [d["stage"] for d in json.loads(out)] == ["staging"]
    code, _, err = run(repo, "workflows", "dispatch", "--after-stage", "nope", env=env)
    assert code == 2
    assert "nope" in err


@pytest.mark.parametrize(
    ("selectors", "globs"),
    [
        (["charts/app"], ["charts/app", "charts/app/**"]),
        (["charts/app/"], ["charts/app", "charts/app/**"]),
        (["glob:env/*/values.yaml", "src"], ["env/*/values.yaml", "src", "src/**"]),
        (["src", "regex:^env/.*$"], None),  # GitHub's filters cannot say it: no filter at all
        (["regexp:x"], None),
    ],
)
def test_include_paths_become_push_path_filters(selectors: list[str], globs: list[str] | None) -> None:
    from kargo_actions.github.workflows import _path_filters

    assert _path_filters(selectors) == globs


def test_a_tag_watching_subscription_triggers_on_tag_pushes(tmp_path: Path) -> None:
    warehouse = json.loads(json.dumps(GIT_WAREHOUSE))
    sub = warehouse["spec"]["subscriptions"][0]["git"]
    sub.pop("branch")
    sub["commitSelectionStrategy"] = "SemVer"
    sub["includePaths"] = ["regex:^charts/.*"]
    repo = _pipeline(tmp_path, [warehouse])
    assert run(repo, "workflows", "generate", "--repository-url", "https://github.com/acme/app.git")[0] == 0
    push = load_yaml(repo / ".github/workflows/kargo-discover.yml")["on"]["push"]
    assert push == {"tags": ["*"]}


@pytest.mark.parametrize(
    ("auto", "hold"),
    [("true", {}), ("false", {"app": "f1"})],
    ids=["auto-no-hold", "by-hand-holds"],
)
def test_promote_action_with_auto_runs_promote_auto_stage_and_sets_no_hold(
    tmp_path: Path, auto: str, hold: dict[str, str]
) -> None:
    """The promote action's script, run by bash as the runner would with the inputs in env: auto=true
    promotes what staging's MatchUpstream picks (dev's f-1) in auto mode, freight ignored; the same
    Freight named by hand sets a hold."""
    from tests.ledger.helpers import make_repo
    from tests.promotion.test_auto_stage import match_upstream_pipeline

    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    f1, f2 = match_upstream_pipeline(repo)
    root = Path(__file__).resolve().parents[2]
    action = load_yaml(root / "actions" / "promote" / "action.yml")
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "run")
    assert step["env"]["KA_AUTO"] == "${{ inputs.auto }}"  # inputs reach the shell through env only
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "KA_"))},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_ACTION_PATH": str(root / "actions" / "promote"),
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        "RUNNER_TEMP": str(tmp_path),
        "KA_STAGE": "staging",
        # auto=true ignores it (the dispatch names the run with it); by hand it is the Freight
        "KA_FREIGHT": "f-1" if auto == "false" else "f-2",
        "KA_WAREHOUSE": "app",
        "KA_AUTO": auto,
        "KA_SKIP_STEPS": "",
        "KA_REPO": str(repo),
        "KA_OUTPUT": "json",
        "KA_GITHUB_TOKEN": "",
    }
    done = subprocess.run(["bash", "-c", step["run"]], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert "\nstaging." in (tmp_path / "github_output").read_text()  # the `promotion` output
    if auto == "true":
        assert [(d["stage"], d["action"], d["freight"]) for d in result] == [("staging", "promoted", f1)]
    else:
        assert [(r["stage"], r["hold"]) for r in result] == [("staging", "set")]
    status = {s["stage"]: s for s in json.loads(run(repo, "-o", "json", "status")[1])}
    assert status["staging"]["current"][0]["name"] == f1
    assert status["staging"]["holds"] == {k: f1 for k in hold}
    assert f2 != f1


def test_dispatch_plan_picks_as_auto_promotion_does_match_upstream(tmp_path: Path) -> None:
    """The plan's choice is auto-promotion's own (pipeline.choose_freight): MatchUpstream takes what dev
    holds (f-1), not the newest Freight available to staging (f-2)."""
    from tests.ledger.helpers import make_repo
    from tests.promotion.test_auto_stage import match_upstream_pipeline

    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    f1, f2 = match_upstream_pipeline(repo)
    code, out, err = run(repo, "-o", "json", "workflows", "dispatch", "--dry-run", "--after-stage", "dev")
    assert code == 0, err
    assert [(d["stage"], d["freight"], d["skipped"]) for d in json.loads(out)] == [("staging", f1, "")]
    assert f2 != f1
