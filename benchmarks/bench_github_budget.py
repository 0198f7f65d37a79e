"""The GitHub API budget: requests charged against the token's rate limit per promotion, per discovery
and per pull-request poll, counted by the tests' GitHub server (a 304 Not Modified is free, as on GitHub),
and what a pipeline of 40 Stages promoting hourly spends of GITHUB_TOKEN's 1,000 requests per hour.

A promotion is measured both ways Settings `deployments` allows: the promote job's environment makes the
Deployment (`job`, KARGO_ACTIONS_DEPLOYMENTS=job as the generated job sets it; the default when no
promotion can wait) or the promotion makes its own (`promotion`).

Run: .venv/bin/python benchmarks/bench_github_budget.py
Exits non-zero when the default 40-Stage hour needs a tenth of the budget (100 requests) or more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_promote_github import manifests  # noqa: E402

from kargo_actions.ledger import Ledger, LedgerConfig  # noqa: E402
from kargo_actions.manifests import load_project  # noqa: E402
from kargo_actions.promotion.github_reporting import GitHubReporter  # noqa: E402
from kargo_actions.promotion.service import PromoteOptions, promote  # noqa: E402
from tests.ledger.helpers import git, make_freight, make_repo  # noqa: E402
from tests.support.github_fixtures import FAST, REPOSITORY, TOKEN, client_for  # noqa: E402
from tests.support.github_server import GitHubServer, serve_github  # noqa: E402

BUDGET = 1000  # GITHUB_TOKEN: requests per hour per repository
STAGES = 40
POLLS = 20  # a pull request waited on for 20 polls before it is merged
ROUNDS = 4


def charged(server: GitHubServer, since: int) -> int:
    return sum(1 for e in server.exchanges[since:] if e.status != 304)


def per_promotion(server: GitHubServer, tmp: Path, deployments: str) -> float:
    """A direct promotion reported to GitHub (kargo/verified; with `promotion`, the Deployment and its two
    statuses too), one job each."""
    repo = make_repo(tmp / f"repo-{deployments}", server.repo(REPOSITORY).path)
    (repo / ".kargo").mkdir()
    for i, doc in enumerate(manifests()):
        (repo / ".kargo" / f"{i}.yaml").write_text(json.dumps(doc))
    git(repo, "config", "user.name", "bench")
    env = {
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "1",
        "GITHUB_API_URL": server.url,
        "KARGO_ACTIONS_DEPLOYMENTS": deployments,
    }
    project = load_project(repo / ".kargo")
    before = len(server.exchanges)
    with Ledger(repo, LedgerConfig()) as ledger:
        ids = [ledger.record_freight(make_freight(n, alias=f"f-{n}")).freight.name for n in (1, 2)]
        for i in range(ROUNDS):
            reporter = GitHubReporter(env, options=FAST, echo=lambda *_: None)  # a new job each time
            outcome = promote(project, ledger, "dev", ids[i % 2], options=PromoteOptions(reporter=reporter))
            assert outcome.succeeded, outcome.result.message
    return charged(server, before) / ROUNDS


def per_dispatch(server: GitHubServer, run_details: bool = True) -> float:
    """An auto-promotion: `workflows dispatch` of kargo-promote.yml for one Stage (run_details False: a server
    from before `return_run_details`, which answers 204)."""
    name = "kargo-promote.yml" if run_details else "kargo-promote-old.yml"
    workflow = server.add_workflow(REPOSITORY, f".github/workflows/{name}", "kargo-promote")
    workflow.returns_run_details = run_details
    before = len(server.exchanges)
    for _ in range(ROUNDS):
        client_for(server).dispatch_workflow(name, ref="main", inputs={"stage": "dev"})
    return charged(server, before) / ROUNDS


def per_discovery(server: GitHubServer, tmp: Path) -> int:
    """`discover` of a Warehouse watching the server's own git repository: git and registries, no API."""
    repo = make_repo(tmp / "pipeline")
    (repo / ".kargo").mkdir()
    warehouse = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Warehouse",
        "metadata": {"name": "config"},
        "spec": {"subscriptions": [{"git": {"repoURL": server.clone_url(REPOSITORY), "branch": "main"}}]},
    }
    (repo / ".kargo" / "w.yaml").write_text(json.dumps(warehouse))
    env = {**os.environ, "GITHUB_API_URL": server.url, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPOSITORY}
    before = len(server.exchanges)
    done = subprocess.run(
        [sys.executable, "-m", "kargo_actions", "--repo", str(repo), "--output", "json", "discover"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"], done.stdout
    return charged(server, before)


def pull_request_polls(server: GitHubServer, conditional: bool) -> int:
    """Requests charged while `git-wait-for-pr` polls an open pull request POLLS times, then it merges."""
    server.commit_files(REPOSITORY, "main", {"README.md": "hello\n"})
    branch = f"promote/dev-{conditional}"
    server.commit_files(REPOSITORY, branch, {"app.yaml": f"v: {conditional}\n"})
    client = client_for(server)
    if not conditional:
        client.etags = None
    pr = client.open_pull_request(title="Promote", head=branch, base="main")
    before = len(server.exchanges)
    for _ in range(POLLS):
        client.get_pull_request(pr.number)
    return charged(server, before)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KARGO_ACTIONS_CACHE"] = str(Path(tmp) / "cache")
        with serve_github(Path(tmp) / "gh-own", git_http=True) as server:  # a repository of its own
            server.add_token(TOKEN)
            server.add_repo(*REPOSITORY.split("/"))
            own = per_promotion(server, Path(tmp), "promotion")
        with serve_github(Path(tmp) / "gh", git_http=True) as server:
            server.add_token(TOKEN)
            server.add_repo(*REPOSITORY.split("/"))
            job = per_promotion(server, Path(tmp), "job")
            dispatch = per_dispatch(server)
            old_dispatch = per_dispatch(server, run_details=False)
            discovery = per_discovery(server, Path(tmp))
            with_etags = pull_request_polls(server, conditional=True)
            without = pull_request_polls(server, conditional=False)
    print(f"per promotion, the job's environment makes the Deployment (kargo/verified): {job:.1f} requests")
    print(
        f"per promotion making its own Deployment (Deployment, 2 statuses, kargo/verified): {own:.1f} requests"
    )
    print(
        f"per auto-promotion dispatch: {dispatch:.1f} requests ({old_dispatch:.1f} where the dispatch answers 204)"
    )
    print(f"per discovery: {discovery} requests (git and registries only)")
    print(f"{POLLS} polls of an open pull request: {with_etags} charged with ETags, {without} without")
    hours = {"job": 0.0, "promotion": 0.0}
    for mode, promotion in (("job", job), ("promotion", own)):
        hours[mode] = STAGES * (promotion + dispatch) + 12 * discovery  # discovery every 5 minutes
        print(
            f"{STAGES} Stages promoting hourly, discovery every 5 min, deployments: {mode}: "
            f"{hours[mode]:.0f} requests/hour = {hours[mode] / BUDGET:.1%} of {BUDGET} (target < 10%)"
        )
    return 0 if hours["job"] < BUDGET / 10 else 1


if __name__ == "__main__":
    sys.exit(main())
