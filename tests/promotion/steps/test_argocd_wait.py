"""argocd-wait against the Argo CD test server (every exchange checked against swagger.json): one look per run,
through the engine that looks again in its process, or stops the promotion (--no-wait) and resumes it later
in a new engine with the step's outputs (its last look) and its first start (the timeout counts from there)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.ledger import Ledger, LedgerConfig
from kargo_actions.ledger.records import PromotionRecord
from kargo_actions.model.project import Project
from kargo_actions.promotion.engine import EngineOptions, ResumePoint, run_promotion
from kargo_actions.promotion.result import PromotionPhase, PromotionResult, StepRun
from kargo_actions.promotion.step_api import StepStatus, validate_config
from kargo_actions.promotion.steps.argocd_wait import ArgoCDWait, ArgoCDWaitConfig
from tests.ledger.helpers import make_repo
from tests.promotion.helpers import FAST, freight, write_project
from tests.promotion.steps.conftest import context
from tests.promotion.test_service import IMAGE, record, run, write
from tests.support.argocd_server import ArgoCDServer, Outcome, SyncScript, application, serve_argocd

POLL = "KARGO_ACTIONS_ARGOCD_POLL_INTERVAL"
TIMEOUT = "KARGO_ACTIONS_ARGOCD_TIMEOUT"
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[ArgoCDServer]:
    with serve_argocd() as s:
        yield s


def _env(server: ArgoCDServer, timeout: str | None = "2s") -> dict[str, str]:
    return {**server.env(), POLL: "10ms", **({TIMEOUT: timeout} if timeout else {})}


def _project(tmp_path: Path, config: dict[str, Any], retry: dict[str, Any] | None = None) -> Project:
    step: dict[str, Any] = {"uses": "argocd-wait", "as": "wait", "config": config}
    if retry:
        step["retry"] = retry
    return write_project(tmp_path / "repo", [step])


def _promote(
    project: Project, work_dir: Path, options: EngineOptions, resume: PromotionResult | None = None
) -> PromotionResult:
    """One engine run; with `resume`, a new engine in an empty work dir going on where that run stopped."""
    point = None
    if resume is not None:
        assert resume.current_step is not None
        waiting = resume.steps[resume.current_step]
        assert waiting.started_at is not None
        point = ResumePoint(
            index=resume.current_step,
            runs=resume.steps,
            state=resume.outputs,
            step_started_at=waiting.started_at,
            started_at=resume.started_at,
        )
    return run_promotion(
        project,
        project.stages["dev"],
        freight(),
        work_dir=work_dir,
        name="dev.01jabcdefghjkmnpqrstvwxyz0.fffffff",
        options=options,
        resume=point,
    )


def _wait(tmp_path: Path, server: ArgoCDServer, config: dict[str, Any], timeout: str = "2s") -> StepRun:
    """The argocd-wait step as a promotion without --no-wait runs it: the engine looks until it ends."""
    result = _promote(_project(tmp_path, config), tmp_path / "work", replace(FAST, env=_env(server, timeout)))
    [step] = result.steps
    return step


def _syncing(server: ArgoCDServer, name: str, script: SyncScript, **app: Any) -> None:
    server.add(application(name, **app), script)
    server.sync(server.apps[(app.get("namespace", "argocd"), name)], {"revision": "b" * 40})


def _settle(server: ArgoCDServer, name: str, health: str, message: str = "") -> None:
    """The app's operation ends (Succeeded, Synced) and its health becomes `health`."""
    with server.lock:
        app = server.apps[("argocd", name)]
        app.script.outcome = Outcome.SUCCEED
        data = app.data
        data.pop("operation", None)
        state = data["status"].get("operationState")
        if state is not None:
            state.update(phase="Succeeded", message="successfully synced", finishedAt="2026-01-01T00:00:00Z")
        data["status"]["sync"]["status"] = "Synced"
        data["status"]["health"] = {"status": health, **({"message": message} if message else {})}


