"""`kargo-actions validate` of the kargo-advanced example: median wall time of fresh processes, target < 0.5 s.

Each run is a new `kargo-actions` process (interpreter start, imports, YAML parsing, validation and
cross-checks included), against `python -c pass` as the floor. Also times load_project in-process.
Reads ../shared/kargo-examples/kargo-advanced beside the repository; exits 0 with a message when absent.

    .venv/bin/python benchmarks/bench_validate.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.5
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT.parent / "shared" / "kargo-examples" / "kargo-advanced"
CLI = Path(sys.executable).parent / "kargo-actions"


def median_wall(argv: list[str], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of fresh processes running argv."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if result.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.decode()}")
    return statistics.median(walls), statistics.median(cpus)


def in_process(runs: int) -> float:
    sys.path.insert(0, str(ROOT))
    from kargo_actions.manifests import load_project

    load_project(EXAMPLE / "kargo")  # first call builds the validators
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        load_project(EXAMPLE / "kargo")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    if not EXAMPLE.is_dir():
        print(f"skipped: {EXAMPLE} is absent")
        return 0
    floor, floor_cpu = median_wall([sys.executable, "-c", "pass"], args.runs)
    command = [str(CLI), "--repo", str(EXAMPLE), "--config-dir", "kargo", "validate"]
    validate, validate_cpu = median_wall(command, args.runs)
    loaded = in_process(args.runs)
    verdict = "ok" if validate < TARGET_SECONDS else "MISSED"
    print(f"runs: {args.runs} each, medians; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"python -c pass (the floor)              wall {floor * 1000:7.1f} ms  cpu {floor_cpu * 1000:6.1f} ms"
    )
    print(f"kargo-actions validate (kargo-advanced) wall {validate * 1000:7.1f} ms  cpu {validate_cpu * 1000:6.1f} ms"
          f"  target < {TARGET_SECONDS * 1000:.0f} ms wall  {verdict}")  # fmt: skip
    print(f"load_project in-process, warm           wall {loaded * 1000:7.1f} ms")
    return 0 if validate < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
