"""The ledger at scale (issue 18, items 3 and 4): many concurrent writers, and reads of a large ledger.

writers: N processes, each in its own clone of one bare remote (as N matrix jobs would be), each recording
one Freight of its own Warehouse and then one Promotion with its Stage's new state (two compare-and-swap
writes). Checked: nothing lost, nothing duplicated, every writer done in < 15 s; reported: throughput and
p50/p99 append latency. Writers import first and start writing together (a start file), so the figure is
the ledger's, not 50 interpreters starting on 2 cores; the time from launch is printed beside it.

reads: a synthetic ledger (one `git fast-import`) of 300 Warehouses, 40 Stages, 10,000 Freight and 50,000
Promotions; `status`, `freight list --warehouse W`, `history --stage S`, `dashboard` and `reconcile` (nothing
to do) each timed as a new CLI process against its target.

Run: .venv/bin/python benchmarks/bench_scale_ledger.py [--only writers|reads] [--writers 50]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WRITER = """
import json, sys, time
from pathlib import Path
from kargo_actions.freight.identity import freight_id
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy, WritePlan
from kargo_actions.ledger.records import (
    CurrentFreight, FreightReference, PromotionRecord, StageStateRecord, dump_record, stage_path
)
from kargo_actions.model.freight import Freight, FreightMetadata, FreightOrigin, Image

repo, n, go, stages = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
origin = FreightOrigin(name=f"wh-{n}")
images = [Image(repo_url=f"ghcr.io/example/app-{n}", tag="1.0.0", digest=f"sha256:{n:064x}")]
item = Freight(metadata=FreightMetadata(name=freight_id(origin, images=images)), origin=origin, images=images)
stage = f"stage-{n % stages}"
while not go.exists():
    time.sleep(0.005)
