"""`kargo-actions promote` of kargo-simple's dev Stage vs a plain shell script doing the same git work.

kargo-simple's tree and manifests (read from ../shared/kargo-examples beside the repository; only the
repository URL is pointed at a local bare repository) are pushed to a local bare repository; a pipeline clone
of it holds the ledger. Each run promotes the next Freight into dev with a new `kargo-actions` process (clone,
kustomize-set-image, commit, push, plus the two ledger writes) and, interleaved, runs a bash script doing the
same clone, edit, commit and push. The difference of the medians is our overhead: interpreter start, manifests,
expressions, gates, ledger records.

A last run in this process counts what the promotion spawns: git processes started by the steps (vs the
script's) and the ledger's fetch and push exchanges with the remote (GIT_TRACE2 would count the same).
Exits non-zero when a target is missed; exits 0 with a message when ../shared is absent.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT.parent / "shared" / "kargo-examples" / "kargo-simple"
REPO_URL = "https://github.com/akuity/kargo-simple.git"
RUNS = 7
OVERHEAD_TARGET_S = 0.3
LEDGER_EXCHANGES_TARGET = 2

SCRIPT = """\
set -euo pipefail
git clone -q --branch main "$URL" src
sed -i "s/newTag: .*/newTag: $TAG/" src/env/dev/kustomization.yaml
git -C src add -A
git -C src commit -q -m "Updated ./src/env/dev to use new image"
git -C src push -q origin HEAD:main
"""
SCRIPT_GIT_PROCESSES = 4  # clone, add, commit, push (sed is not git)
# What the steps may start: one clone per repository (a bare clone plus a worktree per checkout stands for
# the script's clone-with-checkout), then the script's own add, commit and push.
ALLOWED_STEP_COMMANDS = {"clone", "worktree", "add", "commit", "push"}


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def setup(root: Path, tags: list[str]) -> tuple[Path, Path]:
    """The example pushed to a bare origin; a pipeline clone with one Freight per tag recorded."""
    from kargo_actions.discovery.assemble import Artifacts, assemble_freight, parse_image_ref
    from kargo_actions.ledger import Ledger
    from kargo_actions.manifests import load_project

    origin = root / "origin.git"
    sh(root, "git", "init", "-q", "--bare", "-b", "main", str(origin))
    seed = root / "seed"
    shutil.copytree(EXAMPLE, seed, ignore=shutil.ignore_patterns(".git"))
    for path in seed.rglob("*.yaml"):
        path.write_text(path.read_text().replace(REPO_URL, str(origin)))
    sh(seed, "git", "init", "-q", "-b", "main")
    sh(seed, "git", "add", "-A")
    sh(seed, "git", "commit", "-q", "-m", "example")
    sh(seed, "git", "push", "-q", str(origin), "main")
    pipeline = root / "pipeline"
    sh(root, "git", "clone", "-q", str(origin), str(pipeline))
    warehouse = load_project(pipeline / "kargo").warehouses["guestbook"]
    with Ledger(pipeline) as ledger:
        for i, tag in enumerate(tags):
            image = parse_image_ref(f"ghcr.io/akuity/guestbook:{tag}@sha256:{i + 1:064x}")
            item = assemble_freight(warehouse, Artifacts(images=(image,)), alias=f"bench-{i}")
            stamp = f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z"
            item = item.model_copy(
                update={"metadata": item.metadata.model_copy(update={"creation_timestamp": stamp})}
            )
            ledger.record_freight(item)
    return origin, pipeline


def bytecode_as_installed(root: Path) -> None:
    """Child interpreters read and write compiled bytecode, as an installed package has it.

    With PYTHONDONTWRITEBYTECODE set (some shells and CI images set it) an editable checkout is compiled from
    source in every process: 60-70 ms of each start-up that an installed package (pip compiles at install)
    or a second command on the same runner does not pay. The bytecode goes to a cache dir of this run.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(root / "pycache")


def cli() -> list[str]:
    exe = Path(sys.executable).parent / "kargo-actions"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "kargo_actions"]


def run_promote(pipeline: Path, alias: str) -> float:
    args = [*cli(), "--repo", str(pipeline), "--config-dir", "kargo", "promote", "--stage", "dev"]
    started = time.perf_counter()
    subprocess.run([*args, "--freight", alias, "-q"], check=True, capture_output=True)
    return time.perf_counter() - started


def run_script(work: Path, origin: Path, tag: str) -> float:
    work.mkdir(parents=True)
    env = {**os.environ, "URL": str(origin), "TAG": tag}
    started = time.perf_counter()
    subprocess.run(["bash", "-c", SCRIPT], cwd=work, env=env, check=True)
    return time.perf_counter() - started


