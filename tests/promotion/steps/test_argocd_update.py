"""argocd-update against the Argo CD test server (every exchange checked against swagger.json)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import (
    StepAborted,
    StepConfigError,
    StepContext,
    StepError,
    StepFailed,
    TerminalStepError,
    validate_config,
)
from kargo_actions.promotion.steps.argocd_update import ArgoCDUpdate, ArgoCDUpdateConfig
from tests.promotion.steps.conftest import context, freight
from tests.support.argocd_server import (
    ArgoCDServer,
    Outcome,
    ScriptedAnswer,
    SyncScript,
    application,
    serve_argocd,
)

REPO = "https://github.com/example/repo.git"
COMMIT = "a" * 40
STAGE = "kargo-demo:dev"


@pytest.fixture
def server() -> Iterator[ArgoCDServer]:
    with serve_argocd() as s:
        yield s


def _ctx(tmp_path: Path, server: ArgoCDServer, **kwargs: Any) -> StepContext:
    env = {**server.env(), "KARGO_ACTIONS_ARGOCD_POLL_INTERVAL": "10ms", **kwargs.pop("env", {})}
    defaults: dict[str, Any] = {"project": "kargo-demo", "stage": "dev", "promotion": "dev.01abc.aaaaaaa"}
    return context(tmp_path / "work", env=env, **{**defaults, **kwargs})


def _run(ctx: StepContext, config: dict[str, Any]) -> str:
    step = ArgoCDUpdate()
    return step.run(ctx, validate_config(step.name, ArgoCDUpdateConfig, config)).message


def _app_config(**source: Any) -> dict[str, Any]:
    return {"apps": [{"name": "guestbook-dev", "sources": [{"repoURL": REPO, **source}]}]}


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"apps": []}, "config.apps: must have at least 1 item"),
        ({"apps": [{}]}, "give exactly one of name and selector"),
        (
            {"apps": [{"name": "a", "selector": {"matchLabels": {"a": "b"}}}]},
            "give exactly one of name and selector",
        ),
        ({"apps": [{"selector": {}}]}, "a selector needs matchLabels or matchExpressions"),
        (_app_config(updateTargetRevision=True), "updateTargetRevision: true requires desiredRevision"),
        (
            _app_config(kustomize={"images": [{"repoURL": "i", "tag": "1", "digest": "sha256:x"}]}),
            "tag and digest are mutually exclusive",
        ),
        ({"apps": [{"name": "a", "sources": [{"repoUrl": REPO}]}]}, "unknown field"),
    ],
)
def test_config_problems(config: dict[str, Any], problem: str) -> None:
    with pytest.raises(StepConfigError) as caught:
        validate_config("argocd-update", ArgoCDUpdateConfig, config)
    assert problem in str(caught.value)


def test_syncs_to_the_desired_revision_and_waits_until_healthy(tmp_path: Path, server: ArgoCDServer) -> None:
    server.add(application("guestbook-dev", authorized_stage=STAGE), SyncScript(polls=3, health_polls=2))
    message = _run(_ctx(tmp_path, server), _app_config(desiredRevision=COMMIT))
    assert message == f"synced and healthy: guestbook-dev at {COMMIT}"
    app = server.app("guestbook-dev")
    assert app["status"]["sync"] == {"status": "Synced", "revision": COMMIT}
    assert app["status"]["health"]["status"] == "Healthy"
    assert app["spec"]["source"]["targetRevision"] == "main"  # not asked to change it
    sync = json.loads(server.calls("POST", "/sync")[0].request_body)
    assert sync["revision"] == COMMIT
    assert {"name": "kargo-actions/promotion", "value": "dev.01abc.aaaaaaa"} in sync["infos"]
    assert server.calls("PATCH") == []  # nothing in the spec to change
    assert len(server.calls("GET")) == 1 + 3 + 2  # the read, the operation's polls, the health polls


def test_updates_target_revision_helm_and_kustomize(tmp_path: Path, server: ArgoCDServer) -> None:
    app = application("guestbook-dev", authorized_stage=STAGE)
    app["spec"]["source"]["helm"] = {
        "parameters": [{"name": "image.tag", "value": "v1"}],
        "releaseName": "gb",
    }
    app["spec"]["source"]["kustomize"] = {"images": ["ghcr.io/example/other:1", "ghcr.io/example/app:v1"]}
    server.add(app)
    ctx = _ctx(
        tmp_path,
        server,
        freight=[
            freight("f1", images=[{"repoURL": "ghcr.io/example/app", "tag": "v3", "digest": "sha256:d"}])
        ],
    )
    config = _app_config(
        desiredRevision=COMMIT,
        updateTargetRevision=True,
        helm={"images": [{"key": "image.tag", "value": "v2"}, {"key": "image.repo", "value": "ghcr.io/x"}]},
        kustomize={
            "images": [{"repoURL": "ghcr.io/example/app"}, {"repoURL": "ghcr.io/new", "digest": "sha256:e"}]
        },
    )
    _run(ctx, config)
    source = server.app("guestbook-dev")["spec"]["source"]
    assert source["targetRevision"] == COMMIT
    assert source["helm"] == {
        "parameters": [{"name": "image.tag", "value": "v2"}, {"name": "image.repo", "value": "ghcr.io/x"}],
        "releaseName": "gb",  # what the step does not type is kept
    }
    assert source["kustomize"]["images"] == [
        "ghcr.io/example/other:1",
        "ghcr.io/example/app:v3",
        "ghcr.io/new@sha256:e",
    ]
    assert source["path"] == "."


def test_multi_source_app_by_chart_and_git_url(tmp_path: Path, server: ArgoCDServer) -> None:
    sources = [
        {"repoURL": "oci://ghcr.io/example/charts", "chart": "guestbook", "targetRevision": "1.0.0"},
        {"repoURL": "https://GitHub.com/example/repo", "targetRevision": "main", "ref": "values"},
    ]
    server.add(application("guestbook-dev", sources=sources, authorized_stage=STAGE))
    config = {
        "apps": [
            {
                "name": "guestbook-dev",
                "sources": [
                    {
                        "repoURL": "oci://ghcr.io/example/charts",
                        "chart": "guestbook",
                        "desiredRevision": "2.0.0",
                        "updateTargetRevision": True,
                    },
                    {"repoURL": REPO, "desiredRevision": COMMIT},  # matches the source's URL once normalised
                ],
            }
        ]
    }
    _run(_ctx(tmp_path, server), config)
    app = server.app("guestbook-dev")
    assert [s["targetRevision"] for s in app["spec"]["sources"]] == ["2.0.0", "main"]
    assert app["status"]["sync"]["revisions"] == ["2.0.0", COMMIT]
    sync = json.loads(server.calls("POST", "/sync")[0].request_body)
    assert (sync["revisions"], sync["sourcePositions"]) == (["2.0.0", COMMIT], ["1", "2"])


def test_selector_updates_every_match_and_namespace_is_passed(tmp_path: Path, server: ArgoCDServer) -> None:
    for name in ("gb-east", "gb-west"):
        server.add(application(name, namespace="team", labels={"env": "prod"}, authorized_stage=STAGE))
    server.add(application("gb-dev", namespace="team", labels={"env": "dev"}, authorized_stage=STAGE))
    config = {
        "apps": [
            {
                "selector": {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]},
                "namespace": "team",
                "sources": [{"repoURL": REPO, "desiredRevision": COMMIT}],
            }
        ]
    }
    message = _run(_ctx(tmp_path, server), config)
    assert message == f"synced and healthy: team/gb-east at {COMMIT}, team/gb-west at {COMMIT}"
    assert server.app("gb-dev", "team")["status"]["sync"]["revision"] == "0" * 40
    assert (
        server.calls("GET", "/api/v1/applications")[0].query == "selector=env+in+%28prod%29&appNamespace=team"
    )


def test_a_source_missing_from_one_match_changes_no_app(tmp_path: Path, server: ArgoCDServer) -> None:
    server.add(application("gb-a", labels={"env": "prod"}, authorized_stage=STAGE))
    server.add(
        application(
            "gb-b", labels={"env": "prod"}, repo_url="https://github.com/other/repo", authorized_stage=STAGE
        )
    )
    config = {
        "apps": [
            {
                "selector": {"matchLabels": {"env": "prod"}},
                "sources": [{"repoURL": REPO, "desiredRevision": COMMIT}],
            }
        ]
    }
    with pytest.raises(
        TerminalStepError, match=r"application argocd/gb-b has no source https://github.com/example/repo.git"
    ):
        _run(_ctx(tmp_path, server), config)
    assert server.calls("PATCH") == []
    assert server.calls("POST") == []


@pytest.mark.parametrize(
    ("annotation", "said"), [(None, "it has none"), ("kargo-demo:prod", "it says 'kargo-demo:prod'")]
)
def test_the_app_must_authorize_the_stage(
    tmp_path: Path, server: ArgoCDServer, annotation: str | None, said: str
) -> None:
    server.add(application("guestbook-dev", authorized_stage=annotation))
    with pytest.raises(StepFailed) as caught:
        _run(_ctx(tmp_path, server), _app_config(desiredRevision=COMMIT))
    assert "kargo.akuity.io/authorized-stage: kargo-demo:dev" in str(caught.value)
    assert said in str(caught.value)
    assert server.calls("POST") == []


@pytest.mark.parametrize(
    ("outcome", "error", "expected"),
    [
        (
            Outcome.FAIL,
            StepError,
            ["ended Failed: one or more objects failed to apply", "condition SyncError"],
        ),
        (Outcome.DEGRADE, StepFailed, ["is Degraded after the sync", "exceeded its progress deadline"]),
        (
            Outcome.OUT_OF_SYNC,
            StepFailed,
            ["timed out (KARGO_ACTIONS_ARGOCD_TIMEOUT of 0.3s)", "sync OutOfSync"],
        ),
        (Outcome.PROGRESS, StepFailed, ["health Progressing (Waiting for rollout to finish)"]),
        (Outcome.HANG, StepFailed, ["last operation Running", f"waited for Synced at {COMMIT} and Healthy"]),
    ],
)
def test_an_app_that_does_not_arrive_fails_with_what_argo_cd_says(
    tmp_path: Path, server: ArgoCDServer, outcome: Outcome, error: type[Exception], expected: list[str]
) -> None:
    server.add(application("guestbook-dev", authorized_stage=STAGE), SyncScript(outcome=outcome, polls=1))
    ctx = _ctx(tmp_path, server, env={"KARGO_ACTIONS_ARGOCD_TIMEOUT": "300ms"})
    with pytest.raises(error) as caught:
        _run(ctx, _app_config(desiredRevision=COMMIT))
    assert type(caught.value) is error
    assert all(e in str(caught.value) for e in expected), str(caught.value)


def test_a_retry_does_not_sync_again(tmp_path: Path, server: ArgoCDServer) -> None:
    server.add(
        application("guestbook-dev", authorized_stage=STAGE), SyncScript(outcome=Outcome.PROGRESS, polls=1)
    )
    ctx = _ctx(tmp_path, server, env={"KARGO_ACTIONS_ARGOCD_TIMEOUT": "200ms"})
    with pytest.raises(StepFailed):
        _run(ctx, _app_config(desiredRevision=COMMIT))
    server.apps[("argocd", "guestbook-dev")].healthy_after = 1  # the rollout finishes after all
    _run(ctx, _app_config(desiredRevision=COMMIT))
    assert len(server.calls("POST", "/sync")) == 1


def test_waits_for_another_operation_before_syncing(tmp_path: Path, server: ArgoCDServer) -> None:
    server.add(application("guestbook-dev", authorized_stage=STAGE), SyncScript(polls=2))
    server.apps[("argocd", "guestbook-dev")].script = SyncScript(polls=3)
    server.sync(server.apps[("argocd", "guestbook-dev")], {})  # someone else's sync, running
    _run(_ctx(tmp_path, server), _app_config(desiredRevision=COMMIT))
    assert server.app("guestbook-dev")["status"]["sync"]["revision"] == COMMIT
    assert len(server.calls("POST", "/sync")) == 1


def test_an_automated_sync_started_by_the_patch_is_waited_out(tmp_path: Path, server: ArgoCDServer) -> None:
    # the app's automated sync policy starts a sync as soon as the patch lands; Argo CD refuses ours meanwhile
    server.add(application("guestbook-dev", authorized_stage=STAGE), SyncScript(polls=2, automated=True))
    _run(_ctx(tmp_path, server), _app_config(desiredRevision=COMMIT, updateTargetRevision=True))
    syncs = server.calls("POST", "/sync")
    assert [e.status for e in syncs] == [400, 200]
    assert b"another operation is already in progress" in syncs[0].response_body
    app = server.app("guestbook-dev")
    assert app["status"]["sync"] == {"status": "Synced", "revision": COMMIT}
    assert app["status"]["operationState"]["operation"]["info"][1]["value"] == "dev.01abc.aaaaaaa"


@pytest.mark.parametrize(
    ("setup", "error", "expected"),
    [
        ("no-env", TerminalStepError, "ARGOCD_SERVER: is not set"),
        ("token", TerminalStepError, "401 Unauthorized"),
        ("forbid-sync", TerminalStepError, "may not sync application guestbook-dev"),
        ("missing", TerminalStepError, "404 Not Found"),
        ("down", StepError, "503"),
    ],
)
def test_argo_cd_errors_as_step_errors(
    tmp_path: Path, server: ArgoCDServer, setup: str, error: type[Exception], expected: str
) -> None:
    if setup != "missing":
        server.add(application("guestbook-dev", authorized_stage=STAGE))
    env: dict[str, str] = {}
    if setup == "no-env":
        env = {"ARGOCD_SERVER": "", "ARGOCD_AUTH_TOKEN": ""}
    if setup == "token":
        env = {"ARGOCD_AUTH_TOKEN": "expired"}
    if setup == "forbid-sync":
        server.forbidden.add(("sync", "guestbook-dev"))
    if setup == "down":
        server.script(ScriptedAnswer(503, times=100))
    ctx = _ctx(tmp_path, server, env=env)
    object.__setattr__(ctx, "sleep", lambda _s: None)  # no real backoff between the client's retries
    with pytest.raises(error) as caught:
        _run(ctx, _app_config(desiredRevision=COMMIT))
    assert type(caught.value) is error
    assert expected in str(caught.value)


def test_abort_stops_the_wait(tmp_path: Path, server: ArgoCDServer) -> None:
    server.add(application("guestbook-dev", authorized_stage=STAGE), SyncScript(outcome=Outcome.HANG))
    ctx = _ctx(tmp_path, server)
    threading.Timer(0.2, ctx.abort.set).start()
    start = time.monotonic()
    with pytest.raises(StepAborted):
        _run(ctx, _app_config(desiredRevision=COMMIT))
    assert time.monotonic() - start < 2


def _engine_promote(
    tmp_path: Path,
    server: ArgoCDServer,
    step: dict[str, Any],
    outcome: Outcome,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    from tests.promotion.helpers import promote, write_project

    for key, value in {**server.env(), "KARGO_ACTIONS_ARGOCD_POLL_INTERVAL": "10ms"}.items():
        monkeypatch.setenv(key, value)
    project = write_project(tmp_path / "repo", [step])
    server.add(
        application("guestbook-dev", authorized_stage=f"{project.name}:dev"), SyncScript(outcome, polls=1)
    )
    return promote(project, tmp_path / "work")


def test_through_the_engine_retry_timeout_bounds_the_wait(
    tmp_path: Path, server: ArgoCDServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = {
        "uses": "argocd-update",
        "retry": {"timeout": "300ms"},
        "config": _app_config(desiredRevision=COMMIT),
    }
    start = time.monotonic()
    result = _engine_promote(tmp_path, server, step, Outcome.HANG, monkeypatch)
    assert time.monotonic() - start < 3
    assert result.steps[0].status.value == "Failed"
    assert "timed out (the step's retry.timeout)" in result.steps[0].message
    assert "last operation Running" in result.steps[0].message


def test_through_the_engine_a_failed_sync_is_retried_per_error_threshold(
    tmp_path: Path, server: ArgoCDServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = {
        "uses": "argocd-update",
        "retry": {"errorThreshold": 2},
        "config": _app_config(desiredRevision=COMMIT),
    }
    result = _engine_promote(tmp_path, server, step, Outcome.FAIL, monkeypatch)
    assert result.steps[0].status.value == "Errored"
    assert "met error threshold of 2" in result.steps[0].message
    assert "ended Failed: one or more objects failed to apply" in result.steps[0].message
    assert len(server.calls("POST", "/sync")) == 2  # the retry synced again
