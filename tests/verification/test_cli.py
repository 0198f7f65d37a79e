"""`kargo-actions verify` and `promote`'s verification on a real local pipeline (git remote, ledger) with the
metric served by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.github.output import command_outputs
from tests.ledger.helpers import git, make_repo
from tests.promotion.test_service import manifests, record, run, write
from tests.verification.servers import Answer, Script, serve


def pipeline(url: str, metric: dict[str, Any] | None = None, auto: bool = False) -> list[dict[str, Any]]:
    """test_service's pipeline with a verification on dev: GET URL/health, result.ok must be true."""
    docs = manifests([{"stageSelector": {"name": "staging"}, "autoPromotionEnabled": True}] if auto else None)
    for doc in docs:
        if doc["kind"] == "Stage" and doc["metadata"]["name"] == "dev":
            doc["spec"]["verification"] = {
                "analysisTemplates": [{"name": "health"}],
                "args": [{"name": "path", "value": "health"}],
            }
    docs.append(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "health"},
            "spec": {
                "args": [{"name": "path"}],
                "metrics": [
                    metric
                    or {
                        "name": "health",
                        "successCondition": "result == true",
                        "provider": {"web": {"url": url + "/{{args.path}}", "jsonPath": "{$.ok}"}},
                    }
                ],
            },
        }
    )
    return docs


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", tmp_path / "remote.git")


@pytest.fixture
def health() -> Iterator[tuple[Script, str]]:
    script = Script(answers={"/health": [Answer(body={"ok": True})]})
    with serve(script) as url:
        yield script, url


def remote_records(tmp_path: Path, folder: str) -> list[dict[str, Any]]:
    remote = tmp_path / "remote.git"
    names = git(remote, "ls-tree", "--name-only", "kargo/ledger", f"{folder}/").split()
    return [json.loads(git(remote, "show", f"kargo/ledger:{name}")) for name in names]


def status(repo: Path) -> dict[str, Any]:
    return {s["stage"]: s for s in json.loads(run(repo, "-o", "json", "status")[1])}


def test_promote_verifies_and_the_next_gate_opens(
    repo: Path, tmp_path: Path, health: tuple[Script, str]
) -> None:
    script, url = health
    write(repo, pipeline(url))
    f1 = record(repo, 1, 1)
    code, out, err = run(repo, "-o", "json", "promote", "--stage", "dev", "--freight", "f-1")
    assert code == 0, err
    [result] = json.loads(out)
    assert (result["verified"], result["verification"]) == (True, "Successful")
    assert [p for _, p, _, _ in script.seen] == ["/health"]
    [verification] = remote_records(tmp_path, "verifications/dev")
    assert (verification["phase"], verification["freight"]["name"]) == ("Successful", f1)
    assert "metric health: Successful" in verification["results"][0]["message"]
    assert status(repo)["dev"]["verified"] is True
    assert run(repo, "promote", "--stage", "staging", "--freight", "f-1", "-q")[0] == 0


def test_no_verify_then_verify_and_reverify(repo: Path, tmp_path: Path, health: tuple[Script, str]) -> None:
    script, url = health
    write(repo, pipeline(url))
    f1 = record(repo, 1, 1)
    code, out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "--no-verify", "-q")
    assert code == 0, err
    assert "promoted, not yet verified" in out
    assert script.seen == []
    code, _, err = run(repo, "promote", "--stage", "staging", "--freight", "f-1", "-q")
    assert code == 3
    assert "not verified in dev" in err
    script.answers["/health"] = [Answer(body={"ok": False})]
    code, out, err = run(repo, "verify", "--stage", "dev", "-q")
    assert code == 1, err
    assert "dev: verification Failed" in out
    assert 'Metric "health" assessed Failed due to failed (1) > failureLimit (0); last value false' in out
    assert status(repo)["dev"]["verified"] is False
    script.answers["/health"] = [Answer(body={"ok": True})]
    code, out, err = run(repo, "-o", "json", "verify", "--stage", "dev", "--freight", "f-1")
    assert code == 0, err
    data = json.loads(out)
    assert data["phase"] == "Successful"
    assert command_outputs(data, code)["freight"] == f1  # what the verify action's outputs say
    assert data["metrics"][0]["measurements"][0]["value"] == "true"
    assert [r["phase"] for r in remote_records(tmp_path, "verifications/dev")] == ["Failed", "Successful"]
    first = json.loads(git(tmp_path / "remote.git", "show", "kargo/ledger:stages/dev.json"))["verified"][f1]
    assert run(repo, "verify", "--stage", "dev", "-q")[0] == 0  # reverify: the first verifiedAt stays
    again = json.loads(git(tmp_path / "remote.git", "show", "kargo/ledger:stages/dev.json"))["verified"][f1]
    assert again == first
    assert run(repo, "promote", "--stage", "staging", "--freight", "f-1", "-q")[0] == 0


