"""Dashboard performance (dashboard item 5): the static site of a 10,000-Freight, 5-Stage, 2,000-promotion
ledger in < 3 s, next to `freight list -o json` on the same ledger (the cheapest command reading every Freight).

The fixture is one `git fast-import` (no thousands of commits): Freight with aliases, Stage states holding
Freight, verified and approved Freight, promotions (1 in 10 failed) and verification runs.

Run: .venv/bin/python benchmarks/bench_dashboard.py [--freight N] [--promotions N] [--runs N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kargo_actions.freight.identity import freight_id  # noqa: E402
from kargo_actions.ledger.records import (  # noqa: E402
    AliasRecord,
    AnalysisResult,
    ApprovedFreight,
    CurrentFreight,
    FreightRecord,
    FreightReference,
    LedgerMarker,
    PromotionRecord,
    PromotionSummary,
    StageStateRecord,
    StepRecord,
    VerificationRecord,
    VerifiedFreight,
    dump_record,
)
from kargo_actions.model.freight import Freight, FreightMetadata, FreightOrigin, GitCommit, Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ledger import fast_import  # noqa: E402  (one git fast-import writer for the ledger fixtures)

TARGET_S = 3.0
STAGES = ("dev", "qa", "staging", "prod-eu", "prod-us")
UPSTREAM = {"dev": None, "qa": "dev", "staging": "dev", "prod-eu": "staging", "prod-us": "staging"}
IMAGE = "ghcr.io/example/app"


def manifests() -> str:
    """A Warehouse and five Stages (dev fans out to qa and staging, staging to two prod regions)."""
    docs = [
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "bench"}},
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "app"},
            "spec": {"subscriptions": [{"image": {"repoURL": IMAGE}}]},
        },
    ]
    for stage in STAGES:
        upstream = UPSTREAM[stage]
        sources: dict[str, object] = {"stages": [upstream]} if upstream else {"direct": True}
        docs.append(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Stage",
                "metadata": {"name": stage},
                "spec": {
                    "requestedFreight": [
                        {"origin": {"kind": "Warehouse", "name": "app"}, "sources": sources}
                    ],
                    "promotionTemplate": {
                        "spec": {"steps": [{"uses": "compose-output", "as": "out", "config": {"x": "1"}}]}
                    },
                },
            }
        )
    return "".join("---\n" + json.dumps(d) + "\n" for d in docs)


def stamp(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_767_225_600 + second))


def make_freight(n: int) -> Freight:
    origin = FreightOrigin(name="app")
    images = [Image(repo_url=IMAGE, tag=f"1.{n // 1000}.{n % 1000}", digest=f"sha256:{n:064x}")]
    commits = [
        GitCommit(repo_url="https://github.com/example/app.git", id=f"{n:040x}", message=f"change {n}")
    ]
    meta = FreightMetadata(
        name=freight_id(origin, commits=commits, images=images), creation_timestamp=stamp(n * 60)
    )
    return Freight(metadata=meta, origin=origin, images=images, commits=commits, alias=f"alias-{n}")


def fixture_files(count: int, promotions: int) -> Iterator[tuple[str, bytes]]:
    """Every ledger file of the fixture: Freight, aliases, promotions spread over the Stages, states."""
    items = [make_freight(n) for n in range(count)]
    yield ".kargo-ledger.json", dump_record(LedgerMarker())
    for f in items:
        assert f.alias is not None
        yield f"freight/app/{f.name}.json", dump_record(FreightRecord.of(f))
        yield (
            f"aliases/{f.alias}.json",
            dump_record(AliasRecord(alias=f.alias, freight=f.name, warehouse="app")),
        )
    per_stage = promotions // len(STAGES)
    for s, stage in enumerate(STAGES):
        summaries: list[PromotionSummary] = []
        verified: dict[str, VerifiedFreight] = {}
        held = None
        for p in range(per_stage):
            target = items[min(count - 1, (p * count) // per_stage + s)]
            failed = p % 10 == 7  # 1 in 10 failed; the newest promotion of each Stage succeeded
            second = (p * count // per_stage) * 60 + 30 + s
            name = f"{stage}.01J{p:023d}.{target.name[:7]}"
            record = PromotionRecord(
                name=name,
                stage=stage,
                freight=FreightReference(name=target.name, alias=target.alias, origin=target.origin),
                phase="Failed" if failed else "Succeeded",
                message="failed: step out: exit 1" if failed else None,
                actor="octocat",
                created_at=stamp(second),
                started_at=stamp(second),
                finished_at=stamp(second + 20),
                steps=[
                    StepRecord(alias="out", uses="compose-output", status="Failed" if failed else "Succeeded")
                ],
            )
            yield f"promotions/{stage}/{name}.json", dump_record(record)
            summaries.insert(
                0,
                PromotionSummary(
                    name=name, freight=target.name, phase=record.phase, finished_at=record.finished_at
                ),
            )
            if not failed:
                held = target
                verified[target.name] = VerifiedFreight(verified_at=stamp(second + 60))
                if p % 50 == 0:
                    run = VerificationRecord(
                        id=f"v{p:06d}",
                        stage=stage,
                        freight=FreightReference(name=target.name, alias=target.alias, origin=target.origin),
                        phase="Successful",
                        started_at=stamp(second + 30),
                        finished_at=stamp(second + 60),
                        results=[AnalysisResult(template="smoke", phase="Successful")],
                    )
                    yield f"verifications/{stage}/{run.id}.json", dump_record(run)
        assert held is not None
        if stage == STAGES[-1]:
            verified.pop(held.name)  # the last Stage has not verified its Freight yet
        state = StageStateRecord(
            stage=stage,
            current_freight=[CurrentFreight(name=held.name, origin=held.origin, since=stamp(count * 60))],
            verified=verified,
            approved={items[-1].name: ApprovedFreight(approved_at=stamp(count * 60), actor="octocat")},
            last_promotions=summaries[:10],
        )
        yield f"stages/{stage}.json", dump_record(state)


def build_fixture(repo: Path, count: int, promotions: int) -> None:
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / ".kargo").mkdir()
    (repo / ".kargo" / "pipeline.yaml").write_text(manifests())
    subprocess.run(["git", "add", ".kargo"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "pipeline"], cwd=repo, check=True)
    fast_import(repo, fixture_files(count, promotions))


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def child_env(cache: Path) -> dict[str, str]:
    """Child interpreters use compiled bytecode (in a cache dir of this run), as an installed package does."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def in_process_phases(repo: Path, out: Path) -> dict[str, float]:
    """Where the time goes, without the interpreter's start-up: read, render, write."""
    from kargo_actions.ledger import Ledger
    from kargo_actions.manifests import load_project
    from kargo_actions.report.dashboard import collect
    from kargo_actions.report.dashboard_html import render_site
    from kargo_actions.report.dashboard_site import write_site

    start = time.perf_counter()
    project = load_project(repo / ".kargo")
    with Ledger(repo) as ledger:
        loaded = time.perf_counter()
        dash = collect(project, ledger)
    read = time.perf_counter()
    files = render_site(dash)
    rendered = time.perf_counter()
    write_site(files, out)
    written = time.perf_counter()
    return {
        "manifests": loaded - start,
        "ledger read (collect)": read - loaded,
        "render": rendered - read,
        "write": written - rendered,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--freight", type=int, default=10_000)
    parser.add_argument("--promotions", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Build the fixture here and keep it (and the site).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = args.keep or Path(tmp_name)
        repo = tmp / "repo"
        start = time.perf_counter()
        build_fixture(repo, args.freight, args.promotions)
        print(
            f"fixture: {args.freight} Freight, {args.promotions} promotions in {time.perf_counter() - start:.1f} s"
        )
        env = child_env(tmp / "pycache")
        kargo = [sys.executable, "-m", "kargo_actions", "--repo", str(repo)]
        site = tmp / "site"

        def dashboard() -> None:
            subprocess.run(
                [*kargo, "-o", "json", "dashboard", "--out", str(site), "--force"],
                env=env,
                check=True,
                capture_output=True,
            )

        def freight_list() -> None:
            subprocess.run(
                [*kargo, "-o", "json", "freight", "list"], env=env, check=True, capture_output=True
            )

        dashboard()  # warms the bytecode cache and the OS file cache
        ours = timed(dashboard, args.runs)
        listing = timed(freight_list, args.runs)
        summary = json.loads(
            subprocess.run(
                [*kargo, "-o", "json", "dashboard", "--out", str(site), "--force"],
                env=env,
                check=True,
                capture_output=True,
            ).stdout
        )
        phases = in_process_phases(repo, tmp / "site-in-process")
        pages = summary["pages"]
        size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        median, best = statistics.median(ours), min(ours)
        ok = median < TARGET_S
        print()
        print("| what | median | runs | target | |")
        print("|---|---|---|---|---|")
        print(
            f"| dashboard --out, {args.freight} Freight, {len(STAGES)} Stages, {args.promotions} promotions "
            f"| {median:.2f} s | {', '.join(f'{t:.2f}' for t in ours)} | < {TARGET_S:.0f} s | "
            f"{'ok' if ok else 'MISSED'} |"
        )
        print(
            f"| freight list -o json, same ledger | {statistics.median(listing):.2f} s | "
            f"{', '.join(f'{t:.2f}' for t in listing)} | - | |"
        )
        print(f"| site: {pages['total']} pages, {size / 1e6:.1f} MB (best run {best:.2f} s) | | | | |")
        print()
        print("in process, one run: " + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()))
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
