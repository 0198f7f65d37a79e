"""GitHub layer costs: client import, OpenAPI contract load and per-exchange check, a promotion PR round trip.

Run: .venv/bin/python benchmarks/bench_github.py   (needs scripts/fetch-github-openapi.sh to have run)
Exits non-zero when a target is missed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.github_contract import GitHubContract, ensure_spec  # noqa: E402
from tests.support.github_fixtures import FAST, REPOSITORY, TOKEN, client_for  # noqa: E402
from tests.support.github_server import serve_github  # noqa: E402

ROUNDS = 20
TARGETS = {"import": 1.0, "load": 2.0, "check": 0.02, "round": 1.0}


def main() -> int:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com"}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}
    os.environ.update(env)
    code = "import time; t = time.perf_counter(); import kargo_actions.github.client; print(time.perf_counter() - t)"
    imports = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(5)
    ]
    spec = ensure_spec()
    if spec is None:
        print("GitHub's OpenAPI description is missing: run scripts/fetch-github-openapi.sh", file=sys.stderr)
        return 1
    started = time.perf_counter()
    contract = GitHubContract(spec)
    load = time.perf_counter() - started

    checks: list[float] = []
    rounds: list[float] = []
    requests_per_round = 0
    with tempfile.TemporaryDirectory() as tmp, serve_github(Path(tmp)) as server:
        problems: list[str] = []

        def check(exchange: object) -> None:
            t = time.perf_counter()
            problems.extend(contract.problems(exchange))  # type: ignore[arg-type]
            checks.append(time.perf_counter() - t)

        server.on_exchange = check
        server.add_token(TOKEN)
        server.add_repo(*REPOSITORY.split("/"))
        server.commit_files(REPOSITORY, "main", {"app.yaml": "image: v0\n"})
        client = client_for(server, options=FAST)
        for n in range(ROUNDS):
            branch = f"promote/{n}"
            server.commit_files(REPOSITORY, branch, {"app.yaml": f"image: v{n + 1}\n"})
            before = len(server.exchanges)
            t = time.perf_counter()
            pr = client.open_pull_request(
                title=f"Promote v{n + 1}", head=branch, base="main", labels=["kargo"]
            )
            client.set_gate_status(pr.head_sha, state="success", description="available")
            client.merge_pull_request(pr.number, timeout=10)
            rounds.append(time.perf_counter() - t)
            requests_per_round = len(server.exchanges) - before
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1

    warm = sorted(checks)[len(checks) // 10 :]  # the first check of each operation compiles its schemas
    results = {
        "import": statistics.median(imports),
        "load": load,
        "check": statistics.median(warm),
        "round": statistics.median(rounds),
    }
    labels = {
        "import": "import kargo_actions.github.client (PyGithub)",
        "load": "load api.github.com.json into openapi-core",
        "check": "contract check of one exchange (median, warm)",
        "round": f"promotion PR round trip: open+label, gate status, wait, merge ({requests_per_round} requests)",
    }
    failed = False
    for key, value in results.items():
        ok = value < TARGETS[key]
        failed |= not ok
        print(
            f"{labels[key]:<82} {value * 1000:8.1f} ms  target < {TARGETS[key] * 1000:.0f} ms  {'ok' if ok else 'MISSED'}"
        )
    print(f"{len(checks)} exchanges checked, slowest {max(checks) * 1000:.1f} ms")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