@pytest.mark.parametrize(
    ("outcome", "wait_for", "message"),
    [
        (Outcome.SUCCEED, None, "Healthy, Synced, no operation running"),
        (Outcome.OUT_OF_SYNC, ["operation"], "no operation running"),
        (Outcome.DEGRADE, ["degraded", "suspended"], "Degraded or Suspended"),
        (Outcome.PROGRESS, ["sync", "operation"], "Synced, no operation running"),
    ],
)
def test_waits_until_the_conditions_hold(
    tmp_path: Path, server: ArgoCDServer, outcome: Outcome, wait_for: list[str] | None, message: str
) -> None:
    _syncing(server, "gb", SyncScript(outcome=outcome, polls=2))
    entry: dict[str, Any] = {"name": "gb", **({"waitFor": wait_for} if wait_for else {})}
    step = _wait(tmp_path, server, {"apps": [entry]})
    assert (step.status, step.message) == (StepStatus.SUCCEEDED, f"gb: {message}")
    assert step.attempts >= 2  # one look per run: the engine ran it again while the operation ran
    assert step.attempts == len(server.calls("GET"))
    assert step.outputs["healthStatus"] == {"argocd/gb": server.app("gb")["status"]["health"]["status"]}


def test_selector_waits_for_every_match(tmp_path: Path, server: ArgoCDServer) -> None:
    _syncing(server, "gb-a", SyncScript(polls=1), namespace="team", labels={"tier": "web"})
    _syncing(server, "gb-b", SyncScript(polls=4), namespace="team", labels={"tier": "web"})
    config = {"apps": [{"selector": {"matchLabels": {"tier": "web"}}, "namespace": "team"}]}
    step = _wait(tmp_path, server, config)
    assert step.status is StepStatus.SUCCEEDED
    assert step.message.count("Healthy, Synced") == 2
    assert server.app("gb-b", "team")["status"]["health"]["status"] == "Healthy"


def test_an_app_that_turns_degraded_fails_the_step(tmp_path: Path, server: ArgoCDServer) -> None:
    _syncing(server, "gb", SyncScript(outcome=Outcome.DEGRADE, polls=2))
    step = _wait(tmp_path, server, {"apps": [{"name": "gb", "namespace": "argocd"}]})
    assert step.status is StepStatus.FAILED
    assert (
        'turned Degraded while waiting: Deployment "guestbook" exceeded its progress deadline' in step.message
    )
    assert "(it was Healthy at the previous look)" in step.message
    assert server.calls("PATCH") == []  # argocd-wait changes nothing
    assert server.calls("POST") == []


def test_the_engine_times_the_wait_out_and_said_what_argo_cd_said(
    tmp_path: Path, server: ArgoCDServer
) -> None:
    _syncing(server, "gb", SyncScript(outcome=Outcome.HANG, polls=2))
    told: list[str] = []
    options = replace(FAST, env=_env(server, "200ms"), on_wait=lambda _alias, text: told.append(text))
    project = _project(tmp_path, {"apps": [{"name": "gb", "namespace": "argocd"}]})
    [step] = _promote(project, tmp_path / "work", options).steps
    assert (step.status, step.message) == (StepStatus.ERRORED, "step 'wait' timed out after 200ms")
    assert told[-1].startswith("argocd/gb: waiting for Healthy, Synced, no operation running; Argo CD says: ")
    assert "last operation Running" in told[-1]
    # retry.timeout wins over the environment's
    project = _project(tmp_path / "b", {"apps": [{"name": "gb"}]}, retry={"timeout": "100ms"})
    [step] = _promote(project, tmp_path / "b" / "work", replace(options, env=_env(server, "1h"))).steps
    assert step.message == "step 'wait' timed out after 100ms"


def test_one_look_per_run_says_what_it_waits_for(tmp_path: Path, server: ArgoCDServer) -> None:
    _syncing(server, "gb", SyncScript(outcome=Outcome.HANG))
    _syncing(server, "db", SyncScript(outcome=Outcome.HANG))
    step = ArgoCDWait()
    config = validate_config(
        step.name, ArgoCDWaitConfig, {"apps": [{"name": "gb", "namespace": "argocd"}, {"name": "db"}]}
    )
    result = step.run(context(tmp_path / "work", env=_env(server)), config)
    assert len(server.calls("GET")) == 2  # each app read once
    assert result.status is StepStatus.RUNNING
    assert result.retry_after == pytest.approx(0.01)
    assert result.waiting is not None
    assert result.waiting.kind == "argocd"
    assert result.waiting.description == (
        "Argo CD Applications argocd/gb to be Healthy, Synced, no operation running; "
        "db to be Healthy, Synced, no operation running"
    )
    assert result.waiting.url == f"{server.url}/applications/argocd/gb"
    assert result.outputs == {"healthStatus": {"argocd/gb": "Healthy", "argocd/db": "Healthy"}}


