"""DORA metrics (issue 17): `kargo-actions metrics` over a 50,000-promotion ledger in < 2 s.

The fixture is one `git fast-import` (no thousands of commits): 10,000 Freight with their discovered artifact
times, 50,000 promotions over five Stages (1 in 12 failed, 1 in 40 a rollback) and a verification run for
every tenth promotion (1 in 8 of them failed), spread over a year so that the default 30-day window and a
365-day one both have work.

Run: .venv/bin/python benchmarks/bench_metrics.py [--promotions N] [--freight N] [--runs N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dashboard import IMAGE, STAGES, child_env, make_freight, manifests, timed  # noqa: E402
from bench_ledger import fast_import  # noqa: E402

TARGET_S = 2.0
YEAR = 365 * 86400


def stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def fixture_files(count: int, promotions: int, end: float) -> Iterator[tuple[str, bytes]]:
    """Raw JSON records (written as the models write them; building 50,000 models would take longer than
    the measurement)."""
    from kargo_actions.ledger.records import (
        DiscoveredArtifactsRecord,
        FreightRecord,
        LedgerMarker,
        dump_record,
    )

    start = end - YEAR
    yield ".kargo-ledger.json", dump_record(LedgerMarker())
    items = [make_freight(n) for n in range(count)]
    created: dict[str, str] = {}
    for n, f in enumerate(items):
        moment = start + n * YEAR / count
        f = f.model_copy(
            update={"metadata": f.metadata.model_copy(update={"creation_timestamp": stamp(moment + 300)})}
        )
        created[f.images[0].digest] = stamp(moment)
        yield f"freight/app/{f.name}.json", dump_record(FreightRecord.of(f))
    newest = items[-20:]
    discovered = DiscoveredArtifactsRecord.model_validate(
        {
            "warehouse": "app",
            "discoveredAt": stamp(end),
            "results": [
                {
                    "kind": "image",
                    "repoURL": IMAGE,
                    "images": [i.images[0].wire() for i in newest],
                    "createdAt": created,
                }
            ],
        }
    )
    yield "discovered/app.json", dump_record(discovered)
    per_stage = promotions // len(STAGES)
    for s, stage in enumerate(STAGES):
        for p in range(per_stage):
            target = items[min(count - 1, p * count // per_stage)]
            moment = start + p * YEAR / per_stage + 600 * (s + 1)
            failed = p % 12 == 5
            name = f"{stage}.01J{p:023d}.{target.name[:7]}"
            record = {
                "schemaVersion": 2,
                "name": name,
                "stage": stage,
                "freight": {
                    "name": target.name,
                    "alias": target.alias,
                    "origin": {"kind": "Warehouse", "name": "app"},
                },
                "phase": "Failed" if failed else "Succeeded",
                "createdAt": stamp(moment),
                "startedAt": stamp(moment),
                "finishedAt": stamp(moment + 40),
                "actor": "octocat",
                "steps": [
                    {"alias": "out", "uses": "compose-output", "status": "Failed" if failed else "Succeeded"}
                ],
                "request": {"mode": "rollback" if p % 40 == 39 else "auto"},
                "runURL": f"https://github.com/example/app/actions/runs/{p}",
            }
            yield (
                f"promotions/{stage}/{name}.json",
                (json.dumps(record, indent=2, sort_keys=True) + "\n").encode(),
            )
            if p % 10 == 0 and not failed:
                run = {
                    "schemaVersion": 1,
                    "id": f"v{p:07d}",
                    "stage": stage,
                    "freight": record["freight"],
                    "phase": "Failed" if p % 80 == 0 else "Successful",
                    "startedAt": stamp(moment + 60),
                    "finishedAt": stamp(moment + 120),
                    "results": [],
                }
                yield f"verifications/{stage}/v{p:07d}.json", (json.dumps(run, indent=2) + "\n").encode()


def build_fixture(repo: Path, count: int, promotions: int, end: float) -> None:
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / ".kargo").mkdir()
    (repo / ".kargo" / "pipeline.yaml").write_text(manifests())
    subprocess.run(["git", "add", ".kargo"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "pipeline"], cwd=repo, check=True)
    fast_import(repo, fixture_files(count, promotions, end))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--promotions", type=int, default=50_000)
    parser.add_argument("--freight", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="Build the fixture here and keep it.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = args.keep or Path(tmp_name)
        repo = tmp / "repo"
        begun = time.perf_counter()
        build_fixture(repo, args.freight, args.promotions, time.time())
        print(
            f"fixture: {args.freight} Freight, {args.promotions} promotions "
            f"in {time.perf_counter() - begun:.1f} s"
        )
        env = child_env(tmp / "pycache")
        kargo = [sys.executable, "-m", "kargo_actions", "--repo", str(repo), "-o", "json", "metrics"]
        results: list[tuple[str, list[float], float, dict[str, Any]]] = []
        for window in ("30d", "365d"):
            command = [*kargo, "--since", window, "--no-fetch"]

            def metrics(command: list[str] = command) -> None:
                subprocess.run(command, env=env, check=True, capture_output=True)

            metrics()  # warms the bytecode cache and the OS file cache
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            times = timed(metrics, args.runs)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / args.runs
            answer = json.loads(subprocess.run(command, env=env, check=True, capture_output=True).stdout)
            results.append((window, times, cpu, answer))
        print()
        print("| what | median | runs | target | |")
        print("|---|---|---|---|---|")
        ok = True
        for window, times, cpu, answer in results:
            median = statistics.median(times)
            ok = ok and median < TARGET_S
            pipeline = answer["pipeline"]
            counted = sum(s["changeFailureRate"]["count"] for s in answer["stages"])
            print(
                f"| metrics --since {window}, {args.promotions} promotions ({counted} in the window), "
                f"{len(STAGES)} Stages | {median:.2f} s (CPU {cpu:.2f} s) | {', '.join(f'{t:.2f}' for t in times)} | "
                f"< {TARGET_S:.0f} s | {'ok' if median < TARGET_S else 'MISSED'} |"
            )
            print(
                f"|   pipeline: {pipeline['deploymentFrequency']['value']} promotions/day, lead time median "
                f"{pipeline['leadTime']['median']} s, change failure rate "
                f"{pipeline['changeFailureRate']['value']} | | | | |"
            )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
