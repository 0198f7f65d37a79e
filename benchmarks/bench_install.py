"""actions/setup's install from the lock file: cold under 30 s with uv, warm under 10 s (issue 14).

Cold: an empty environment and empty download caches, installed by actions/setup/install.sh from
requirements/run.txt (and render.txt) with every hash checked: by uv on PATH, by uv that install.sh first
installs from its own pin in the lock with pip (a runner without uv), and by pip --require-hashes alone.
Compared in the same run with a plain `pip install` of the checkout (resolving pyproject.toml, no lock).
Warm: what a cache hit of actions/setup leaves (the stamp matches): install.sh and the first
`kargo-actions --version`. All downloads come from the package index.

    .venv/bin/python benchmarks/bench_install.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "actions" / "setup" / "install.sh"
COLD_TARGET = 30.0
WARM_TARGET = 10.0
BIN = Path(sys.executable).parent  # this environment's bin: uv


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def bare_path() -> str:
    """PATH without any uv: a runner that has none."""
    return os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "uv").exists())


def main() -> int:
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)

        def env_for(name: str, **extra: str) -> dict[str, str]:
            return {
                **os.environ,
                "KARGO_ACTIONS_PYTHON": sys.executable,
                "KARGO_ACTIONS_VENV": str(base / name),
                "UV_CACHE_DIR": str(base / f"uv-cache-{name}"),  # empty: a cold runner
                "PIP_NO_CACHE_DIR": "1",
                "PIP_FIND_LINKS": "",  # the package index only, as on a runner
                **extra,
            }

        cases = [
            ("uv (on PATH)", "uv", {"PATH": f"{BIN}{os.pathsep}{bare_path()}"}),
            ("uv (installed from the lock)", "uv-boot", {"PATH": bare_path()}),
            ("pip --require-hashes", "pip", {"PATH": bare_path(), "KARGO_ACTIONS_INSTALLER": "pip"}),
            (
                "uv, extra render",
                "uv-render",
                {"PATH": f"{BIN}{os.pathsep}{bare_path()}", "KARGO_ACTIONS_RENDER": "true"},
            ),
        ]
        print(f"{'cold install':<40}{'seconds':>9}{'env MB':>9}")
        for label, name, extra in cases:
            seconds = timed(["bash", str(INSTALL)], env_for(name, **extra))
            print(f"{label:<40}{seconds:9.2f}{size_mb(base / name):9.0f}")
            if name == "uv":
                failed |= seconds >= COLD_TARGET
        plain = base / "plain"
        subprocess.run([sys.executable, "-m", "venv", str(plain)], check=True)
        seconds = timed(
            [str(plain / "bin" / "python"), "-m", "pip", "install", "--quiet", str(ROOT)],
            env_for("plain", PATH=bare_path()),
        )
        print(f"{'plain pip install (no lock)':<40}{seconds:9.2f}{size_mb(plain):9.0f}")

        warm_env = env_for("uv", GITHUB_PATH=str(base / "path"), GITHUB_OUTPUT=str(base / "output"))
        runs = [timed(["bash", str(INSTALL)], warm_env) for _ in range(7)]
        version = [
            timed([str(base / "uv" / "bin" / "kargo-actions"), "--version"], warm_env) for _ in range(7)
        ]
        warm = statistics.median(runs) + statistics.median(version)
        print(
            f"\nwarm install.sh (stamp matches)        {statistics.median(runs) * 1000:7.0f} ms (median of 7)"
        )
        print(f"first kargo-actions --version          {statistics.median(version) * 1000:7.0f} ms")
        print(f"warm setup (without the cache restore) {warm:7.2f} s    target < {WARM_TARGET:.0f} s")
        print(f"cold install with uv on PATH target < {COLD_TARGET:.0f} s")
        failed |= warm >= WARM_TARGET
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
