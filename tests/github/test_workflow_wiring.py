"""The generated workflows' wiring (issue 14, item 7): the verify job in the Stage's environment with
`checks: read` when a github-checks metric needs it; `actions: write` for discovery only when a Stage
auto-promotes; the environment URL from a Stage annotation in the jobs and the Deployment statuses; and
one promotion is one deployment: the jobs' environments make none (`deployment: false`), the promotion's
own Deployment carries it from start to resume (against the GitHub test server)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.github.deployment_links import ENVIRONMENT_URL_ANNOTATION
from tests.github.test_workflows_gen import PINNED
from tests.github.test_workflows_reconcile import RUN_STEPS, _waiting_pipeline
from tests.ledger.helpers import make_freight, make_repo
from tests.promotion import test_github_reporting as reporting_tests
from tests.promotion.test_github_reporting import client_for, github_env, record
from tests.promotion.test_service import manifests, run, write
from tests.promotion.test_waiting_pull_requests import REPOSITORY, closed_event, pipeline
from tests.support.github_server import GitHubServer
from tests.support.workflow_tools import load_yaml, tool
from tests.verification.test_cli import pipeline as verified_pipeline

# The GitHub test server and a pipeline repository whose remote is its bare acme/app (fixtures).
github_contract = reporting_tests.github_contract
gh = reporting_tests.gh
repo = reporting_tests.repo

DEV_URL = "https://dev.example.com/app?o=1'2"  # a quote, doubled in the expression's string literal
CHECKS_METRIC = {
    "name": "checks",
    "provider": {"plugin": {"kargo-actions/github-checks": {"checks": ["ci"]}}},
}


def _generate(path: Path, *args: str) -> dict[str, Any]:
    code, _, err = run(path, "workflows", "generate", "--uses", PINNED, "--repository-url", "", *args)
    assert code == 0, err
    folder = path / ".github" / "workflows"
    return {p.name: load_yaml(p) for p in folder.glob("*.yml")}


def _annotate(docs: list[dict[str, Any]], stage: str, url: str) -> list[dict[str, Any]]:
    for doc in docs:
        if doc["kind"] == "Stage" and doc["metadata"]["name"] == stage:
            doc["metadata"]["annotations"] = {ENVIRONMENT_URL_ANNOTATION: url}
    return docs


def _environments(files: dict[str, Any]) -> dict[str, Any]:
    """(file, job) -> the job's environment, for every job that has one."""
    return {
        f"{name}:{job_name}": job["environment"]
        for name, workflow in files.items()
        for job_name, job in workflow["jobs"].items()
        if "environment" in job
    }


