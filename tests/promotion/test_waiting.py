"""Promotions that wait without a runner: `promote --no-wait` stops at a waiting step, `reconcile` and
`promote --resume` go on with it, one promotion per Stage (refused, or queued with --queue), deadlines,
`--abort`, and promotions whose process was killed. A real pipeline repository with a bare remote and a real
HTTP server on 127.0.0.1 whose answer the test flips."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.demo import serve_loopback
from kargo_actions.ledger import Ledger, LedgerConfig
from kargo_actions.ledger.records import PromotionRecord, StageStateRecord
from kargo_actions.manifests import load_project
from kargo_actions.promotion.reconcile import ReconcileOptions, reconcile
from kargo_actions.promotion.service import PromoteOptions, promote
from tests.ledger.helpers import git, make_repo
from tests.promotion.test_service import IMAGE, record, remote_log, run, write


class Gate:
    """What the test server answers: /gate -> {"state": state}; /slow sleeps `slow` seconds first."""

    def __init__(self) -> None:
        self.state = "pending"
        self.slow = 0.0
        self.hits = 0


@pytest.fixture
def gate() -> Iterator[tuple[Gate, str]]:
    shared = Gate()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            shared.hits += 1
            if self.path.startswith("/slow"):
                time.sleep(shared.slow)
            body = json.dumps({"state": shared.state}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serve_loopback(Handler) as url:
        yield shared, url


def pipeline(url: str, *, timeout: str = "", path: str = "/gate") -> list[dict[str, Any]]:
    """Stage dev: an output before the wait, an http step that waits for state done, a step after it that
    uses the first step's output (kept across the stop) and the http step's."""
    wait: dict[str, Any] = {
        "uses": "http",
        "as": "wait",
        "config": {
            "url": url + path,
            "successExpression": "response.body.state == 'done'",
            "failureExpression": "response.body.state == 'failed'",
            "pollInterval": "1s",
            "outputs": [{"name": "state", "fromExpression": "response.body.state"}],
        },
    }
    if timeout:
        wait["retry"] = {"timeout": timeout}
    steps = [
        {
            "uses": "compose-output",
            "as": "before",
            "config": {"tag": "${{ imageFrom('" + IMAGE + "').Tag }}"},
        },
        wait,
        {
            "uses": "compose-output",
            "as": "after",
            "config": {"seen": "${{ outputs.before.tag }}-${{ outputs.wait.state }}"},
        },
    ]
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
                "promotionTemplate": {"spec": {"steps": steps}},
            },
        },
    ]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", tmp_path / "remote.git")


def state(repo: Path, stage: str = "dev") -> StageStateRecord:
    with Ledger(repo, LedgerConfig()) as ledger:
        ledger.sync()
        return ledger.stage_state(stage)


def promotion(repo: Path, name: str) -> PromotionRecord:
    with Ledger(repo, LedgerConfig()) as ledger:
        ledger.sync()
        found = ledger.snapshot().load(PromotionRecord, f"promotions/{name.split('.')[0]}/{name}.json")
    assert found is not None
    return found


def json_of(out: str) -> Any:
    return json.loads(out)


def test_no_wait_stops_at_the_waiting_step_and_reconcile_resumes_it(
    repo: Path, tmp_path: Path, gate: tuple[Gate, str]
) -> None:
    server, url = gate
    write(repo, pipeline(url))
    f1 = record(repo, 1, 1)
    code, out, err = run(
        repo, "--output", "json", "promote", "--stage", "dev", "--freight", "f-1", "--no-wait"
    )
    assert code == 0, err
    [result] = json_of(out)
    assert result["phase"] == "Running"
    assert result["currentStep"] == 1
    assert result["wait"]["kind"] == "http"
    assert result["wait"]["step"] == "wait"
    assert result["wait"]["url"] == url + "/gate"
    name = result["name"]
    recorded = promotion(repo, name)
    assert (recorded.phase, recorded.current_step, recorded.runner) == ("Running", 1, None)
    assert recorded.wait is not None
    assert recorded.wait.kind == "http"
    assert [s.status for s in recorded.steps] == ["Succeeded", "Running"]
    assert recorded.outputs == {"before": {"tag": "1.0.1"}, "wait": {}}
    assert state(repo).active_promotion == name
    assert state(repo).current_freight == []

    # nothing can move: reconcile looks once, writes nothing, exit 0
    commits = len(remote_log(tmp_path))
    hits = server.hits
    code, out, err = run(repo, "--output", "json", "reconcile")
    assert code == 0, err
    assert [a["action"] for a in json_of(out)] == ["waiting"]
    assert server.hits == hits + 1
    assert len(remote_log(tmp_path)) == commits

    server.state = "done"
    code, out, err = run(repo, "--output", "json", "reconcile")
    assert code == 0, err
    [action] = json_of(out)
    assert (action["promotion"], action["action"], action["phase"]) == (name, "resumed", "Succeeded")
    done = promotion(repo, name)
    assert done.phase == "Succeeded"
    assert done.wait is None
    assert [s.status for s in done.steps] == ["Succeeded", "Succeeded", "Succeeded"]
    assert done.steps[1].started_at == recorded.steps[1].started_at  # the waiting step's start is kept
    assert done.outputs is not None
    assert done.outputs["after"] == {"seen": "1.0.1-done"}
    final = state(repo)
    assert [c.name for c in final.current_freight] == [f1]
    assert final.active_promotion is None
    assert remote_log(tmp_path)[0].startswith(f"promotion: {name} Succeeded")

    # a finished promotion cannot be resumed or aborted: exit 2 naming its phase
    code, _out, err = run(repo, "promote", "--resume", name)
    assert code == 2
    assert "Succeeded" in err
    code, _out, err = run(repo, "promote", "--abort", name)
    assert code == 2
    assert "Succeeded" in err


def test_a_busy_stage_refuses_or_queues_and_the_queue_runs_in_order(
    repo: Path, tmp_path: Path, gate: tuple[Gate, str]
) -> None:
    server, url = gate
    write(repo, pipeline(url))
    record(repo, 1, 1)
    f2 = record(repo, 2, 2)
    f3 = record(repo, 3, 3)
    code, out, err = run(repo, "--output", "json", "promote", "-s", "dev", "-f", "f-1", "--no-wait")
    assert code == 0, err
    first = json_of(out)[0]["name"]

    commits = len(remote_log(tmp_path))
    code, _out, err = run(repo, "promote", "-s", "dev", "-f", "f-2", "--no-wait")
    assert code == 3
    assert first in err
    assert "--queue" in err
    assert f"promote --abort {first}" in err
    assert len(remote_log(tmp_path)) == commits  # refused: nothing recorded

    code, out, err = run(
        repo, "--output", "json", "promote", "-s", "dev", "-f", "f-2", "--no-wait", "--queue"
    )
    assert code == 0, err
    second = json_of(out)[0]
    assert second["phase"] == "Pending"
    assert second["queued"] is True
    code, out, err = run(
        repo, "--output", "json", "promote", "-s", "dev", "-f", "f-3", "--no-wait", "--queue"
    )
    assert code == 0, err
    third = json_of(out)[0]["name"]
    assert state(repo).pending_promotions == [second["name"], third]

    server.state = "done"
    code, out, err = run(repo, "--output", "json", "reconcile")
    assert code == 0, err
    actions = json_of(out)
    assert [(a["promotion"], a["action"]) for a in actions] == [
        (first, "resumed"),
        (second["name"], "started"),
        (third, "started"),
    ]
    assert all(a["phase"] == "Succeeded" for a in actions)
    final = state(repo)
    assert [c.name for c in final.current_freight] == [f3]  # the last succeeded promotion's Freight
    assert final.pending_promotions == []
    assert final.active_promotion is None
    assert [h.promotion for h in final.freight_history][:3] == [third, second["name"], first]
    assert f2 in {h.freight[0].name for h in final.freight_history}


def test_abort_ends_a_waiting_promotion_and_frees_the_stage(repo: Path, gate: tuple[Gate, str]) -> None:
    _server, url = gate
    write(repo, pipeline(url))
    record(repo, 1, 1)
    code, out, err = run(repo, "--output", "json", "promote", "-s", "dev", "-f", "f-1", "--no-wait")
    assert code == 0, err
    name = json_of(out)[0]["name"]
    code, _out, err = run(repo, "promote", "--abort", name[:-2])
    assert code == 2
    assert "did you mean" in err.lower()
    assert name in err
    code, out, err = run(repo, "promote", "--abort", name)
    assert code == 0, err
    assert "Aborted" in out
    ended = promotion(repo, name)
    assert ended.phase == "Aborted"
    assert ended.finished_at is not None
    assert ended.steps[1].status == "Aborted"
    assert state(repo).active_promotion is None
    code, _out, err = run(repo, "promote", "--resume", name)
    assert code == 2
    assert "Aborted" in err
    code, _out, err = run(repo, "promote", "-s", "dev", "-f", "f-1", "--no-wait")
    assert code == 0, err  # the Stage is free again


def test_the_deadline_counts_from_the_steps_first_start_across_runs(
    repo: Path, gate: tuple[Gate, str]
) -> None:
    _server, url = gate
    write(repo, pipeline(url, timeout="1h"))
    record(repo, 1, 1)
    project = load_project(repo / ".kargo")
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    with Ledger(repo, LedgerConfig()) as ledger:
        outcome = promote(
            project, ledger, "dev", "f-1", options=PromoteOptions(no_wait=True, now=lambda: start)
        )
        assert outcome.waiting
        waiting = promotion(repo, outcome.result.name).wait
        assert waiting is not None
        assert waiting.deadline == "2026-01-01T13:00:00Z"
        # 30 minutes later it still waits; an hour later it has timed out, without a look at the server
        later = PromoteOptions(no_wait=True, now=lambda: start + timedelta(minutes=30))
        [action] = reconcile(ledger, lambda: project, ReconcileOptions(promote=later))
        assert action.action == "waiting"
        late = PromoteOptions(no_wait=True, now=lambda: start + timedelta(hours=1, seconds=1))
        [action] = reconcile(ledger, lambda: project, ReconcileOptions(promote=late))
        assert action.action == "timed-out"
        assert action.failed
    ended = promotion(repo, outcome.result.name)
    assert ended.phase == "Errored"
    assert "timed out" in (ended.message or "")
    assert state(repo).active_promotion is None


def test_the_failure_expression_fails_a_resumed_promotion(repo: Path, gate: tuple[Gate, str]) -> None:
    server, url = gate
    write(repo, pipeline(url))
    record(repo, 1, 1)
    code, out, err = run(repo, "--output", "json", "promote", "-s", "dev", "-f", "f-1", "--no-wait")
    assert code == 0, err
    name = json_of(out)[0]["name"]
    server.state = "failed"
    code, out, err = run(repo, "--output", "json", "promote", "--resume", name)
    assert code == 1
    assert json_of(out)[0]["phase"] == "Failed"
    assert promotion(repo, name).phase == "Failed"
    assert state(repo).current_freight == []
    assert state(repo).active_promotion is None


def test_without_no_wait_the_command_waits_and_says_for_what(repo: Path, gate: tuple[Gate, str]) -> None:
    server, url = gate
    write(repo, pipeline(url))
    record(repo, 1, 1)
    threading.Timer(1.5, lambda: setattr(server, "state", "done")).start()
    code, out, err = run(repo, "promote", "-s", "dev", "-f", "f-1")
    assert code == 0, err
    assert "wait: HTTP (200): neither success nor failure criteria met yet" in err
    assert "(waiting " in err
    assert "Succeeded" in out


def _cli(repo: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kargo_actions", "--repo", str(repo), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "GITHUB_ACTIONS": ""},
    )


def _wait_for(predicate: Any, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


@pytest.mark.parametrize("closer", ["reconcile", "status", "promote"])
def test_a_promotion_killed_mid_step_is_closed_by_the_next_command(
    repo: Path, gate: tuple[Gate, str], closer: str
) -> None:
    server, url = gate
    server.state, server.slow = "done", 60.0
    write(repo, pipeline(url, path="/slow"))
    record(repo, 1, 1)
    proc = _cli(repo, "promote", "-s", "dev", "-f", "f-1", "--no-wait", "-q")
    _wait_for(lambda: server.hits >= 1)  # inside the http step
    running = state(repo).active_promotion
    assert running is not None
    held = promotion(repo, running)
    assert held.runner is not None
    assert held.runner.pid == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    server.slow = 0.0
    if closer == "reconcile":
        code, out, err = run(repo, "--output", "json", "reconcile")
        assert code == 0, err
        [action] = json_of(out)
        assert action["action"] == "closed"
        assert f"PID {proc.pid}" in action["reason"]
    elif closer == "status":
        code, out, err = run(repo, "status")
        assert code == 0, err
        flat = " ".join(out.split())  # status wraps its detail lines to the terminal's width
        assert f"in progress closed {running}: the process running it stopped (PID {proc.pid}" in flat
    else:
        code, out, err = run(repo, "--output", "json", "promote", "-s", "dev", "-f", "f-1", "-q")
        assert code == 0, err
        assert json_of(out)[0]["closed"] == [f"{running}: {promotion(repo, running).message}"]
    ended = promotion(repo, running)
    assert ended.phase == "Errored"
    assert f"the process running it stopped (PID {proc.pid}" in (ended.message or "")
    if closer != "promote":
        assert state(repo).active_promotion is None
        code, _out, err = run(repo, "promote", "-s", "dev", "-f", "f-1", "-q")
        assert code == 0, err


def test_status_and_history_show_waiting_and_queued_promotions(repo: Path, gate: tuple[Gate, str]) -> None:
    _server, url = gate
    write(repo, pipeline(url, timeout="48h"))
    record(repo, 1, 1)
    record(repo, 2, 2)
    code, out, err = run(repo, "--output", "json", "promote", "-s", "dev", "-f", "f-1", "--no-wait")
    assert code == 0, err
    first = json_of(out)[0]["name"]
    code, out, err = run(
        repo, "--output", "json", "promote", "-s", "dev", "-f", "f-2", "--no-wait", "--queue"
    )
    assert code == 0, err
    second = json_of(out)[0]["name"]
    code, out, err = run(repo, "status")
    assert code == 0, err
    flat = " ".join(out.split())  # status wraps its detail lines to the terminal's width
    assert f"in progress {first}: waiting for GET {url}/gate to meet its success criteria, since " in flat
    assert "deadline in 47h" in flat
    assert f"`kargo-actions promote --abort {first}` ends it" in flat
    assert f"{second}: queued since " in flat
    code, out, err = run(repo, "--output", "json", "status")
    [dev] = json_of(out)
    assert dev["activePromotion"]["name"] == first
    assert dev["activePromotion"]["wait"]["kind"] == "http"
    assert [p["name"] for p in dev["pendingPromotions"]] == [second]
    code, out, err = run(repo, "history", "-s", "dev")
    assert code == 0, err
    assert f"{first}: waiting for GET {url}/gate" in out
    assert f"{second}: queued since" in out
    code, out, err = run(repo, "freight", "show", "f-1")
    assert code == 0, err
    assert f"Promoting  dev: {first}: waiting for GET {url}/gate" in out
    code, out, err = run(repo, "freight", "show", "f-2")
    assert f"Promoting  dev: {second}: queued since" in out
    site = repo.parent / "site"
    code, _out, err = run(repo, "dashboard", "--out", str(site))
    assert code == 0, err
    index = (site / "index.html").read_text()
    assert ">Waiting</span>" in index
    assert "In progress" in index
    assert "waiting for GET http:/<wbr>/<wbr>127.0.0.1" in index
    assert f"{second}: queued since" in index


def test_two_clones_promote_one_stage_at_once_one_is_refused(
    repo: Path, tmp_path: Path, gate: tuple[Gate, str]
) -> None:
    server, url = gate
    server.state, server.slow = "done", 1.5
    write(repo, pipeline(url, path="/slow"))
    record(repo, 1, 1)
    record(repo, 2, 2)
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(tmp_path / "remote.git"), str(other)], check=True)
    git(other, "fetch", "-q", "origin", "kargo/ledger:kargo/ledger")
    write(other, pipeline(url, path="/slow"))
    one = _cli(repo, "--output", "json", "promote", "-s", "dev", "-f", "f-1", "-q")
    two = _cli(other, "--output", "json", "promote", "-s", "dev", "-f", "f-2", "-q")
    results = [(p.wait(timeout=60), *p.communicate()) for p in (one, two)]
    codes = sorted(code for code, _out, _err in results)
    assert codes == [0, 3], results
    winner = next(json.loads(out)[0] for code, out, _ in results if code == 0)
    loser_err = next(err for code, _out, err in results if code == 3)
    assert winner["name"] in loser_err
    final = state(repo)
    assert [c.name for c in final.current_freight] == [winner["freight"]]
    assert final.active_promotion is None


def _with_step_after_wait(url: str, step: dict[str, Any]) -> list[dict[str, Any]]:
    docs = pipeline(url)
    docs[2]["spec"]["promotionTemplate"]["spec"]["steps"].append(step)
    return docs


WRITE_AFTER = {"uses": "file-write", "as": "notes", "config": {"path": "out/notes.txt", "contents": "x"}}
CLONE = {
    "uses": "git-clone",
    "as": "clone",
    "config": {"repoURL": "https://example.invalid/x.git", "checkout": [{"branch": "main", "path": "out"}]},
}


def test_validate_warns_where_a_promotion_cannot_stop_and_resume(repo: Path, gate: tuple[Gate, str]) -> None:
    _server, url = gate
    write(repo, _with_step_after_wait(url, WRITE_AFTER))
    code, _out, err = run(repo, "validate")
    assert code == 0, err
    assert "01m" not in err
    assert "step 'wait' (http) can wait, but a promotion cannot stop there and resume later" in err
    assert "step 'notes' (file-write) after it needs files in the work dir" in err
    assert ".kargo/02.yaml:" in err  # the waiting step's place in the Stage's file
    code, _out, err = run(repo, "validate", "--strict")
    assert code == 2
    assert "cannot stop there" in err
    # a fresh checkout after the wait is fine: the steps after it work on that
    docs = _with_step_after_wait(url, CLONE)
    docs[2]["spec"]["promotionTemplate"]["spec"]["steps"].append(WRITE_AFTER)
    write(repo, docs)
    code, _out, err = run(repo, "validate", "--strict")
    assert code == 0, err


def test_no_wait_waits_in_process_where_it_cannot_stop(repo: Path, gate: tuple[Gate, str]) -> None:
    server, url = gate
    write(repo, _with_step_after_wait(url, WRITE_AFTER))
    record(repo, 1, 1)
    threading.Timer(1.5, lambda: setattr(server, "state", "done")).start()
    code, out, err = run(repo, "promote", "-s", "dev", "-f", "f-1", "--no-wait")
    assert code == 0, err
    assert "Succeeded" in out
    assert "waiting here: cannot stop, step 'notes' (file-write) after it needs files in the work dir" in err


def _imported(repo: Path, *args: str, env: dict[str, str] | None = None) -> tuple[str, set[str]]:
    cmd = [sys.executable, "-X", "importtime", "-m", "kargo_actions", "--repo", str(repo), *args]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "KARGO_ACTIONS_"))}
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**clean, **(env or {})}, check=True)
    return proc.stdout, {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}


def test_reconcile_with_nothing_to_move_loads_no_models(
    repo: Path, tmp_path: Path, gate: tuple[Gate, str]
) -> None:
    """What keeps an idle reconcile (every closed pull request of the repository, every schedule) cheap:
    neither the engine nor pydantic nor the manifests are loaded, before or around a waiting promotion."""
    _server, url = gate
    write(repo, pipeline(url))
    record(repo, 1, 1)
    out, imported = _imported(repo, "reconcile")
    assert "nothing to reconcile" in out
    assert not {m for m in imported if m.startswith(("pydantic", "kargo_actions.promotion.engine"))}
    code, _out, err = run(repo, "promote", "-s", "dev", "-f", "f-1", "--no-wait", "-q")
    assert code == 0, err
    payload = tmp_path / "event.json"
    payload.write_text(json.dumps({"pull_request": {"number": 7, "merged": True}, "repository": {}}))
    event = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(payload)}
    out, imported = _imported(repo, "--output", "json", "reconcile", env=event)
    assert json.loads(out) == []
    assert not {m for m in imported if m.startswith(("pydantic", "kargo_actions.promotion.engine"))}
    # without an event the waiting promotion is looked at: that path loads what it needs
    out, imported = _imported(repo, "--output", "json", "reconcile")
    assert [a["action"] for a in json.loads(out)] == ["waiting"]
    assert "kargo_actions.promotion.engine" in imported


def test_a_resume_whose_freight_tag_no_longer_verifies_is_refused_and_recorded(
    repo: Path, tmp_path: Path, gate: tuple[Gate, str]
) -> None:
    server, url = gate
    write(repo, pipeline(url))
    fid = record(repo, 1, 1)
    code, out, err = run(repo, "--output", "json", "promote", "-s", "dev", "-f", "f-1", "--no-wait")
    assert code == 0, err
    name = json_of(out)[0]["name"]
    tag = f"kargo/freight/app/{fid}"
    git(repo, "tag", "-d", tag)
    git(tmp_path / "remote.git", "tag", "-d", tag)
    server.state = "done"
    hits = server.hits
    code, _out, err = run(repo, "promote", "--resume", name)
    assert code == 3, err
    assert tag in err or fid[:12] in err
    assert server.hits == hits  # the step never ran again: nothing done for a Freight that does not verify
    ended = promotion(repo, name)
    assert ended.phase == "Errored"
    assert (ended.message or "").startswith("not resumed: ")
    assert state(repo).active_promotion is None
    assert state(repo).current_freight == []


def test_a_resumed_promotion_is_verified_as_a_direct_one_would_be(repo: Path, gate: tuple[Gate, str]) -> None:
    server, url = gate
    docs = pipeline(url)
    docs[2]["spec"]["verification"] = {"analysisTemplates": [{"name": "gate-done"}]}
    docs.append(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "gate-done"},
            "spec": {
                "metrics": [
                    {
                        "name": "gate",
                        "successCondition": "result == 'done'",
                        "provider": {"web": {"url": url + "/gate", "jsonPath": "{$.state}"}},
                    }
                ]
            },
        }
    )
    write(repo, docs)
    fid = record(repo, 1, 1)
    code, out, err = run(repo, "--output", "json", "promote", "-s", "dev", "-f", "f-1", "--no-wait")
    assert code == 0, err
    assert json_of(out)[0]["phase"] == "Running"
    assert json_of(out)[0]["verification"] is None  # nothing verified while it waits
    server.state = "done"
    code, out, err = run(repo, "--output", "json", "reconcile")
    assert code == 0, err
    assert json_of(out)[0]["phase"] == "Succeeded"
    final = state(repo)
    assert fid in final.verified  # the Stage's verification ran after the resumed promotion, and passed
    with Ledger(repo, LedgerConfig()) as ledger:
        ledger.sync()
        runs = ledger.snapshot().names("verifications/dev")
    assert len(runs) == 1


def test_the_runner_renews_its_lease_while_its_steps_run(
    repo: Path, tmp_path: Path, gate: tuple[Gate, str]
) -> None:
    server, url = gate
    server.state, server.slow = "done", 2.0
    write(repo, pipeline(url, path="/slow"))
    record(repo, 1, 1)
    project = load_project(repo / ".kargo")
    with Ledger(repo, LedgerConfig()) as ledger:
        outcome = promote(project, ledger, "dev", "f-1", options=PromoteOptions(lease=timedelta(seconds=0.6)))
    assert outcome.succeeded
    renewals = [line for line in remote_log(tmp_path) if line.endswith("lease renewed")]
    assert len(renewals) >= 2  # every 0.2 s while the 2 s step ran, each a ledger write of its own
