"""Core promotion steps vs a plain shell script doing the same clone, set-image, build, commit and push.

Runs kargo-simple's dev promotion shape (git-clone of a commit and a stage branch, git-clear,
kustomize-set-image, kustomize-build, git-commit, git-push) in-process against a local bare repository, and the
same job as a bash script with git, sed and kubectl kustomize. Prints medians and the processes each spawned;
exits non-zero when the steps cost more than the target over the script or spawn more processes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kargo_actions.promotion.registry import get_step
from kargo_actions.promotion.step_api import StepContext
from kargo_actions.promotion.steps.kustomize_build import kustomize_command

RUNS = 7
OVERHEAD_TARGET_S = 0.25

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook
spec:
  template:
    spec:
      containers:
      - name: guestbook
        image: ghcr.io/akuity/guestbook:latest
"""


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_origin(root: Path) -> tuple[Path, str]:
    origin = root / "origin.git"
    sh(root, "git", "init", "-q", "--bare", "-b", "main", str(origin))
    seed = root / "seed"
    sh(root, "git", "clone", "-q", str(origin), str(seed))
    (seed / "base").mkdir()
    (seed / "base/deploy.yaml").write_text(DEPLOY)
    (seed / "base/kustomization.yaml").write_text("resources:\n- deploy.yaml\n")
    (seed / "stages/dev").mkdir(parents=True)
    (seed / "stages/dev/kustomization.yaml").write_text(
        "namespace: dev\nresources:\n- ../../base\nimages:\n- name: ghcr.io/akuity/guestbook\n  newTag: v0.0.0\n"
    )
    sh(seed, "git", "add", "-A")
    sh(seed, "git", "commit", "-q", "-m", "seed")
    sh(seed, "git", "push", "-q", "origin", "main")
    sh(seed, "git", "checkout", "-q", "--orphan", "stage/dev")
    sh(seed, "git", "rm", "-rfq", ".")
    (seed / "manifests.yaml").write_text("old\n")
    sh(seed, "git", "add", "-A")
    sh(seed, "git", "commit", "-q", "-m", "stage")
    sh(seed, "git", "push", "-q", "origin", "stage/dev")
    return origin, sh(seed, "git", "rev-parse", "main").strip()


STEPS: list[tuple[str, dict[str, Any]]] = [
    (
        "git-clone",
        {"checkout": [{"commit": "{sha}", "path": "./src"}, {"branch": "stage/dev", "path": "./out"}]},
    ),
    ("git-clear", {"path": "./out"}),
    (
        "kustomize-set-image",
        {"path": "./src/stages/dev", "images": [{"image": "ghcr.io/akuity/guestbook", "tag": "{tag}"}]},
    ),
    ("kustomize-build", {"path": "./src/stages/dev", "outPath": "./out/manifests.yaml"}),
    ("git-commit", {"path": "./out", "message": "promote {tag}"}),
    ("git-push", {"path": "./out"}),
]


def fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    return value


class PopenCounter:
    """Counts the child processes the steps start."""

    def __init__(self) -> None:
        self.count = 0
        self.original = subprocess.Popen

    def __enter__(self) -> PopenCounter:
        counter = self

        class Counting(self.original):  # type: ignore[misc,name-defined]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                counter.count += 1
                super().__init__(*args, **kwargs)

        subprocess.Popen = Counting  # type: ignore[misc]
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.Popen = self.original  # type: ignore[misc]


def run_steps(
    work: Path, origin: Path, sha: str, tag: str, per_step: dict[str, list[float]]
) -> tuple[float, int]:
    ctx = StepContext(work_dir=work, env=dict(os.environ), promotion="dev.bench")
    names = {"sha": sha, "tag": tag}
    started = time.perf_counter()
    with PopenCounter() as counter:
        for name, config in STEPS:
            data = fill(config, names)
            if name == "git-clone":
                data["repoURL"] = str(origin)
            step = get_step(name)
            t0 = time.perf_counter()
            step.run(ctx, step.config_model.model_validate(data))
            per_step.setdefault(name, []).append(time.perf_counter() - t0)
    return time.perf_counter() - started, counter.count


SCRIPT = """\
set -euo pipefail
git clone -q --no-checkout "$URL" src
git -C src checkout -q "$SHA"
git clone -q --branch stage/dev "$URL" out
find out -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
sed -i "s/newTag: .*/newTag: $TAG/" src/stages/dev/kustomization.yaml
"$KUSTOMIZE" kustomize src/stages/dev > out/manifests.yaml
git -C out add -A
git -C out commit -q -m "promote $TAG"
git -C out push -q origin HEAD:stage/dev
"""
SCRIPT_PROCESSES = 9  # git x7, sed, kubectl (find and the shell itself not counted)


def run_script(work: Path, origin: Path, sha: str, tag: str) -> float:
    work.mkdir(parents=True)
    env = {**os.environ, "URL": str(origin), "SHA": sha, "TAG": tag, "KUSTOMIZE": kustomize_command()[0]}
    started = time.perf_counter()
    subprocess.run(["bash", "-c", SCRIPT], cwd=work, env=env, check=True)
    return time.perf_counter() - started


def main() -> int:
    env_identity = {
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    os.environ.update(env_identity)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        origin, sha = make_origin(root)
        per_step: dict[str, list[float]] = {}
        steps_times, script_times, processes = [], [], 0
        for run in range(RUNS):
            # Interleaved so that load on the shared machine hits both alike.
            elapsed, processes = run_steps(root / f"steps-{run}", origin, sha, f"v0.1.{run}", per_step)
            steps_times.append(elapsed)
            script_times.append(run_script(root / f"script-{run}", origin, sha, f"v0.2.{run}"))
    steps_median = statistics.median(steps_times)
    script_median = statistics.median(script_times)
    overhead = steps_median - script_median
    print(f"core steps, kargo-simple dev promotion shape, median of {RUNS} (2 shared cores, Python 3.11)")
    for name, times in per_step.items():
        print(f"  {name:22s} {statistics.median(times) * 1000:7.1f} ms")
    print(f"steps total              {steps_median * 1000:7.1f} ms  ({processes} processes)")
    print(f"shell script             {script_median * 1000:7.1f} ms  ({SCRIPT_PROCESSES} processes)")
    verdict = "ok" if overhead < OVERHEAD_TARGET_S else "MISSED"
    print(
        f"steps - script           {overhead * 1000:7.1f} ms  target < {OVERHEAD_TARGET_S * 1000:.0f} ms  {verdict}"
    )
    fewer = processes <= SCRIPT_PROCESSES
    print(
        f"processes                {processes} vs {SCRIPT_PROCESSES}  target: no more than the script  {'ok' if fewer else 'MISSED'}"
    )
    return 0 if overhead < OVERHEAD_TARGET_S and fewer else 1


if __name__ == "__main__":
    sys.exit(main())