def test_a_selector_without_namespace_finds_apps_in_every_namespace(
    tmp_path: Path, server: ArgoCDServer
) -> None:
    server.add(application("gb", namespace="argocd", labels={"tier": "web"}))
    server.add(application("gb", namespace="team", labels={"tier": "web"}))
    step = _wait(tmp_path, server, {"apps": [{"selector": {"matchLabels": {"tier": "web"}}}]})
    assert (
        step.message
        == "argocd/gb: Healthy, Synced, no operation running; team/gb: Healthy, Synced, no operation running"
    )
    assert step.attempts == 1


def test_needs_no_authorization_annotation_but_a_match(tmp_path: Path, server: ArgoCDServer) -> None:
    server.add(application("gb", labels={"tier": "web"}))
    assert (
        _wait(tmp_path / "a", server, {"apps": [{"name": "gb", "waitFor": ["health"]}]}).message
        == "gb: Healthy"
    )
    missing = _wait(tmp_path / "b", server, {"apps": [{"selector": {"matchLabels": {"tier": "db"}}}]})
    assert missing.status is StepStatus.ERRORED
    assert "no applications matching 'tier=db'" in missing.message
    bad = {"apps": [{"selector": {"matchExpressions": [{"key": "t", "operator": "In"}]}}]}
    assert "values must not be empty for In and NotIn" in _wait(tmp_path / "c", server, bad).message


def test_a_bad_timeout_in_the_environment_is_refused(tmp_path: Path, server: ArgoCDServer) -> None:
    server.add(application("gb"))
    step = _wait(tmp_path, server, {"apps": [{"name": "gb"}]}, timeout="soon")
    assert step.status is StepStatus.ERRORED
    assert "KARGO_ACTIONS_ARGOCD_TIMEOUT" in step.message
    assert "a Go duration such as 5m" in step.message


def test_no_wait_stops_at_the_step_and_a_new_engine_resumes_it(tmp_path: Path, server: ArgoCDServer) -> None:
    _syncing(server, "gb", SyncScript(outcome=Outcome.HANG))
    project = _project(tmp_path, {"apps": [{"name": "gb", "namespace": "argocd"}]})
    options = replace(FAST, env=_env(server, timeout=None), suspend=True, now=lambda: START)
    stopped = _promote(project, tmp_path / "work", options)
    assert (stopped.phase, stopped.current_step) == (PromotionPhase.RUNNING, 0)
    waiting = stopped.steps[0]
    assert waiting.waiting is not None
    assert (waiting.waiting.kind, waiting.waiting.url) == ("argocd", f"{server.url}/applications/argocd/gb")
    assert waiting.waiting.description.startswith("Argo CD Application argocd/gb to be Healthy, Synced")
    assert waiting.deadline == START + timedelta(minutes=5)  # the default timeout, recorded for reconcile
    assert waiting.next_check_at == START + timedelta(seconds=0.01)
    assert len(server.calls("GET")) == 1  # it did not wait in its process

    _settle(server, "gb", "Healthy")
    later = replace(options, now=lambda: START + timedelta(minutes=4))
    done = _promote(project, tmp_path / "other-work", later, resume=stopped)
    assert done.phase is PromotionPhase.SUCCEEDED
    assert done.steps[0].message == "argocd/gb: Healthy, Synced, no operation running"
    assert done.steps[0].started_at == START  # the step's first start is kept


