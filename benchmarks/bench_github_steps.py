"""GitHub steps and `github sync` against the local GitHub test server (unpaced, no contract checks):
git-open-pr with its rendered diff, github-push of N commits, git-merge-pr, and a sync plan/apply/plan.

Run: .venv/bin/python benchmarks/bench_github_steps.py
Prints seconds per operation and API requests made; exits non-zero when a target is missed. The targets are
for the product's own work (the server answers in well under a millisecond); GitHub adds its latency and the
client's pacing (1 s between writes) on top.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kargo_actions.github import sync  # noqa: E402
from kargo_actions.promotion.github_wanted import wanted_state  # noqa: E402
from kargo_actions.promotion.registry import get_step  # noqa: E402
from kargo_actions.promotion.step_api import StepContext, validate_config  # noqa: E402
from kargo_actions.promotion.steps.support import github_common  # noqa: E402
from tests.support.github_fixtures import FAST, REPOSITORY, TOKEN, client_for  # noqa: E402
from tests.support.github_server import ADMIN_PERMISSIONS, GitHubServer, serve_github  # noqa: E402

ROUNDS = 5
PUSH_COMMITS = 10
# The local server answers in ~40 ms (per request, whatever the work), so request counts drive these numbers.
TARGETS = {"open-pr": 1.0, "push": 4.0, "merge": 1.0, "sync": 2.0}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def run(name: str, ctx: StepContext, config: dict[str, Any]) -> Any:
    step = get_step(name)
    return step.run(ctx, validate_config(name, step.config_model, config))


def one_round(server: GitHubServer, work: Path, index: int) -> dict[str, float]:
    env = {**os.environ, "GITHUB_API_URL": server.url, "GITHUB_TOKEN": TOKEN}
    ctx = StepContext(work_dir=work, env=env, stage="prod", promotion=f"prod.{index}")
    url = server.clone_url(REPOSITORY)
    tree = work / "src"
    git(work, "clone", "-q", url, "src")
    branch = f"kargo/promotion/prod.{index}"
    git(tree, "checkout", "-q", "-b", branch)
    for i in range(PUSH_COMMITS):
        (tree / "env" / "prod").mkdir(parents=True, exist_ok=True)
        (tree / "env" / "prod" / f"part-{i}.yaml").write_text(
            "".join(f"k{j}: {index}-{i}\n" for j in range(200))
        )
        git(tree, "add", "-A")
        git(tree, "commit", "-q", "-m", f"render {i}")
    times: dict[str, float] = {}
    started = time.perf_counter()
    run("github-push", ctx, {"path": "src"})
    times["push"] = time.perf_counter() - started
    started = time.perf_counter()
    out = run("git-open-pr", ctx, {"repoURL": url, "sourceBranch": branch, "targetBranch": "main"})
    times["open-pr"] = time.perf_counter() - started
    started = time.perf_counter()
    run("git-merge-pr", ctx, {"repoURL": url, "prNumber": out.outputs["prNumber"]})
    times["merge"] = time.perf_counter() - started
    return times


def sync_round(server: GitHubServer, config_dir: Path) -> tuple[float, int]:
    from kargo_actions.manifests import load_project

    project = load_project(config_dir)
    admin = client_for(server, "ghs_admin", FAST)
    before = len(server.exchanges)
    started = time.perf_counter()
    for _ in range(2):  # plan + apply, then the plan that finds nothing
        plan = sync.plan_sync(admin, wanted_state(project, env={}))
        sync.apply_sync(admin, plan)
    return time.perf_counter() - started, len(server.exchanges) - before


def main() -> int:
    os.environ.update(
        {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com"}
        | {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}
    )
    github_common.CLIENT_OPTIONS = FAST
    results: dict[str, list[float]] = {k: [] for k in TARGETS}
    requests: list[int] = []
    with tempfile.TemporaryDirectory() as tmp, serve_github(Path(tmp) / "gh", git_http=True) as server:
        server.add_token(TOKEN)
        server.add_token("ghs_admin", ADMIN_PERMISSIONS, login="admin")
        server.add_repo(*REPOSITORY.split("/"))
        server.commit_files(REPOSITORY, "main", {"README.md": "app\n"})
        for index in range(ROUNDS):
            before = len(server.exchanges)
            work = Path(tmp) / f"work-{index}"
            work.mkdir()
            for key, value in one_round(server, work, index).items():
                results[key].append(value)
            requests.append(len(server.exchanges) - before)
        config_dir = ROOT / "examples" / "image-updater" / ".kargo"
        seconds, sync_requests = sync_round(server, config_dir)
        results["sync"].append(seconds)
        print(
            f"github sync plan+apply+plan on examples/image-updater: {seconds:.3f} s, {sync_requests} requests"
        )
    missed = []
    for key, values in results.items():
        if not values:
            continue
        median = statistics.median(values)
        print(f"{key:8s} median {median:.3f} s  max {max(values):.3f} s  (target {TARGETS[key]} s)")
        if median > TARGETS[key]:
            missed.append(key)
    print(
        f"API requests per push({PUSH_COMMITS} commits)+open+merge round: median {statistics.median(requests):.0f}\n"
    )
    if missed:
        print(f"missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