def _lint(path: Path) -> None:
    folder = path / ".github" / "workflows"
    zizmor = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(folder)], capture_output=True, text=True
    )
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    lint = subprocess.run(
        [tool("actionlint"), "-no-color", *map(str, sorted(folder.glob("*.yml")))],
        capture_output=True,
        text=True,
        cwd=path,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("checks", [False, True], ids=["web", "github-checks"])
def test_the_verify_job_runs_in_the_stages_environment_and_reads_checks_when_a_metric_does(
    tmp_path: Path, checks: bool
) -> None:
    path = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    docs = verified_pipeline("http://127.0.0.1:9", CHECKS_METRIC if checks else None)
    # staging's promotion waits for a workflow run: kargo-reconcile.yml's resume job verifies what it ends
    staging = next(d for d in docs if d["metadata"]["name"] == "staging")
    staging["spec"]["promotionTemplate"]["spec"]["steps"] = RUN_STEPS
    write(path, _annotate(docs, "dev", DEV_URL))
    files = _generate(path)
    verify = files["kargo-promote.yml"]["jobs"]["verify"]
    assert verify["environment"]["name"] == "${{ inputs.stage }}"
    assert verify["environment"]["deployment"] is False
    expected = {"contents": "write", "statuses": "write", **({"checks": "read"} if checks else {})}
    assert verify["permissions"] == expected
    assert ("checks" in files["kargo-reconcile.yml"]["jobs"]["resume"]["permissions"]) is checks
    assert "checks" not in files["kargo-promote.yml"]["jobs"]["promote"]["permissions"]  # it does not verify
    _lint(path)


@pytest.mark.parametrize("auto", [False, True], ids=["by-hand", "auto-promotes"])
def test_discovery_asks_for_actions_write_only_when_a_stage_auto_promotes(tmp_path: Path, auto: bool) -> None:
    path = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    write(path, manifests([{"stage": "staging", "autoPromotionEnabled": True}] if auto else None))
    discover = _generate(path)["kargo-discover.yml"]["jobs"]["discover"]
    assert ("actions" in discover["permissions"]) is auto
    assert discover["steps"][-1]["with"]["dispatch-auto-promotions"] == ("true" if auto else "false")


def test_the_environment_url_annotation_reaches_every_job_in_the_stages_environment(tmp_path: Path) -> None:
    path = _waiting_pipeline(tmp_path)
    docs = _annotate(manifests([{"stage": "staging", "autoPromotionEnabled": True}]), "dev", DEV_URL)
    # the waiting pipeline's steps, and a verification of dev
    for i, doc in enumerate(docs):
        old = json.loads((path / ".kargo" / f"{i:02d}.yaml").read_text())
        if doc["kind"] == "Stage":
            doc["spec"] = old["spec"]
    verified = verified_pipeline("http://127.0.0.1:9")
    docs[2]["spec"]["verification"] = next(d for d in verified if d["metadata"]["name"] == "dev")["spec"][
        "verification"
    ]
    write(path, [*docs, verified[-1]])
    files = _generate(path)
    table = json.dumps({"dev": DEV_URL}, separators=(",", ":")).replace("'", "''")
    environments = _environments(files)
    assert set(environments) == {
        "kargo-promote.yml:promote",
        "kargo-promote.yml:verify",
        "kargo-reconcile.yml:resume",
    }
    for where, environment in environments.items():
        stage = "matrix.stage" if "reconcile" in where else "inputs.stage"
        assert environment == {
            "name": f"${{{{ {stage} }}}}",
            "url": f"${{{{ fromJSON('{table}')[{stage}] }}}}",
            "deployment": False,
        }, where
    _lint(path)

    # GitHub Enterprise Server and act know no `deployment:`: --job-deployments leaves it out
    files = _generate(path, "--job-deployments")
    assert all("deployment" not in env for env in _environments(files).values())
    # no annotation, no url
    write(path, manifests([{"stage": "staging", "autoPromotionEnabled": True}]))
    assert _generate(path)["kargo-promote.yml"]["jobs"]["promote"]["environment"] == {
        "name": "${{ inputs.stage }}"
    }


@pytest.mark.parametrize(
    ("setting", "variable", "job_makes_it"),
    [
        (None, "", True),  # auto, and no promotion can wait
        ("promotion", "", False),
        ("job", "", True),
        ("auto", "promotion", False),  # KARGO_ACTIONS_DEPLOYMENTS over Settings
        ("promotion", "job", True),
    ],
)
def test_who_makes_the_deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, variable: str, job_makes_it: bool
) -> None:
    """The promote job's environment makes the Deployment (and tells promote so), or the promotion does; the
    verify job never makes one."""
    path = make_repo(tmp_path / "repo")
    settings = None if setting is None else {"deployments": setting}
    write(path, manifests([{"stage": "staging", "autoPromotionEnabled": True}], settings=settings))
    if variable:
        monkeypatch.setenv("KARGO_ACTIONS_DEPLOYMENTS", variable)
    job = _generate(path)["kargo-promote.yml"]["jobs"]["promote"]
    if job_makes_it:
        assert "deployment" not in job["environment"]
        assert job["env"] == {"KARGO_ACTIONS_DEPLOYMENTS": "job"}
        assert "deployments" not in job["permissions"]
    else:
        assert job["environment"]["deployment"] is False
        assert "env" not in job
        assert job["permissions"]["deployments"] == "write"