class Spawned:
    """Counts processes started in this process: by the steps (cwd in the work dir) and the ledger's
    fetches and pushes."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = str(work_dir)
        self.steps: list[str] = []
        self.ledger_fetch = 0
        self.ledger_push = 0
        self.other = 0
        self.original = subprocess.Popen

    def __enter__(self) -> Spawned:
        counter = self

        class Counting(self.original):  # type: ignore[misc,name-defined]
            def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
                argv = [str(a) for a in (args if isinstance(args, list | tuple) else [args])]
                cwd = str(kwargs.get("cwd") or "")
                if cwd.startswith(counter.work_dir):
                    counter.steps.append(next((a for a in argv[1:] if a in ALLOWED_STEP_COMMANDS), argv[1]))
                elif "fetch" in argv and any("kargo/ledger" in a for a in argv):
                    counter.ledger_fetch += 1
                elif "push" in argv and any("kargo/ledger" in a for a in argv):
                    counter.ledger_push += 1
                else:
                    counter.other += 1
                super().__init__(args, *rest, **kwargs)

        subprocess.Popen = Counting  # type: ignore[misc]
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.Popen = self.original  # type: ignore[misc]


def in_process(pipeline: Path, alias: str, work: Path) -> tuple[Spawned, dict[str, float]]:
    """One promotion in this process: what it spawns and where its time goes."""
    from kargo_actions.ledger import Ledger
    from kargo_actions.manifests import load_project
    from kargo_actions.promotion import engine
    from kargo_actions.promotion.service import PromoteOptions, promote

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    project = load_project(pipeline / "kargo")
    timings["manifests"] = time.perf_counter() - t0
    real_write = Ledger.write
    real_run = engine.run_promotion
    writes: list[float] = []

    def timed_write(self: Ledger, build: Any, **options: Any) -> Any:
        start = time.perf_counter()
        try:
            return real_write(self, build, **options)
        finally:
            writes.append(time.perf_counter() - start)

    def timed_run(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return real_run(*args, **kwargs)
        finally:
            timings["steps"] = time.perf_counter() - start

    Ledger.write = timed_write  # type: ignore[method-assign]
    engine.run_promotion = timed_run  # type: ignore[assignment]
    try:
        with Spawned(work) as spawned, Ledger(pipeline) as ledger:
            t0 = time.perf_counter()
            outcome = promote(project, ledger, "dev", alias, options=PromoteOptions(work_dir=work))
            timings["promote"] = time.perf_counter() - t0
    finally:
        Ledger.write = real_write  # type: ignore[method-assign]
        engine.run_promotion = real_run  # type: ignore[assignment]
    assert outcome.succeeded, outcome.result.message
    # The start write returns once its push is under way (the push runs beside the first steps).
    timings["ledger start write (to its push)"], timings["ledger end write"] = writes
    return spawned, timings


def timed(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - started


# With the cyclic collector held, as the console command holds it while it starts (cli/main.py).
IMPORTS = (
    "import gc; gc.disable(); "
    "import kargo_actions.cli.main, kargo_actions.cli.promote, kargo_actions.manifests, "
    "kargo_actions.promotion.service"
)


def main() -> int:
    if not EXAMPLE.is_dir():
        print(f"skipped: {EXAMPLE} is absent (needs ../shared beside the repository)")
        return 0
    os.environ.update(
        {
            "GIT_AUTHOR_NAME": "Bench",
            "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "Bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com",
        }
    )
    tags = [f"v0.1.{i}" for i in range(RUNS + 2)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        origin, pipeline = setup(root, tags)
        bytecode_as_installed(root)
        run_promote(pipeline, "bench-0")  # warm the parser cache, the bytecode and git's own caches
        ours, script = [], []
        for run in range(RUNS):
            # Interleaved so that load on the shared machine hits both alike.
            ours.append(run_promote(pipeline, f"bench-{run + 1}"))
            script.append(run_script(root / f"script-{run}", origin, f"v0.2.{run}"))
        spawned, timings = in_process(pipeline, f"bench-{RUNS + 1}", root / "work")
        bare_python = statistics.median(timed([sys.executable, "-c", "pass"]) for _ in range(5))
        timed([sys.executable, "-c", IMPORTS])  # bytecode of modules the promotion did not import
        imports = statistics.median(timed([sys.executable, "-c", IMPORTS]) for _ in range(5)) - bare_python
    ours_median, script_median = statistics.median(ours), statistics.median(script)
    overhead = ours_median - script_median
    print(f"promote kargo-simple dev (clone, set image, commit, push), median of {RUNS} interleaved runs")
    print(f"kargo-actions promote (new process)  {ours_median * 1000:7.1f} ms")
    print(f"shell script                         {script_median * 1000:7.1f} ms")
    ok_overhead = overhead < OVERHEAD_TARGET_S
    print(
        f"overhead                             {overhead * 1000:7.1f} ms  target < {OVERHEAD_TARGET_S * 1000:.0f} ms"
        f"  {'ok' if ok_overhead else 'MISSED'}"
    )
    print(f"  python start                       {bare_python * 1000:7.1f} ms")
    print(f"  imports of the promote path        {imports * 1000:7.1f} ms")
    print("  one promotion in process (imports warm):")
    for name, value in timings.items():
        print(f"    {name:22s} {value * 1000:7.1f} ms")
    exchanges_ok = max(spawned.ledger_fetch, spawned.ledger_push) <= LEDGER_EXCHANGES_TARGET
    print(
        f"ledger exchanges with the remote     fetch {spawned.ledger_fetch}, push {spawned.ledger_push}"
        f"  target <= {LEDGER_EXCHANGES_TARGET} each  {'ok' if exchanges_ok else 'MISSED'}"
    )
    steps_ok = set(spawned.steps) <= ALLOWED_STEP_COMMANDS and spawned.steps.count("clone") == 1
    print(
        f"processes started by the steps       {len(spawned.steps)} ({', '.join(spawned.steps)})"
        f" vs the script's {SCRIPT_GIT_PROCESSES} git + sed: one clone, nothing the script lacks"
        f"  {'ok' if steps_ok else 'MISSED'}"
    )
    print(f"other processes (ledger plumbing)    {spawned.other}")
    return 0 if ok_overhead and exchanges_ok and steps_ok else 1


if __name__ == "__main__":
    sys.exit(main())
