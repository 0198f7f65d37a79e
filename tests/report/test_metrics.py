"""`kargo-actions metrics` on a ledger built by real promotions: verifications that pass and fail against a
web endpoint on 127.0.0.1, rollbacks, a promotion that fails; every figure checked against the definitions
of docs/metrics.md computed independently here from the records (read through the models)."""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.ledger import Ledger
from kargo_actions.ledger.records import (
    DiscoveredArtifactsRecord,
    DiscoveryResult,
    PromotionRecord,
    VerificationRecord,
)
from tests.ledger.helpers import make_repo
from tests.report.test_dashboard import IMAGE, run, shop_freight
from tests.verification.servers import serve_handler

ARTIFACT_BUILT = "2026-01-01T08:00:00Z"  # shop-1's image, as discovery recorded it


def _stage(name: str, sources: dict[str, Any], steps: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "shop"}, "sources": sources}],
            "promotionTemplate": {"spec": {"steps": steps}},
            **spec,
        },
    }


def manifests(url: str) -> list[dict[str, Any]]:
    out = [{"uses": "compose-output", "as": "out", "config": {"x": "1"}}]
    return [
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "shop"}},
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "shop"},
            "spec": {"subscriptions": [{"image": {"repoURL": IMAGE}}]},
        },
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
        _stage("dev", {"direct": True}, out, verification={"analysisTemplates": [{"name": "health"}]}),
        _stage("prod", {"stages": ["dev"]}, out),
        _stage("canary", {"direct": True}, [{"uses": "fail", "config": {"message": "canary is broken"}}]),
    ]


