"""Windows, freezes and automatic rollback end to end: a real pipeline repository with a bare remote, the CLI,
and a web metric served on 127.0.0.1. The clock is injected where time must move (no sleeps)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.ledger import Ledger, LedgerConfig
from kargo_actions.manifests import load_project
from kargo_actions.promotion.reconcile import ReconcileOptions, reconcile
from kargo_actions.promotion.service import PromoteOptions
from tests.ledger.helpers import git, make_repo
from tests.promotion.test_service import STEP, record, run, write
from tests.promotion.test_waiting import Gate, gate
from tests.promotion.test_waiting import pipeline as waiting_pipeline
from tests.verification.servers import Answer, Script, serve

NOW = datetime.now(UTC).replace(microsecond=0)
__all__ = ["gate"]  # the fixture, used here too


def ical(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def stage(name: str, sources: dict[str, Any], verification: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "app"}, "sources": sources}],
        "promotionTemplate": {"spec": {"steps": STEP}},
    }
    if verification:
        spec["verification"] = {"analysisTemplates": [{"name": "health"}]}
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": spec,
    }


def pipeline(
    *,
    windows: list[dict[str, Any]] = (),
    policies: list[dict[str, Any]] = (),
    url: str = "http://127.0.0.1:9",
) -> list[dict[str, Any]]:  # type: ignore[assignment]
    """uat (direct, verified by GET URL/health) -> prod; ProjectConfig with the windows and policies."""
    return [
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "p"}},
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "app"},
            "spec": {"subscriptions": [{"image": {"repoURL": "ghcr.io/example/app"}}]},
        },
        stage("uat", {"direct": True}, verification=True),
        stage("prod", {"stages": ["uat"]}),
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "health"},
            "spec": {
                "metrics": [
                    {
                        "name": "health",
                        "successCondition": "result == true",
                        "provider": {"web": {"url": url + "/health", "jsonPath": "{$.ok}"}},
                    }
                ]
            },
        },
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "ProjectConfig",
            "metadata": {"name": "p"},
            "spec": {"promotionWindows": list(windows), "promotionPolicies": list(policies)},
        },
    ]


DENY_PROD_NOW = {
    "name": "change-freeze",
    "kind": "Deny",
    "dtstart": ical(NOW - timedelta(hours=1)),
    "dtend": ical(NOW + timedelta(hours=1)),
    "stageSelector": {"name": "prod"},
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", tmp_path / "remote.git")


@pytest.fixture
def health() -> Iterator[tuple[Script, str]]:
    script = Script(answers={"/health": [Answer(body={"ok": True})]})
    with serve(script) as url:
        yield script, url


def ledger_tip(tmp_path: Path) -> str:
    return git(tmp_path / "remote.git", "rev-parse", "kargo/ledger")


def remote_json(tmp_path: Path, path: str) -> Any:
    return json.loads(git(tmp_path / "remote.git", "show", f"kargo/ledger:{path}"))


def remote_names(tmp_path: Path, folder: str) -> list[str]:
    return git(tmp_path / "remote.git", "ls-tree", "--name-only", "kargo/ledger", f"{folder}/").split()


def to_prod(repo: Path, health: tuple[Script, str], windows: list[dict[str, Any]], **kw: Any) -> None:
    """f-1 and f-2 verified in uat, f-1 in prod (before the window is written)."""
    write(repo, pipeline(url=health[1], **kw))
    record(repo, 1, 1)
    assert run(repo, "promote", "--stage", "uat", "--freight", "f-1", "-q")[0] == 0
    assert run(repo, "promote", "--stage", "prod", "--freight", "f-1", "-q")[0] == 0
    record(repo, 2, 2)
    assert run(repo, "promote", "--stage", "uat", "--freight", "f-2", "-q")[0] == 0
    write(repo, pipeline(url=health[1], windows=windows, **kw))


def test_deny_window_active_now_refuses_manual_auto_and_rollback(
    repo: Path, tmp_path: Path, health: tuple[Script, str]
) -> None:
    auto = [{"stage": "prod", "autoPromotionEnabled": True}]
    to_prod(repo, health, [DENY_PROD_NOW], policies=auto)
    tip = ledger_tip(tmp_path)
    history = remote_names(tmp_path, "promotions/prod")
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    code, _, err = run(repo, "promote", "--stage", "prod", "--freight", "f-2", "-q", env=env)
    assert code == 3
    assert "prod is closed by window 'change-freeze' until " in err
    assert ledger_tip(tmp_path) == tip  # nothing pushed
    text = summary.read_text()
    assert "### kargo-actions: prod is closed" in text
    assert "| prod | closed | " in text  # the schedule table: Stages a window concerns
    assert "| uat |" not in text
    code, _, err = run(repo, "rollback", "--stage", "prod", "--to", "f-1", "-q")
    assert code == 3
    assert "prod is closed by window 'change-freeze'" in err
    assert ledger_tip(tmp_path) == tip
    code, out, err = run(repo, "-o", "json", "promote", "--auto", "--stage", "prod")
    assert code == 0, err
    [decision] = json.loads(out)
    assert decision["action"] == "deferred"
    assert "closed by window 'change-freeze'" in decision["reason"]
    # no promotion: only the deferral is recorded, for reconcile to run when the window ends
    assert remote_names(tmp_path, "promotions/prod") == history
    deferred = remote_json(tmp_path, "deferred/prod.json")
    assert deferred["opensAt"] == (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # uat is not matched by the window
    assert run(repo, "promote", "--stage", "uat", "--freight", "f-1", "-q")[0] == 0
    status = {s["stage"]: s for s in json.loads(run(repo, "-o", "json", "status")[1])}
    assert status["prod"]["schedule"]["open"] is False
    assert status["prod"]["schedule"]["closedBy"] == ["change-freeze"]
    assert status["uat"]["schedule"]["open"] is True
    assert "prod is closed by window 'change-freeze' until " in run(repo, "status")[1]
    site = tmp_path / "site"
    assert run(repo, "dashboard", "--out", str(site))[0] == 0
    index = (site / "index.html").read_text()
    assert "prod is closed by window &#x27;change-freeze&#x27; until " in index
    assert "auto-promotion of " in (site / "stages" / "prod.html").read_text()


def test_reconcile_runs_the_deferred_auto_promotion_when_the_window_opens(
    repo: Path, tmp_path: Path, health: tuple[Script, str]
) -> None:
    to_prod(repo, health, [DENY_PROD_NOW], policies=[{"stage": "prod", "autoPromotionEnabled": True}])
    assert (
        json.loads(run(repo, "-o", "json", "promote", "--auto", "--stage", "prod")[1])[0]["action"]
        == "deferred"
    )
    project = load_project(repo / ".kargo")
    with Ledger(repo, LedgerConfig()) as ledger:
        still = reconcile(
            ledger,
            lambda: project,
            ReconcileOptions(promote=PromoteOptions(now=lambda: NOW + timedelta(minutes=30))),
        )
        assert [(a.stage, a.action) for a in still] == [("prod", "deferred")]
        later = PromoteOptions(now=lambda: NOW + timedelta(hours=2))
        actions = reconcile(ledger, lambda: project, ReconcileOptions(promote=later))
    assert [(a.stage, a.action) for a in actions] == [("prod", "auto-promoted")]
    assert remote_names(tmp_path, "deferred") == []
    state = remote_json(tmp_path, "stages/prod.json")
    assert [c["name"] for c in state["currentFreight"]] == [record_id(repo, "f-2")]


def record_id(repo: Path, alias: str) -> str:
    return json.loads(run(repo, "-o", "json", "freight", "show", alias)[1])["metadata"]["name"]


def test_allow_window_not_active_now_refuses(repo: Path, tmp_path: Path, health: tuple[Script, str]) -> None:
    office = {
        "name": "office-hours",
        "kind": "Allow",
        "dtstart": "TZID=Europe/Berlin:" + (NOW + timedelta(days=1)).strftime("%Y%m%dT090000"),
        "dtend": "TZID=Europe/Berlin:" + (NOW + timedelta(days=1)).strftime("%Y%m%dT170000"),
        "stageSelector": {"name": "glob:pro*"},
    }
    to_prod(repo, health, [office])
    tip = ledger_tip(tmp_path)
    code, _, err = run(repo, "promote", "--stage", "prod", "--freight", "f-2", "-q")
    assert code == 3
    assert "prod is closed outside Allow window 'office-hours' until " in err
    assert "09:00 Europe/Berlin" in err
    assert ledger_tip(tmp_path) == tip


def test_freeze_refuses_unfreeze_lets_through(repo: Path, tmp_path: Path, health: tuple[Script, str]) -> None:
    to_prod(repo, health, [])
    code, out, err = run(repo, "freeze", "--all", "--reason", "incident 42", env={"GITHUB_ACTOR": "ic-alice"})
    assert code == 0, err
    assert "every Stage: frozen until `kargo-actions unfreeze` (incident 42)" in out
    frozen = remote_json(tmp_path, "freezes/all.json")
    assert (frozen["actor"], frozen["reason"], frozen.get("stage")) == (
        "ic-alice",
        "incident 42",
        None,
    )
    tip = ledger_tip(tmp_path)
    code, _, err = run(repo, "promote", "--stage", "uat", "--freight", "f-1", "-q")
    assert code == 3
    assert "every Stage is frozen by ic-alice at " in err
    assert ": incident 42; lift it with `kargo-actions unfreeze --all`" in err
    assert ledger_tip(tmp_path) == tip
    code, _, err = run(repo, "unfreeze", "--stage", "uat")
    assert code == 2
    assert "uat is held by the project-wide freeze" in err
    code, out, err = run(repo, "unfreeze", "--all", env={"GITHUB_ACTOR": "ic-bob"})
    assert code == 0, err
    lifted = remote_json(tmp_path, "freezes/all.json")
    assert lifted["liftedBy"] == "ic-bob"
    assert run(repo, "promote", "--stage", "uat", "--freight", "f-1", "-q")[0] == 0


def test_stage_freeze_with_until_expires(repo: Path, tmp_path: Path, health: tuple[Script, str]) -> None:
    to_prod(repo, health, [])
    code, _, err = run(repo, "freeze", "--stage", "prod", "--reason", "audit", "--until", "1h")
    assert code == 0, err
    assert run(repo, "promote", "--stage", "uat", "--freight", "f-1", "-q")[0] == 0  # only prod is frozen
    code, _, err = run(repo, "promote", "--stage", "prod", "--freight", "f-2", "-q")
    assert code == 3
    assert "prod is frozen by " in err
    status = {s["stage"]: s for s in json.loads(run(repo, "-o", "json", "status")[1])}
    assert status["prod"]["freezes"][0]["reason"] == "audit"
    project = load_project(repo / ".kargo")
    from kargo_actions.promotion.service import promote

    with Ledger(repo, LedgerConfig()) as ledger:
        after = PromoteOptions(now=lambda: datetime.now(UTC) + timedelta(hours=2))
        outcome = promote(project, ledger, "prod", "f-2", options=after)
    assert outcome.succeeded
    code, _, err = run(repo, "freeze", "--stage", "nope", "--reason", "x")
    assert code == 2
    assert "no Stage 'nope'" in err


def rollback_pipeline(url: str, policy: dict[str, Any]) -> list[dict[str, Any]]:
    return pipeline(url=url, policies=[{"stage": "uat", "autoRollback": policy}])


def test_failing_web_metric_in_uat_rolls_uat_back(
    repo: Path, tmp_path: Path, health: tuple[Script, str]
) -> None:
    script, url = health
    write(repo, rollback_pipeline(url, {}))
    f1 = record(repo, 1, 1)
    f2 = record(repo, 2, 2)
    assert run(repo, "promote", "--stage", "uat", "--freight", "f-1", "-q")[0] == 0
    script.answers["/health"] = [Answer(body={"ok": False}), Answer(body={"ok": True})]
    summary = tmp_path / "summary.md"
    code, out, err = run(
        repo, "-o", "json", "promote", "--stage", "uat", "--freight", "f-2", "-q",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert code == 1, err
    [result] = json.loads(out)
    assert result["verification"] == "Failed"
    rollback = result["autoRollback"]
    assert (rollback["action"], rollback["freight"]) == ("rolled-back", f1)
    assert "ended Failed" in rollback["trigger"]
    state = remote_json(tmp_path, "stages/uat.json")
    assert [c["name"] for c in state["currentFreight"]] == [f1]
    assert f2 not in state["verified"]  # so prod cannot take it from uat
    hold = state["holds"]["app"]
    assert (hold["freight"], hold["actor"]) == (f1, "auto-rollback")
    assert "auto-rollback after verification" in hold["reason"]
    [newest, *_] = json.loads(run(repo, "-o", "json", "history", "--stage", "uat")[1])
    assert (newest["actor"], newest["request"]["mode"]) == ("auto-rollback", "rollback")
    assert newest["request"]["trigger"].startswith("auto-rollback after verification after promotion uat.")
    assert "auto-rollback rolled-back" in summary.read_text()
    code, _, err = run(repo, "promote", "--stage", "prod", "--freight", "f-2", "-q")
    assert code == 3  # the bad Freight is not fed downstream
    decisions = json.loads(run(repo, "-o", "json", "promote", "--auto", "--stage", "uat")[1])
    assert decisions[0]["action"] == "skipped"  # the hold (no policy enables auto here either)


def test_verify_command_rolls_back_and_says_when_it_cannot(
    repo: Path, tmp_path: Path, health: tuple[Script, str]
) -> None:
    script, url = health
    write(repo, rollback_pipeline(url, {"onVerification": ["Failed", "Error"]}))
    f1 = record(repo, 1, 1)
    record(repo, 2, 2)
    assert run(repo, "promote", "--stage", "uat", "--freight", "f-1", "--no-verify", "-q")[0] == 0
    script.answers["/health"] = [Answer(body={"ok": False})]
    summary = tmp_path / "summary.md"
    code, out, _ = run(repo, "verify", "--stage", "uat", "-q", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert code == 1
    assert "uat: auto-rollback none (no rollback: uat has no earlier Freight verified there)" in out
    assert "no earlier Freight verified there" in summary.read_text()
    script.answers["/health"] = [Answer(body={"ok": True})]
    assert run(repo, "verify", "--stage", "uat", "-q")[0] == 0
    assert run(repo, "promote", "--stage", "uat", "--freight", "f-2", "--no-verify", "-q")[0] == 0
    script.answers["/health"] = [Answer(status=500, body={})]
    code, out, _ = run(repo, "-o", "json", "verify", "--stage", "uat", "-q")
    assert code == 1
    data = json.loads(out)
    assert data["phase"] == "Error"
    assert (data["autoRollback"]["action"], data["autoRollback"]["freight"]) == ("rolled-back", f1)
    assert [c["name"] for c in remote_json(tmp_path, "stages/uat.json")["currentFreight"]] == [f1]


def test_rollback_is_refused_by_a_window_and_the_report_says_so(
    repo: Path, tmp_path: Path, health: tuple[Script, str]
) -> None:
    script, url = health
    write(repo, rollback_pipeline(url, {}))
    record(repo, 1, 1)
    record(repo, 2, 2)
    assert run(repo, "promote", "--stage", "uat", "--freight", "f-1", "-q")[0] == 0
    assert run(repo, "promote", "--stage", "uat", "--freight", "f-2", "--no-verify", "-q")[0] == 0
    docs = rollback_pipeline(url, {})
    docs[-1]["spec"]["promotionWindows"] = [{**DENY_PROD_NOW, "stageSelector": {"name": "uat"}}]
    write(repo, docs)
    script.answers["/health"] = [Answer(body={"ok": False})]
    code, out, _ = run(repo, "-o", "json", "verify", "--stage", "uat", "-q")
    assert code == 1
    rollback = json.loads(out)["autoRollback"]
    assert rollback["action"] == "refused"
    assert "uat is closed by window 'change-freeze'" in rollback["reason"]


def test_reconcile_command_waits_for_the_window(
    repo: Path, tmp_path: Path, health: tuple[Script, str]
) -> None:
    to_prod(repo, health, [DENY_PROD_NOW], policies=[{"stage": "prod", "autoPromotionEnabled": True}])
    decisions = json.loads(run(repo, "-o", "json", "promote", "--auto", "--stage", "prod")[1])
    assert decisions[0]["action"] == "deferred"
    tip = ledger_tip(tmp_path)
    code, out, err = run(repo, "reconcile")  # the deferral's opensAt is ahead: the quick look stops there
    assert (code, out.strip()) == (0, "nothing to reconcile: no promotion can move now"), err
    assert ledger_tip(tmp_path) == tip


def test_reconcile_command_runs_what_a_freeze_deferred_once_lifted(
    repo: Path, tmp_path: Path, health: tuple[Script, str]
) -> None:
    to_prod(repo, health, [], policies=[{"stage": "prod", "autoPromotionEnabled": True}])
    assert run(repo, "freeze", "--stage", "prod", "--reason", "incident 9")[0] == 0
    decisions = json.loads(run(repo, "-o", "json", "promote", "--auto", "--stage", "prod")[1])
    assert decisions[0]["action"] == "deferred"
    assert "opensAt" not in remote_json(tmp_path, "deferred/prod.json")  # a freeze without --until
    code, out, err = run(repo, "-o", "json", "reconcile", "--plan")
    assert code == 0, err
    assert [(a["stage"], a["action"]) for a in json.loads(out)] == [("prod", "deferred")]
    assert run(repo, "unfreeze", "--stage", "prod")[0] == 0
    code, out, err = run(repo, "-o", "json", "reconcile", "--plan")
    assert [(a["stage"], a["action"]) for a in json.loads(out)] == [("prod", "would-auto-promote")]
    code, out, err = run(repo, "-o", "json", "reconcile")
    assert code == 0, err
    assert [(a["stage"], a["action"]) for a in json.loads(out)] == [("prod", "auto-promoted")]
    assert remote_names(tmp_path, "deferred") == []


def test_a_queued_promotion_waits_for_the_freeze_to_end(repo: Path, gate: tuple[Gate, str]) -> None:
    server, url = gate
    write(repo, waiting_pipeline(url))
    record(repo, 1, 1)
    record(repo, 2, 2)
    code, out, err = run(repo, "-o", "json", "promote", "-s", "dev", "-f", "f-1", "--no-wait")
    assert code == 0, err
    first = json.loads(out)[0]["name"]
    code, out, err = run(repo, "-o", "json", "promote", "-s", "dev", "-f", "f-2", "--no-wait", "--queue")
    assert code == 0, err
    second = json.loads(out)[0]["name"]
    assert run(repo, "freeze", "--stage", "dev", "--reason", "hold the queue")[0] == 0
    server.state = "done"
    code, out, err = run(repo, "-o", "json", "reconcile")
    assert code == 0, err
    # a started promotion goes on; the queued one does not start while the freeze holds
    assert [(a["promotion"], a["action"]) for a in json.loads(out)] == [
        (first, "resumed"),
        (second, "deferred"),
    ]
    assert run(repo, "unfreeze", "--stage", "dev")[0] == 0
    code, out, err = run(repo, "-o", "json", "reconcile")
    assert [(a["promotion"], a["action"]) for a in json.loads(out)] == [(second, "started")]