def test_failed_verification_after_promote_is_exit_1(repo: Path, health: tuple[Script, str]) -> None:
    script, url = health
    script.answers["/health"] = [Answer(status=500, body={})]
    metric = {
        "name": "health",
        "consecutiveErrorLimit": 0,
        "provider": {"web": {"url": url + "/{{args.path}}"}},
    }
    write(repo, pipeline(url, metric))
    record(repo, 1, 1)
    code, out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")
    assert code == 1, err
    assert out.startswith("dev: dev.")  # the promotion line
    assert "Succeeded" in out
    assert "verification Error: not verified in dev" in out
    assert "received non 2xx response code: 500" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--stage", "staging"], 2, "Stage staging defines no verification"),
        (["--stage", "dve"], 2, "no Stage 'dve'"),
        (["--stage", "dev", "--freight", "f-2"], 3, "is not in Stage dev"),
        (["--stage", "dev", "--freight", "nope"], 2, "nope"),
    ],
)
def test_bad_input_and_refusals(
    repo: Path, health: tuple[Script, str], args: list[str], code: int, message: str
) -> None:
    _, url = health
    write(repo, pipeline(url))
    record(repo, 1, 1)
    record(repo, 2, 2)
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")[0] == 0
    got, _, err = run(repo, "verify", *args)
    assert got == code, err
    assert message in err


def test_no_freight_in_the_stage_is_refused(repo: Path, health: tuple[Script, str]) -> None:
    _, url = health
    write(repo, pipeline(url))
    record(repo, 1, 1)
    code, _, err = run(repo, "verify", "--stage", "dev")
    assert code == 2  # invalid input, not a gate's refusal
    assert "error: --stage: Stage dev holds no Freight yet (promote one first: kargo-actions promote" in err
    code, _, err = run(repo, "verify", "--stage", "dev", "--freight", "f-1")
    assert code == 2
    assert "Stage dev holds no Freight yet" in err


def test_summary_groups_and_auto_promote(repo: Path, tmp_path: Path, health: tuple[Script, str]) -> None:
    _, url = health
    write(repo, pipeline(url, auto=True))
    f1 = record(repo, 1, 1)
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-1", "--no-verify", "-q")[0] == 0
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    code, out, err = run(repo, "verify", "--stage", "dev", "--auto-promote", env=env)
    assert code == 0, err
    assert "::group::health: Successful value=true" in err
    text = summary.read_text()
    assert "### kargo-actions verification: dev" in text
    assert "| Metric | # | Phase | Value | Finished | Message |" in text
    assert "| health | 1 | Successful | true |" in text
    assert "```mermaid\nflowchart LR\n" in text  # the pipeline, the verified Stage highlighted
    assert "class st_dev promoted" in text
    assert "staging: promoted" in out
    assert status(repo)["staging"]["current"][0]["name"] == f1


def test_abort_marks_running_records_aborted(repo: Path, tmp_path: Path, health: tuple[Script, str]) -> None:
    from kargo_actions.ledger import Ledger
    from kargo_actions.ledger.records import FreightReference, VerificationRecord
    from kargo_actions.model.freight import FreightOrigin

    _, url = health
    write(repo, pipeline(url))
    f1 = record(repo, 1, 1)
    running = VerificationRecord(
        id="01jabcdefghjkmnpqrstvwxyz0",
        stage="dev",
        freight=FreightReference(name=f1, origin=FreightOrigin(kind="Warehouse", name="app")),
        phase="Running",
        started_at="2026-01-01T00:00:00Z",
    )
    with Ledger(repo) as ledger:
        ledger.record_verification(running)
    code, out, err = run(repo, "verify", "--stage", "dev", "--abort")
    assert code == 0, err
    assert "1 Running verification(s) marked Aborted" in out
    [ended] = remote_records(tmp_path, "verifications/dev")
    assert ended["phase"] == "Aborted"
    assert ended["finishedAt"]


def test_sigterm_aborts_the_run(repo: Path, tmp_path: Path, health: tuple[Script, str]) -> None:
    script, url = health
    metric = {
        "name": "health",
        "interval": "30s",
        "count": 3,
        "successCondition": "result == true",
        "provider": {"web": {"url": url + "/{{args.path}}", "jsonPath": "{$.ok}"}},
    }
    write(repo, pipeline(url, metric))
    record(repo, 1, 1)
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-1", "--no-verify", "-q")[0] == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "kargo_actions", "--repo", str(repo), "verify", "--stage", "dev"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    deadline = time.monotonic() + 20
    while not script.seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert script.seen, "the first measurement never came"
    time.sleep(0.2)  # let the measurement complete and the loop go to sleep for 30 s
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1, err
    assert "dev: verification Aborted" in out
    assert [r["phase"] for r in remote_records(tmp_path, "verifications/dev")] == ["Aborted"]
    assert len(script.seen) == 1


