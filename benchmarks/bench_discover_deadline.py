"""Benchmark (issue 13): discover against registries that trickle a byte a second, under a 2 s deadline.

Each case has HOSTS trickling registries (tests/discovery/stall_server.py, one per port) with SUBS image
subscriptions each, plus one healthy docker-registry subscription; it prints the wall time of the whole
`discover_warehouses` run, what the per-host bound (4 at a time) predicts, what a one-at-a-time run would
take, and when the healthy subscription's result came in. Exit 1 when a run takes over its prediction + 1 s
or the healthy result waits for a slow one.

    .venv/bin/python benchmarks/bench_discover_deadline.py
"""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kargo_actions.discovery.run import SubscriptionRef, SubscriptionRun, discover_warehouses  # noqa: E402
from kargo_actions.discovery.subscriptions import PER_HOST  # noqa: E402
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy  # noqa: E402
from kargo_actions.manifests import load_project  # noqa: E402
from tests.discovery.registry_server import ImageSpec, build_layout, require_tools, start_registry  # noqa: E402
from tests.discovery.stall_server import serve_stall  # noqa: E402

DEADLINE = 2.0
CASES = [(1, 1), (2, 1), (4, 1), (1, 4), (1, 8), (4, 4)]  # (hosts, subscriptions per host)


class Timing:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.healthy_at = math.inf

    def start(self, ref: SubscriptionRef) -> None:
        pass

    def done(self, run: SubscriptionRun) -> None:
        if run.ok:
            self.healthy_at = time.monotonic() - self.started

    def waiting(self, what: str, seconds: float) -> None:
        pass


def manifest(subs: list[str]) -> str:
    lines = ["apiVersion: kargo.akuity.io/v1alpha1", "kind: Warehouse", "metadata:", "  name: bench"]
    lines += ["  namespace: demo", "spec:", "  subscriptions:"]
    return "\n".join(lines + [f"  - image: {{repoURL: {s}}}" for s in subs]) + "\n"


def run_case(work: Path, healthy: str, hosts: int, per_host: int) -> tuple[float, float]:
    with ExitStack() as stack:
        servers = [stack.enter_context(serve_stall(1.0)) for _ in range(hosts)]
        subs = [healthy] + [f"{s.host}/team/app{i}" for s in servers for i in range(per_host)]
        repo = work / f"pipeline-{hosts}x{per_host}"
        (repo / ".kargo").mkdir(parents=True)
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        (repo / ".kargo" / "warehouses.yaml").write_text(manifest(subs))
        project = load_project(repo / ".kargo")
        timing = Timing()
        with Ledger(repo, LedgerConfig(remote=None, signing=SigningPolicy.NEVER)) as ledger:
            discover_warehouses(project, ledger, progress=timing, timeout=f"{DEADLINE:g}s", record=False)
        return time.monotonic() - timing.started, timing.healthy_at


def main() -> int:
    require_tools()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        registry = start_registry(work / "registry")
        stack.callback(registry.stop)
        layout = work / "layout"
        build_layout(layout, "1.0.0", [ImageSpec(salt="bench")])
        registry.push(layout, "1.0.0", "demo/app")
        healthy = f"{registry.host}/demo/app"
        print(f"deadline {DEADLINE:g} s, {PER_HOST} at a time per host, one healthy subscription beside")
        print(
            f"{'hosts x subs':>12} {'wall':>8} {'predicted':>10} {'one at a time':>14} {'healthy done':>13}"
        )
        for hosts, per_host in CASES:
            wall, healthy_at = run_case(work, healthy, hosts, per_host)
            predicted = math.ceil(per_host / PER_HOST) * DEADLINE
            sequential = hosts * per_host * DEADLINE
            print(
                f"{hosts:>6} x {per_host:<3} {wall:>7.2f}s {predicted:>9.1f}s {sequential:>13.1f}s {healthy_at:>12.2f}s"
            )
            if wall > predicted + 1.0 or healthy_at > 1.0:
                failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
