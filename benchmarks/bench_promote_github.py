"""What reporting to GitHub adds to a promotion: `promote` of a one-step Stage against the local GitHub test
server (its bare repository is the pipeline's remote), without reporting, reporting unpaced (the product's
own work) and reporting with the client's default pacing (1 s between writes, as GitHub asks), plus the
import of the GitHub reporter (paid only when reporting).

Run: .venv/bin/python benchmarks/bench_promote_github.py
Prints seconds per promotion and API requests per promotion; exits non-zero when a target is missed.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kargo_actions.github.client import ClientOptions  # noqa: E402
from kargo_actions.ledger import Ledger, LedgerConfig  # noqa: E402
from kargo_actions.manifests import load_project  # noqa: E402
from kargo_actions.promotion.github_reporting import CLIENT_OPTIONS, GitHubReporter  # noqa: E402
from kargo_actions.promotion.reporting import Reporter  # noqa: E402
from kargo_actions.promotion.service import PromoteOptions, promote  # noqa: E402
from tests.ledger.helpers import git, make_freight, make_repo  # noqa: E402
from tests.support.github_fixtures import FAST, REPOSITORY, TOKEN  # noqa: E402
from tests.support.github_server import GitHubServer, serve_github  # noqa: E402

ROUNDS = 6
# unpaced reporting: 5 requests to a local server; paced: GitHub's 1 s between writes is most of it
TARGETS = {"overhead unpaced": 0.5, "import reporter": 1.0}


def manifests() -> list[dict[str, object]]:
    stage = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": "dev"},
        "spec": {
            "requestedFreight": [
                {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
            ],
            "promotionTemplate": {
                "spec": {
                    "steps": [{"uses": "compose-output", "as": "out", "config": {"s": "${{ ctx.stage }}"}}]
                }
            },
        },
    }
    warehouse = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Warehouse",
        "metadata": {"name": "app"},
        "spec": {"subscriptions": [{"image": {"repoURL": "ghcr.io/example/app"}}]},
    }
    return [
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "p"}},
        warehouse,
        stage,
    ]


def promotions(server: GitHubServer, repo: Path, reporter: Reporter) -> list[float]:
    project = load_project(repo / ".kargo")
    times: list[float] = []
    with Ledger(repo, LedgerConfig()) as ledger:
        ids = [ledger.record_freight(make_freight(n, alias=f"f-{n}")).freight.name for n in (1, 2)]
        for i in range(ROUNDS):
            start = time.perf_counter()
            outcome = promote(project, ledger, "dev", ids[i % 2], options=PromoteOptions(reporter=reporter))
            times.append(time.perf_counter() - start)
            assert outcome.succeeded, outcome.result.message
    return times


def import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import kargo_actions.promotion.github_reporting; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip())


def main() -> int:
    env = {
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "1",
    }
    results: dict[str, float] = {}
    requests: dict[str, float] = {}
    cases: list[tuple[str, ClientOptions | None]] = [
        ("none", None),
        ("unpaced", FAST),
        ("paced", CLIENT_OPTIONS),
    ]
    for name, options in cases:
        with tempfile.TemporaryDirectory() as tmp, serve_github(Path(tmp) / "gh") as server:
            server.add_token(TOKEN)
            bare = server.add_repo(*REPOSITORY.split("/")).path
            repo = make_repo(Path(tmp) / "repo", bare)
            (repo / ".kargo").mkdir()
            for i, doc in enumerate(manifests()):
                (repo / ".kargo" / f"{i}.yaml").write_text(json.dumps(doc))
            git(repo, "config", "user.name", "bench")
            reporter = (
                Reporter()
                if options is None
                else GitHubReporter({**env, "GITHUB_API_URL": server.url}, options=options, echo=print)
            )
            times = promotions(server, repo, reporter)
            results[name] = statistics.median(times)
            requests[name] = len(server.exchanges) / ROUNDS
    results["overhead unpaced"] = results["unpaced"] - results["none"]
    results["overhead paced"] = results["paced"] - results["none"]
    results["import reporter"] = import_seconds()
    for name in ("none", "unpaced", "paced"):
        print(
            f"promote, reporting {name:8s}: {results[name]:.3f} s median of {ROUNDS}, {requests[name]:.1f} requests each"
        )
    for name in ("overhead unpaced", "overhead paced", "import reporter"):
        target = TARGETS.get(name)
        print(f"{name:17s}: {results[name]:.3f} s" + (f" (target < {target} s)" if target else ""))
    missed = [n for n, t in TARGETS.items() if results[n] >= t]
    if missed:
        print("missed: " + ", ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