def test_a_bad_provider_config_is_bad_input_and_records_nothing(
    repo: Path, tmp_path: Path, health: tuple[Script, str]
) -> None:
    _, url = health
    metric = {"name": "health", "provider": {"web": {"url": url + "/{{args.path}}", "body": "x"}}}
    write(repo, pipeline(url, metric))
    record(repo, 1, 1)
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-1", "--no-verify", "-q")[0] == 0
    code, _, err = run(repo, "verify", "--stage", "dev")
    assert code == 2
    assert "body/jsonBody can only be used with POST or PUT methods" in err
    assert remote_records(tmp_path, "verifications/dev") == []


def test_promote_whose_verification_cannot_start_stands_and_says_why(
    repo: Path, health: tuple[Script, str]
) -> None:
    _, url = health
    docs = pipeline(url)
    template = docs[-1]["spec"]
    template["args"].append(
        {"name": "token", "valueFrom": {"secretKeyRef": {"name": "health-api", "key": "token"}}}
    )
    template["metrics"][0]["provider"]["web"]["headers"] = [
        {"key": "Authorization", "value": "Bearer {{args.token}}"}
    ]
    write(repo, docs)
    record(repo, 1, 1)
    code, out, err = run(repo, "-o", "json", "promote", "--stage", "dev", "--freight", "f-1")
    assert code == 1, err
    [result] = json.loads(out)
    assert (result["phase"], result["verification"], result["verified"]) == ("Succeeded", "Error", False)
    assert "KARGO_SECRET_HEALTH_API__token" in result["verificationMessage"]
    assert status(repo)["dev"]["current"][0]["name"]  # the promotion stands
    code, out, err = run(
        repo, "verify", "--stage", "dev", "-q", env={"KARGO_SECRET_HEALTH_API__token": "t0k"}
    )
    assert code == 0, err


def test_auto_promote_targets_look_through_control_flow_stages() -> None:
    from kargo_actions.manifests import load_project
    from kargo_actions.promotion.dispatch import downstream_stages
    from tests.conftest import shared_path

    project = load_project(shared_path("kargo-examples", "kargo-advanced", "kargo"))
    # ab-test-a feeds the control-flow prod, which feeds the three regional Stages
    assert sorted(downstream_stages(project, "ab-test-a")) == ["prod-central", "prod-east", "prod-west"]
    assert downstream_stages(project, "dev") == ["staging"]


def test_verify_with_an_oauth2_protected_metric(repo: Path, tmp_path: Path) -> None:
    """The token endpoint and the protected metric on 127.0.0.1; the client secret from a secretKeyRef."""
    from tests.verification.servers import AuthProxy, TokenServer, serve_handler

    tokens = TokenServer(clients={"kargo": "right-secret"})
    script = Script({"/health": [Answer(200, {"ok": True})]})
    with serve(script) as upstream, serve_handler(tokens.handle) as idp:
        proxy = AuthProxy(upstream, tokens.accepts)
        with serve_handler(proxy.handle) as url:
            metric = {
                "name": "health",
                "successCondition": "result == true",
                "consecutiveErrorLimit": 0,  # the wrong secret ends the run at once
                "provider": {
                    "web": {
                        "url": url + "/{{args.path}}",
                        "jsonPath": "{$.ok}",
                        "authentication": {
                            "oauth2": {
                                "tokenUrl": idp + "/token",
                                "clientId": "kargo",
                                "clientSecret": "{{args.secret}}",
                                "scopes": ["health"],
                            }
                        },
                    }
                },
            }
            docs = pipeline(url, metric)
            docs[-1]["spec"]["args"].append(
                {"name": "secret", "valueFrom": {"secretKeyRef": {"name": "idp", "key": "secret"}}}
            )
            write(repo, docs)
            record(repo, 1, 1)
            assert run(repo, "promote", "--stage", "dev", "--freight", "f-1", "--no-verify", "-q")[0] == 0
            code, out, err = run(
                repo,
                "-o",
                "json",
                "verify",
                "--stage",
                "dev",
                env={"KARGO_SECRET_IDP__secret": "wrong-secret"},
            )
            assert code == 1, err
            message = json.loads(out)["metrics"][0]["measurements"][0]["message"]
            assert message.startswith(f"fetching an OAuth2 token from {idp}/token: HTTP 401")
            assert "wrong-secret" not in out + err
            code, out, err = run(
                repo,
                "-o",
                "json",
                "verify",
                "--stage",
                "dev",
                env={"KARGO_SECRET_IDP__secret": "right-secret"},
            )
            assert code == 0, err
            assert json.loads(out)["phase"] == "Successful"
    assert proxy.seen == ["Bearer tok-1"]
    assert tokens.requests[-1]["scope"] == "health"
    assert [r["phase"] for r in remote_records(tmp_path, "verifications/dev")] == ["Error", "Successful"]
