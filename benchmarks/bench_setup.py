"""actions/setup: the warm path (environment restored by actions/cache) must be well under 10 s.

Measures what can be measured here: actions/setup/install.sh on an environment whose stamp matches (what a
cache hit leaves), then the first `kargo-actions --version` through the wrapper it writes. With --cold it
also builds the environment from nothing with uv, then with pip (both download from PyPI).
The restore by actions/cache itself (a tar of the environment from GitHub's cache) cannot be timed here;
its size is printed so it can be estimated (GitHub's cache restores at roughly 50-100 MB/s).

    .venv/bin/python benchmarks/bench_setup.py [--cold]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "actions" / "setup" / "install.sh"
WARM_TARGET = 10.0


def stamp() -> str:
    digest = subprocess.run(
        ["bash", "-c", "{ cat pyproject.toml; cat uv.lock 2>/dev/null || true; } | sha256sum | cut -c1-16"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return f"{digest}-{sys.version_info[0]}.{sys.version_info[1]}"


def warm_venv(venv: Path) -> None:
    """An environment as a cache hit restores it: matching stamp, dependencies importable."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (venv / ".kargo-actions-stamp").write_text(stamp() + "\n")


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def main() -> int:
    cold = "--cold" in sys.argv[1:]
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        venv = base / "venv"
        warm_venv(venv)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(base),
            "KARGO_ACTIONS_VENV": str(venv),
            "GITHUB_PATH": str(base / "path"),
            "GITHUB_OUTPUT": str(base / "output"),
        }
        runs = [timed(["bash", str(INSTALL)], env) for _ in range(7)]
        version = [timed([str(venv / "bin" / "kargo-actions"), "--version"], env) for _ in range(7)]
        warm = statistics.median(runs) + statistics.median(version)
        print(f"install.sh, warm (stamp matches)    {statistics.median(runs) * 1000:8.1f} ms (median of 7)")
        print(f"first kargo-actions --version       {statistics.median(version) * 1000:8.1f} ms")
        print(f"warm setup without the cache restore {warm:7.2f} s   target < {WARM_TARGET:.0f} s")
        failed |= warm >= WARM_TARGET
        if cold:
            for tool in ("uv", "pip"):
                target = base / f"cold-{tool}"
                # the machine's own environment: proxies and CA certificates for PyPI
                cold_env = {
                    **os.environ,
                    **env,
                    "HOME": os.environ.get("HOME", tmp),
                    "KARGO_ACTIONS_VENV": str(target),
                }
                if tool == "pip":
                    # install.sh takes pip when no uv is on PATH
                    bare = [p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "uv").exists()]
                    cold_env["PATH"] = os.pathsep.join(bare)
                elif shutil.which("uv") is None:
                    cold_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
                seconds = timed(["bash", str(INSTALL)], cold_env)
                print(
                    f"cold install with {tool:<4} (from PyPI)    {seconds:7.2f} s   env {size_mb(target):.0f} MB"
                )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