@pytest.mark.parametrize(("before", "phase"), [("Healthy", "Failed"), ("Unknown", "Running")])
def test_the_degraded_rule_holds_across_a_resume(
    tmp_path: Path, server: ArgoCDServer, before: str, phase: str
) -> None:
    _syncing(server, "gb", SyncScript(outcome=Outcome.HANG))
    with server.lock:
        server.apps[("argocd", "gb")].data["status"]["health"] = {"status": before}
    project = _project(tmp_path, {"apps": [{"name": "gb", "namespace": "argocd"}]})
    options = replace(FAST, env=_env(server, timeout=None), suspend=True, now=lambda: START)
    stopped = _promote(project, tmp_path / "work", options)
    assert stopped.outputs["wait"] == {"healthStatus": {"argocd/gb": before}}

    _settle(server, "gb", "Degraded", "Deployment exceeded its progress deadline")
    resumed = _promote(project, tmp_path / "other-work", options, resume=stopped)
    # from Healthy (kept in the step's outputs, read back by the new engine) Degraded fails at once; from
    # Unknown it may still recover: Kargo's rule
    assert resumed.phase.value == phase
    if phase == "Failed":
        assert "turned Degraded while waiting: Deployment exceeded its progress deadline" in resumed.message
        assert f"(it was {before} at the previous look)" in resumed.message
    else:
        assert resumed.outputs["wait"] == {"healthStatus": {"argocd/gb": "Degraded"}}


@pytest.mark.parametrize(
    ("timeout", "after", "phase"),
    [
        (None, timedelta(minutes=4, seconds=59), "Running"),
        (None, timedelta(minutes=5, seconds=1), "Errored"),
        ("1h", timedelta(minutes=30), "Running"),
        ("1h", timedelta(hours=1), "Errored"),
    ],
)
def test_the_timeout_counts_across_runs(
    tmp_path: Path, server: ArgoCDServer, timeout: str | None, after: timedelta, phase: str
) -> None:
    _syncing(server, "gb", SyncScript(outcome=Outcome.HANG))
    project = _project(tmp_path, {"apps": [{"name": "gb", "namespace": "argocd"}]})
    options = replace(FAST, env=_env(server, timeout), suspend=True, now=lambda: START)
    stopped = _promote(project, tmp_path / "work", options)
    looks = len(server.calls("GET"))
    resumed = _promote(
        project, tmp_path / "other-work", replace(options, now=lambda: START + after), resume=stopped
    )
    assert resumed.phase.value == phase
    if phase == "Errored":
        assert resumed.message == f"step 'wait' timed out after {'5m0s' if timeout is None else '1h0m0s'}"
        assert len(server.calls("GET")) == looks  # past its deadline, the step is not run again
    else:
        assert len(server.calls("GET")) == looks + 1


def _pipeline() -> list[dict[str, Any]]:
    wait = {"uses": "argocd-wait", "as": "wait", "config": {"apps": [{"name": "gb", "namespace": "argocd"}]}}
    return [
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "p"}},
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "app"},
            "spec": {"subscriptions": [{"image": {"repoURL": IMAGE}}]},
        },
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": "dev"},
            "spec": {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
                ],
                "promotionTemplate": {"spec": {"steps": [wait]}},
            },
        },
    ]


def test_the_cli_stops_and_resumes_it(tmp_path: Path, server: ArgoCDServer) -> None:
    import json

    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    write(repo, _pipeline())
    record(repo, 1, 1)
    _syncing(server, "gb", SyncScript(outcome=Outcome.HANG))
    env = _env(server, timeout=None)
    code, out, err = run(repo, "-o", "json", "promote", "-s", "dev", "-f", "f-1", "--no-wait", env=env)
    assert code == 0, err
    [result] = json.loads(out)
    assert (result["phase"], result["wait"]["kind"]) == ("Running", "argocd")
    name = result["name"]

    # reconcile looks (argocd-wait only reads) and leaves it waiting
    code, out, err = run(repo, "-o", "json", "reconcile", env=env)
    assert code == 0, err
    assert [a["action"] for a in json.loads(out)] == ["waiting"]

    _settle(server, "gb", "Healthy")
    code, out, err = run(repo, "-o", "json", "promote", "--resume", name, env=env)
    assert code == 0, err
    assert json.loads(out)[0]["phase"] == "Succeeded"
    with Ledger(repo, LedgerConfig()) as ledger:
        ledger.sync()
        done = ledger.snapshot().load(PromotionRecord, f"promotions/dev/{name}.json")
    assert done is not None
    assert done.phase == "Succeeded"
    assert done.outputs == {"wait": {"healthStatus": {"argocd/gb": "Healthy"}}}