start = time.perf_counter()
lat = []
attempts = []
with Ledger(repo, LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
    t = time.perf_counter()
    rec = ledger.record_freight(item)
    lat.append(time.perf_counter() - t)
    attempts.append(rec.attempts)
    now = "2026-12-01T00:00:00Z"
    promo = PromotionRecord(
        name=f"{stage}.w{n:04d}", stage=stage,
        freight=FreightReference(name=item.name, origin=origin), phase="Succeeded", created_at=now,
    )
    t = time.perf_counter()
    def build(snap):
        # what promote's end write does: the Promotion and the Stage's new state in one commit
        state = snap.load(StageStateRecord, stage_path(stage)) or StageStateRecord(stage=stage)
        keep = [c for c in state.current_freight if c.origin.name != origin.name]
        new = state.model_copy(update={"current_freight": [*keep, CurrentFreight(name=item.name, origin=origin, since=now)]})
        files = {f"promotions/{stage}/{promo.name}.json": dump_record(promo), stage_path(stage): dump_record(new)}
        # what it read: the Stage's state; where that is unchanged, another writer may land it (WritePlan.combine;
        # left out for --code trees older than pending writes)
        combine = {"combine": {stage_path(stage): snap.oid(stage_path(stage))}} if hasattr(snap, "oid") else {}
        return WritePlan(summary=f"promotion: {promo.name} Succeeded", files=files, result=None, **combine)
    attempts.append(ledger.write(build).attempts)
    lat.append(time.perf_counter() - t)
print(json.dumps({"n": n, "latencies": lat, "attempts": attempts, "total": time.perf_counter() - start, "end": time.time()}))
"""


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, capture_output=True, check=True).stdout.decode().strip()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# (name, value, unit, target or None, exact): what bench_scale.py turns into its Figures
Fig = tuple[str, float, str, "float | None", bool]


def bench_writers(tmp: Path, writers: int, stages: int, code: Path) -> list[Fig]:
    remote = tmp / "ledger.git"
    seed = tmp / "seed"
    seed.mkdir(parents=True)
    sh(seed, "git", "init", "-q", "-b", "main")
    sh(seed, "git", "commit", "-q", "--allow-empty", "-m", "initial")
    sh(tmp, "git", "init", "-q", "--bare", str(remote))
    sh(seed, "git", "remote", "add", "origin", str(remote))
    sh(seed, "git", "push", "-q", "origin", "main")
    clones = []
    for i in range(writers):
        path = tmp / f"clone-{i}"
        sh(tmp, "git", "clone", "-q", str(remote), str(path))
        clones.append(path)
    go = tmp / "go"
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    launched = time.time()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(c), str(i), str(go), str(stages)],
            env=env,
            cwd=tmp,  # not the checkout: `-c` puts the working directory first on sys.path, before --code
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i, c in enumerate(clones)
    ]
    time.sleep(max(3.0, writers * 0.15))  # every writer imported and waiting (checked below)
    started = time.time()
    go.write_text("go")
    outs = [p.communicate() for p in procs]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    failed = [
        (i, err.decode()[-500:])
        for i, (p, (_, err)) in enumerate(zip(procs, outs, strict=True))
        if p.returncode
    ]
    for i, err in failed[:3]:
        print(f"writer {i} failed: {err}")
    reports = [json.loads(out) for out, _ in outs if out.strip()]
    wall = max((r["end"] for r in reports), default=time.time()) - started
    lat = [x for r in reports for x in r["latencies"]]
    freight = sh(remote, "git", "ls-tree", "-r", "--name-only", "kargo/ledger", "freight").splitlines()
    promos = sh(remote, "git", "ls-tree", "-r", "--name-only", "kargo/ledger", "promotions").splitlines()
    tags = sh(remote, "git", "tag", "--list", "kargo/freight/*").splitlines()
    current = 0
    for name in sh(remote, "git", "ls-tree", "--name-only", "kargo/ledger:stages").splitlines():
        state = json.loads(sh(remote, "git", "cat-file", "-p", f"kargo/ledger:stages/{name}"))
        current += len(state.get("currentFreight", []))
    commits = int(sh(remote, "git", "rev-list", "--count", "--first-parent", "kargo/ledger"))
    landings = int(sh(remote, "git", "rev-list", "--count", "--merges", "--first-parent", "kargo/ledger"))
    left = len(sh(remote, "git", "for-each-ref", "refs/kargo/pending/").splitlines())
    print(f"## writers: {writers} processes in separate clones, {stages} Stages, 2 writes each")
    print(
        f"exit codes non-zero: {len(failed)}; on the remote: {len(freight)} Freight, {len(tags)} tags, "
        f"{len(promos)} promotions, {current} Freight current in Stage states; {commits} landings on the "
        f"ledger branch, {landings} of them with pending writes of others; {left} pending writes left"
    )
    print(
        f"slowest writer done {wall:.2f} s after the start (target < 15 s; "
        f"{max(r['end'] for r in reports) - launched:.2f} s after launch, imports included)"
    )
    tries = [x for r in reports for x in r["attempts"]]
    print(
        f"compare-and-swap tries {sum(tries)} for {len(tries)} writes (most {max(tries, default=0)}); CPU of the "
        f"writers and their git processes {usage.ru_utime + usage.ru_stime:.1f} s (imports included)"
    )
    if lat:
        print(
            f"throughput {len(lat) / wall:.1f} appends/s; append latency p50 {percentile(lat, 0.5):.2f} s, "
            f"p99 {percentile(lat, 0.99):.2f} s, max {max(lat):.2f} s"
        )
    dupes = len(freight) - len(set(freight)) + len(promos) - len(set(promos))
    figures: list[Fig] = [
        ("writers that failed", len(failed), "", 0, True),
        (
            "records lost (Freight, tags, promotions, Stage states)",
            4 * writers - len(set(freight)) - len(tags) - len(set(promos)) - current,
            "",
            0,
            True,
        ),
        ("records duplicated", dupes, "", 0, True),
        (f"slowest of {writers} writers done, after the start", wall, "s", 15.0, False),
        ("  append latency p50", percentile(lat, 0.5) if lat else 0.0, "s", None, False),
        ("  append latency p99", percentile(lat, 0.99) if lat else 0.0, "s", None, False),
        ("  throughput", len(lat) / wall if wall else 0.0, "appends/s", None, False),
        ("  compare-and-swap tries per write", sum(tries) / max(len(tries), 1), "", None, False),
    ]
    return figures


WAREHOUSES, CHAINS, LEVELS = 300, 10, ("dev", "qa", "staging", "prod")
READ_TARGETS = {"status": 1.0, "freight list": 0.5, "history": 0.5, "dashboard": 10.0, "reconcile": 0.5}


def stamp(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_767_225_600 + second))


def chain_warehouses(chain: int) -> list[str]:
    per = WAREHOUSES // CHAINS
    return [f"wh-{w:03d}" for w in range(chain * per, (chain + 1) * per)]


def read_manifests() -> str:
    """300 Warehouses; 10 chains of 4 Stages (dev <- 30 Warehouses direct, qa <- dev, ...): 40 Stages."""
    docs: list[dict[str, object]] = [
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "scale"}}
    ]
    for w in range(WAREHOUSES):
        docs.append(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Warehouse",
                "metadata": {"name": f"wh-{w:03d}"},
                "spec": {"subscriptions": [{"image": {"repoURL": f"ghcr.io/example/app-{w:03d}"}}]},
            }
        )
    for chain in range(CHAINS):
        for level, name in enumerate(LEVELS):
            upstream = f"c{chain}-{LEVELS[level - 1]}" if level else None
            sources: dict[str, object] = {"stages": [upstream]} if upstream else {"direct": True}
            docs.append(
                {
                    "apiVersion": "kargo.akuity.io/v1alpha1",
                    "kind": "Stage",
                    "metadata": {"name": f"c{chain}-{name}"},
                    "spec": {
                        "requestedFreight": [
                            {"origin": {"kind": "Warehouse", "name": wh}, "sources": sources}
                            for wh in chain_warehouses(chain)
                        ],
                        "promotionTemplate": {
                            "spec": {"steps": [{"uses": "compose-output", "as": "out", "config": {"x": "1"}}]}
                        },
                    },
                }
            )
    return "".join("---\n" + json.dumps(d) + "\n" for d in docs)


def read_fixture_files(freight_count: int, promotions: int) -> Iterator[tuple[str, bytes]]:
    """Freight n of Warehouse n % 300, its alias; each Stage's promotions of its chain's Freight, its state."""
    from kargo_actions.freight.identity import freight_id
    from kargo_actions.ledger.records import (
        AliasRecord,
        CurrentFreight,
        FreightRecord,
        LedgerMarker,
        PromotionSummary,
        StageStateRecord,
        VerifiedFreight,
        dump_record,
    )
    from kargo_actions.model.freight import Freight, FreightMetadata, FreightOrigin, Image

    yield ".kargo-ledger.json", dump_record(LedgerMarker())
    items: list[Freight] = []
    for n in range(freight_count):
        wh = f"wh-{n % WAREHOUSES:03d}"
        origin = FreightOrigin(name=wh)
        images = [
            Image(
                repo_url=f"ghcr.io/example/app-{n % WAREHOUSES:03d}",
                tag=f"1.0.{n}",
                digest=f"sha256:{n:064x}",
            )
        ]
        meta = FreightMetadata(name=freight_id(origin, images=images), creation_timestamp=stamp(n * 60))
        item = Freight(metadata=meta, origin=origin, images=images, alias=f"alias-{n}")
        items.append(item)
        yield f"freight/{wh}/{item.name}.json", dump_record(FreightRecord.of(item))
        yield (
            f"aliases/alias-{n}.json",
            dump_record(AliasRecord(alias=f"alias-{n}", freight=item.name, warehouse=wh)),
        )
    by_chain: dict[int, list[Freight]] = {}
    for n, item in enumerate(items):
        by_chain.setdefault((n % WAREHOUSES) // (WAREHOUSES // CHAINS), []).append(item)
    stages = CHAINS * len(LEVELS)
    per_stage = promotions // stages
    for chain in range(CHAINS):
        pool = by_chain[chain]
        for level, level_name in enumerate(LEVELS):
            stage = f"c{chain}-{level_name}"
            summaries: list[PromotionSummary] = []
            verified: dict[str, VerifiedFreight] = {}
            current: dict[str, Freight] = {}
            for p in range(per_stage):
                target = pool[min(len(pool) - 1, p * len(pool) // per_stage)]
                failed = p % 12 == 5
                second = p * freight_count * 60 // per_stage + 30 + level
                name = f"{stage}.01J{p:023d}.{target.name[:7]}"
                record = {
                    "schemaVersion": 2,
                    "name": name,
                    "stage": stage,
                    "freight": {
                        "name": target.name,
                        "alias": target.alias,
                        "origin": {"kind": "Warehouse", "name": target.origin.name},
                    },
                    "phase": "Failed" if failed else "Succeeded",
                    "createdAt": stamp(second),
                    "startedAt": stamp(second),
                    "finishedAt": stamp(second + 20),
                    "actor": "octocat",
                    "steps": [
                        {
                            "alias": "out",
                            "uses": "compose-output",
                            "status": "Failed" if failed else "Succeeded",
                        }
                    ],
                }
                yield (
                    f"promotions/{stage}/{name}.json",
                    (json.dumps(record, indent=2, sort_keys=True) + "\n").encode(),
                )
                summaries.insert(
                    0,
                    PromotionSummary(
                        name=name, freight=target.name, phase=record["phase"], finished_at=stamp(second + 20)
                    ),
                )
                del summaries[10:]
                if not failed:
                    current[target.origin.name] = target
                    if level < len(LEVELS) - 1 or p < per_stage - 1:
                        verified[target.name] = VerifiedFreight(verified_at=stamp(second + 60))
            state = StageStateRecord(
                stage=stage,
                current_freight=[
                    CurrentFreight(name=f.name, origin=f.origin, since=stamp(freight_count * 60))
                    for f in current.values()
                ],
                verified=verified,
                last_promotions=summaries,
            )
            yield f"stages/{stage}.json", dump_record(state)


def build_read_fixture(repo: Path, freight_count: int, promotions: int) -> None:
    repo.mkdir(parents=True)
    sh(repo, "git", "init", "-q", "-b", "main")
    (repo / ".kargo").mkdir()
    (repo / ".kargo" / "pipeline.yaml").write_text(read_manifests())
    sh(repo, "git", "add", ".kargo")
    sh(
        repo,
        "git",
        "-c",
        "user.name=Bench",
        "-c",
        "user.email=bench@example.com",
        "commit",
        "-q",
        "-m",
        "pipeline",
    )
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=repo, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(
        b"commit refs/heads/kargo/ledger\ncommitter Bench <bench@example.com> 0 +0000\ndata 15\nbench: fixture\n"
    )
    for path, data in read_fixture_files(freight_count, promotions):
        proc.stdin.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
    proc.stdin.write(b"\n")
    proc.stdin.close()
    assert proc.wait() == 0


def bench_reads(tmp: Path, runs: int, keep: Path | None) -> list[Fig]:
    repo = keep or tmp / "reads"
    if not (repo / ".git").exists():
        start = time.perf_counter()
        build_read_fixture(repo, 10_000, 50_000)
        print(f"fixture built in {time.perf_counter() - start:.1f} s")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    kargo = [sys.executable, "-m", "kargo_actions", "--repo", str(repo)]
    commands = {
        "status": [*kargo, "status"],
        "freight list": [*kargo, "freight", "list", "--warehouse", "wh-117"],
        "history": [*kargo, "history", "--stage", "c3-qa"],
        "dashboard": [*kargo, "dashboard", "--out", str(tmp / "site")],
        "reconcile": [*kargo, "reconcile"],
    }
    print("## reads: 300 Warehouses, 40 Stages, 10,000 Freight, 50,000 promotions; new CLI process each")
    print("| command | median | runs | target | |")
    print("|---|---|---|---|---|")
    figures: list[Fig] = []
    for what, cmd in commands.items():
        times = []
        for _ in range(runs + 1):  # the first run warms the bytecode cache and git's
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True)
            times.append(time.perf_counter() - start)
            if proc.returncode != 0:
                print(f"{what}: exit {proc.returncode}: {proc.stderr.decode()[-400:]}")
                figures.append((f"{what}: exit code", proc.returncode, "", 0, True))
                break
        times = times[1:]
        if not times:
            continue
        median = statistics.median(times)
        met = median < READ_TARGETS[what]
        figures.append((f"{' '.join(cmd[5:7])}, median", median, "s", READ_TARGETS[what], False))
        print(
            f"| {' '.join(cmd[5:])} | {median:.3f} s | {', '.join(f'{t:.2f}' for t in times)} | "
            f"< {READ_TARGETS[what]:g} s | {'ok' if met else 'MISSED'} |"
        )
    return figures


def met(figures: list[Fig]) -> bool:
    return all(t is None or (v == t if exact else v < t) for _, v, _, t, exact in figures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=["writers", "reads"])
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--stages", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each read command")
    parser.add_argument("--keep", type=Path, help="build the read fixture here once and keep it")
    parser.add_argument(
        "--code", type=Path, default=ROOT, help="the kargo_actions the writers import (compare)"
    )
    args = parser.parse_args()
    only = args.only or ["writers", "reads"]
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-scale-ledger-") as tmp:
        if "writers" in only:
            ok &= met(bench_writers(Path(tmp) / "writers", args.writers, args.stages, args.code))
        if "reads" in only:
            ok &= met(bench_reads(Path(tmp), args.runs, args.keep))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