@dataclass
class Built:
    repo: Path
    ids: dict[str, str]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """dev: shop-1 verified, shop-2 failed verification, rolled back (verified again), shop-3 verified and
    rolled back; prod: shop-1 and shop-3; canary: one failed promotion. A second between steps, since
    records carry whole seconds."""
    tmp = tmp_path_factory.mktemp("metrics")
    repo = make_repo(tmp / "repo", tmp / "remote.git")
    healthy = {"ok": True}

    def handle(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        return 200, "application/json", json.dumps({"ok": healthy["ok"]}).encode()

    with serve_handler(handle) as url:
        config = repo / ".kargo"
        config.mkdir()
        for i, doc in enumerate(manifests(url)):
            (config / f"{i:02d}.yaml").write_text(json.dumps(doc))
        ids: dict[str, str] = {}
        with Ledger(repo) as ledger:
            for n in (1, 2, 3):
                item = shop_freight(n)
                assert item.alias is not None
                ids[item.alias] = ledger.record_freight(item).freight.name
            one = shop_freight(1).images[0]
            ledger.record_discovery(
                DiscoveredArtifactsRecord(
                    warehouse="shop",
                    discovered_at="2026-01-01T09:00:00Z",
                    results=[
                        DiscoveryResult(
                            kind="image",
                            repo_url=IMAGE,
                            images=[one],
                            created_at={one.digest: ARTIFACT_BUILT},
                        )
                    ],
                )
            )
        steps: list[tuple[bool, tuple[str, ...], int]] = [
            (True, ("promote", "--stage", "dev", "--freight", "shop-1"), 0),
            (True, ("promote", "--stage", "prod", "--freight", "shop-1"), 0),
            (False, ("promote", "--stage", "dev", "--freight", "shop-2"), 1),
            (True, ("rollback", "--stage", "dev"), 0),
            (True, ("promote", "--stage", "dev", "--freight", "shop-3"), 0),
            (True, ("rollback", "--stage", "dev"), 0),
            (True, ("promote", "--stage", "prod", "--freight", "shop-3"), 0),
            (True, ("promote", "--stage", "canary", "--freight", "shop-1"), 1),
        ]
        for ok, args, expected in steps:
            healthy["ok"] = ok
            code, out, err = run(repo, *args, "-q")
            assert code == expected, (args, out, err)
            time.sleep(1.05)
        yield Built(repo, ids)


def metrics_json(repo: Path, *args: str) -> dict[str, Any]:
    code, out, err = run(repo, "--output", "json", "metrics", *args)
    assert code == 0, err
    return json.loads(out)


def _t(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def expected_figures(repo: Path, stage: str, since: datetime, until: datetime) -> dict[str, Any]:
    """The definitions of docs/metrics.md, computed from the records read through the models."""
    with Ledger(repo) as ledger:
        snap = ledger.snapshot()
        promotions = sorted(
            (p for p in snap.load_dir(PromotionRecord, f"promotions/{stage}").records if p.finished_at),
            key=lambda p: (p.finished_at, p.name),
        )
        runs = snap.load_dir(VerificationRecord, f"verifications/{stage}").records
        freight = {f.name: f for f in ledger.list_freight().records}
        discovered = snap.load(DiscoveredArtifactsRecord, "discovered/shop.json")
    built = {
        k: _t(v) for r in (discovered.results if discovered else []) for k, v in (r.created_at or {}).items()
    }
    inside = [p for p in promotions if since <= _t(p.finished_at) < until]
    succeeded = [p for p in inside if p.phase == "Succeeded"]
    days = (until - since).total_seconds() / 86400
    leads: list[float] = []
    first: set[str] = set()
    for p in promotions:
        if p.phase != "Succeeded" or p.freight.name in first:
            continue
        first.add(p.freight.name)
        if p in inside:
            f = freight[p.freight.name]
            made = [built[i.digest] for i in f.images if i.digest in built]
            origin = max(made) if made else _t(f.discovered_at or f.metadata.creation_timestamp)
            leads.append((_t(p.finished_at) - origin).total_seconds())
    failed = 0
    for i, p in enumerate(promotions):
        if p not in inside or p.phase == "Aborted":
            continue
        later = promotions[i + 1 :]
        nxt = later[0] if later else None
        replaced = next(
            (q for q in later if q.phase == "Succeeded" or (q.request and q.request.mode == "rollback")), None
        )
        bad_run = any(
            v.freight.name == p.freight.name
            and v.phase in ("Failed", "Error")
            and _t(p.started_at) <= _t(v.finished_at)
            and (nxt is None or _t(v.finished_at) <= _t(nxt.started_at))
            for v in runs
        )
        if p.phase in ("Failed", "Errored") or (
            p.phase == "Succeeded"
            and (bad_run or (replaced and replaced.request and replaced.request.mode == "rollback"))
        ):
            failed += 1
    verifies = stage == "dev"
    events = [(_t(p.finished_at), 0) for p in promotions if p.phase in ("Failed", "Errored")]
    events += [(_t(p.finished_at), 1) for p in promotions if p.phase == "Succeeded" and not verifies]
    if verifies:
        events += [
            (_t(v.finished_at), 0 if v.phase in ("Failed", "Error") else 1)
            for v in runs
            if v.phase in ("Failed", "Error", "Successful")
        ]
    restores: list[float] = []
    down: datetime | None = None
    open_ = 0
    for moment, kind in sorted(events):
        if kind == 0 and down is None:
            down = moment
        elif kind == 1 and down is not None:
            restores.append((moment - down).total_seconds())
            down = None
    if down is not None:
        open_ = 1
    leads.sort()
    considered = [p for p in inside if p.phase != "Aborted"]
    return {
        "deployments": len(succeeded),
        "frequency": len(succeeded) / days,
        "leads": leads,
        "lead_median": statistics.median(leads) if leads else None,
        "lead_p90": leads[math.ceil(0.9 * len(leads)) - 1] if leads else None,
        "promotions": len(considered),
        "failed": failed,
        "restores": restores,
        "open": open_,
    }


def check(figures: dict[str, Any], want: dict[str, Any]) -> None:
    assert figures["deploymentFrequency"]["count"] == want["deployments"]
    assert figures["deploymentFrequency"]["unit"] == "promotions/day"
    assert figures["deploymentFrequency"]["value"] == pytest.approx(want["frequency"], rel=1e-3)
    assert figures["leadTime"]["unit"] == "seconds"
    assert figures["leadTime"]["count"] == len(want["leads"])
    if want["leads"]:
        assert figures["leadTime"]["median"] == pytest.approx(want["lead_median"])
        assert figures["leadTime"]["p90"] == pytest.approx(want["lead_p90"])
    assert figures["changeFailureRate"]["unit"] == "ratio"
    assert figures["changeFailureRate"]["count"] == want["promotions"]
    assert figures["changeFailureRate"]["failed"] == want["failed"]
    assert figures["timeToRestore"]["unit"] == "seconds"
    assert figures["timeToRestore"]["count"] == len(want["restores"])
    assert figures["timeToRestore"]["open"] == want["open"]
    if want["restores"]:
        assert figures["timeToRestore"]["median"] == pytest.approx(statistics.median(want["restores"]))


def test_every_stage_matches_the_definitions(built: Built) -> None:
    data = metrics_json(built.repo, "--since", "1h")
    since, until = _t(data["window"]["since"]), _t(data["window"]["until"])
    assert until - since == timedelta(hours=1)
    by_stage = {s["stage"]: s for s in data["stages"]}
    assert list(by_stage) == ["canary", "dev", "prod"]
    for stage, figures in by_stage.items():
        check(figures, expected_figures(built.repo, stage, since, until))
    dev = by_stage["dev"]
    # shop-2 failed verification, shop-3 was rolled back; the two rollbacks themselves are fine.
    assert dev["changeFailureRate"]["count"] == 5
    assert dev["changeFailureRate"]["byCause"] == {"promotion": 0, "verification": 1, "rollback": 1}
    assert dev["changeFailureRate"]["value"] == pytest.approx(0.4)
    assert dev["deploymentFrequency"]["count"] == 5
    assert dev["timeToRestore"]["count"] == 1
    assert dev["timeToRestore"]["open"] == 0
    assert dev["leadTime"]["count"] == 3
    assert (dev["leadTime"]["fromArtifactTime"], dev["leadTime"]["fromDiscoveryTime"]) == (1, 2)
    canary = by_stage["canary"]
    assert canary["changeFailureRate"]["byCause"]["promotion"] == 1
    assert canary["timeToRestore"] == {"median": None, "unit": "seconds", "count": 0, "open": 1}
    assert by_stage["prod"]["changeFailureRate"]["failed"] == 0


def test_the_pipeline_is_its_last_stages(built: Built) -> None:
    data = metrics_json(built.repo, "--since", "1h")
    pipeline = data["pipeline"]
    assert pipeline["stages"] == ["canary", "prod"]
    since, until = _t(data["window"]["since"]), _t(data["window"]["until"])
    prod = expected_figures(built.repo, "prod", since, until)
    canary = expected_figures(built.repo, "canary", since, until)
    assert pipeline["deploymentFrequency"]["count"] == prod["deployments"] + canary["deployments"] == 2
    assert pipeline["changeFailureRate"]["count"] == 3
    assert pipeline["changeFailureRate"]["failed"] == 1
    leads = sorted(prod["leads"] + canary["leads"])
    assert pipeline["leadTime"]["count"] == len(leads) == 2
    assert pipeline["leadTime"]["median"] == pytest.approx(statistics.median(leads))


def test_filters_and_window(built: Built) -> None:
    only = metrics_json(built.repo, "--since", "1h", "--stage", "dev")
    assert [s["stage"] for s in only["stages"]] == ["dev"]
    assert only["pipeline"]["stages"] == ["dev"]
    before = metrics_json(built.repo, "--since", "2020-01-01T00:00:00Z", "--until", "2020-02-01T00:00:00Z")
    assert before["window"]["days"] == 31
    assert all(s["deploymentFrequency"]["count"] == 0 for s in before["stages"])
    assert all(s["changeFailureRate"]["value"] is None for s in before["stages"])
    other = metrics_json(built.repo, "--since", "1h", "--warehouse", "shop", "--stage", "prod")
    assert other["stages"][0]["deploymentFrequency"]["count"] == 2


def test_text_output_names_each_figure(built: Built) -> None:
    code, out, err = run(built.repo, "metrics", "--since", "1h", "--no-fetch")
    assert code == 0, err
    assert "DEPLOYMENT FREQUENCY" in out
    assert "TIME TO RESTORE" in out
    assert "40% (2/5)" in out  # dev's change failure rate
    assert "pipeline (canary, prod)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "last tuesday"), "--since: 'last tuesday' is neither an RFC 3339 time nor a duration"),
        (("--until", "2026-01-01"), "--until: '2026-01-01' is neither"),
        (("--since", "2026-01-02T00:00:00Z", "--until", "2026-01-01T00:00:00Z"), "the window is empty"),
        (("--stage", "nope"), "--stage: no Stage named 'nope'"),
        (("--warehouse", "nope"), "--warehouse: no Warehouse named 'nope'"),
    ],
)
def test_bad_input_is_exit_2(built: Built, args: tuple[str, ...], message: str) -> None:
    code, _out, err = run(built.repo, "metrics", *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_an_unreadable_record_is_left_out_and_counted(tmp_path: Path) -> None:
    """A record that is not JSON (a hand-edited ledger) does not stop the figures: it is counted and skipped."""
    import subprocess

    from kargo_actions.ledger.reader import LedgerRepo
    from kargo_actions.ledger.records import LedgerMarker, dump_record
    from kargo_actions.report.metrics_facts import read_facts

    repo = make_repo(tmp_path / "repo")
    good = {
        "schemaVersion": 2,
        "name": "dev.01j.aaaaaaa",
        "stage": "dev",
        "phase": "Succeeded",
        "freight": {"name": "a" * 40, "origin": {"kind": "Warehouse", "name": "shop"}},
        "createdAt": "2026-01-01T00:00:00Z",
        "startedAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T00:01:00Z",
        "request": {"mode": "rollback"},
    }
    files = {
        ".kargo-ledger.json": dump_record(LedgerMarker()),
        "promotions/dev/a.json": json.dumps(good).encode(),
        "promotions/dev/b.json": b"{not json",
    }
    env = {"GIT_INDEX_FILE": str(tmp_path / "index")}

    def git(*args: str, data: bytes | None = None) -> str:
        done = subprocess.run(
            ["git", *args], cwd=repo, input=data, capture_output=True, check=True, env={**os.environ, **env}
        )
        return done.stdout.decode().strip()

    for path, data in files.items():
        oid = git("hash-object", "-w", "--stdin", data=data)
        git("update-index", "--add", "--cacheinfo", f"100644,{oid},{path}")
    commit = git("commit-tree", git("write-tree"), "-m", "ledger")
    git("update-ref", "refs/heads/kargo/ledger", commit)
    with LedgerRepo(repo) as ledger:
        facts = read_facts(ledger.tree(), ["dev"])
    (fact,) = facts.promotions["dev"]
    assert (fact.name, fact.phase, fact.rollback) == ("dev.01j.aaaaaaa", "Succeeded", True)
    assert facts.skipped == 1


def test_a_failed_fetch_warns_and_uses_the_local_ledger(built: Built, tmp_path: Path) -> None:
    import subprocess

    url = subprocess.run(
        ["git", "remote", "get-url", "origin"], cwd=built.repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(
        ["git", "remote", "set-url", "origin", str(tmp_path / "gone.git")], cwd=built.repo, check=True
    )
    try:
        code, out, err = run(built.repo, "--output", "json", "metrics", "--since", "1h", "--stage", "dev")
    finally:
        subprocess.run(["git", "remote", "set-url", "origin", url], cwd=built.repo, check=True)
    assert code == 0, err
    assert "warning: could not fetch the ledger" in err
    assert json.loads(out)["stages"][0]["deploymentFrequency"]["count"] == 5