def test_a_waiting_pipeline_keeps_the_promotions_own_deployment(tmp_path: Path) -> None:
    # a job's deployment ends with its job; a promotion that waits goes on in another (kargo-reconcile.yml)
    files = _generate(_waiting_pipeline(tmp_path))
    assert all(env["deployment"] is False for env in _environments(files).values())
    assert "env" not in files["kargo-promote.yml"]["jobs"]["promote"]


def test_an_unknown_deployments_variable_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_repo(tmp_path / "repo")
    write(path, manifests([{"stage": "staging"}]))
    monkeypatch.setenv("KARGO_ACTIONS_DEPLOYMENTS", "jobs")
    code, _, err = run(path, "workflows", "generate", "--uses", PINNED, "--repository-url", "")
    assert code == 2
    assert "KARGO_ACTIONS_DEPLOYMENTS: 'jobs' is not a way to make Deployments" in err
    assert "use job, promotion or auto" in err


def test_an_environment_url_that_is_not_a_web_address_is_bad_input(tmp_path: Path) -> None:
    path = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    (path / ".kargo").mkdir()
    (path / ".kargo" / "stage.yaml").write_text(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: dev\n  annotations:\n"
        f"    {ENVIRONMENT_URL_ANNOTATION}: dev.example.com\nspec:\n  requestedFreight:\n"
        "    - origin: {kind: Warehouse, name: app}\n      sources: {direct: true}\n"
        "  promotionTemplate:\n    spec:\n      steps:\n        - uses: compose-output\n          config: {a: b}\n"
    )
    (path / ".kargo" / "warehouse.yaml").write_text(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata:\n  name: app\nspec:\n  subscriptions:\n"
        "    - image: {repoURL: ghcr.io/example/app}\n"
    )
    code, _, err = run(path, "workflows", "generate", "--uses", PINNED)
    assert code == 2
    assert "stage.yaml:6:" in err
    assert ENVIRONMENT_URL_ANNOTATION in err
    assert "not an http(s) URL" in err
    assert not (path / ".github").exists()


def test_one_promotion_is_one_deployment_with_the_environment_url(
    gh: GitHubServer, repo: Path, tmp_path: Path
) -> None:
    """What the generated jobs run, in order: the promote job (`promote --no-wait`, in the Stage's
    environment) leaves the promotion waiting for its pull request; the resume job (`reconcile`, the same
    environment) finishes it after the merge. Their environments make no deployment of their own, so the
    environment's page shows the promotion's own Deployment alone, linked to the Stage's URL throughout."""
    for old in (repo / ".kargo").iterdir():
        old.unlink()
    write(repo, _annotate(pipeline(), "review", DEV_URL))
    files = _generate(repo)
    assert {json.dumps(e, sort_keys=True) for e in _environments(files).values()} == {
        json.dumps(
            {
                "name": f"${{{{ {stage} }}}}",
                "url": "${{ fromJSON('"
                + json.dumps({"review": DEV_URL}, separators=(",", ":")).replace("'", "''")
                + f"')[{stage}] }}}}",
                "deployment": False,
            },
            sort_keys=True,
        )
        for stage in ("inputs.stage", "matrix.stage")
    }

    record(repo, make_freight(1, alias="f-1"))
    gh.commit_files(REPOSITORY, "promo/review", {"env/review.yaml": "image: v1\n"})
    code, out, err = run(
        repo, "-o", "json", "promote", "-s", "review", "-f", "f-1", "--no-wait", env=github_env(gh)
    )
    assert code == 0, err
    [started] = json.loads(out)
    assert started["phase"] == "Running"
    client = client_for(gh)
    client.merge_pull_request(started["wait"]["number"])
    env = {**github_env(gh), **closed_event(tmp_path, started["wait"]["number"], merged=True)}
    code, out, err = run(repo, "-o", "json", "reconcile", env=env)
    assert code == 0, err
    assert json.loads(out)[0]["phase"] == "Succeeded"

    [deployment] = client.list_deployments()
    assert deployment.environment == "review"
    statuses = gh.repo(REPOSITORY).deployment_statuses[deployment.id]  # as the server stored them
    assert [s["state"] for s in statuses] == ["in_progress", "in_progress", "success"]
    assert {s["environment_url"] for s in statuses} == {DEV_URL}
