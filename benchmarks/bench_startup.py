"""Start-up time of the CLI: `kargo-actions --help` and `--version` must answer in under 0.3 s.

Compared in the same run with a bare `python -c pass`, the floor no Python CLI can beat.
Run: .venv/bin/python benchmarks/bench_startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.3
RUNS = 15
BIN = Path(sys.executable).parent / "kargo-actions"


def median_seconds(cmd: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    floor = median_seconds([sys.executable, "-c", "pass"])
    print(f"python -c pass            median {floor * 1000:6.1f} ms  (floor)")
    failed = False
    for args in (["--help"], ["--version"]):
        seconds = median_seconds([str(BIN), *args])
        ok = seconds < TARGET_SECONDS
        failed |= not ok
        print(
            f"kargo-actions {args[0]:<11} median {seconds * 1000:6.1f} ms  target < {TARGET_SECONDS * 1000:.0f} ms  "
            f"{'ok' if ok else 'MISSED'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
