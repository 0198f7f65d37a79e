"""ordered-services: the back end reaches test before the front end (alternating Stages), and prod syncs
its two Argo CD Applications one after the other, the back end healthy first (Argo CD test server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.examples.harness import Example
from tests.support.argocd_server import ArgoCDServer, SyncScript, application, serve_argocd
from tests.support.git_http_server import git

BACKEND, FRONTEND = "ghcr.io/example/backend", "ghcr.io/example/frontend"
APPS = {
    "backend-test": "test-backend",
    "frontend-test": "test-frontend",
    "backend-prod": "prod",
    "frontend-prod": "prod",
}


@pytest.fixture
def argocd() -> Iterator[ArgoCDServer]:
    with serve_argocd() as server:
        yield server


def _tag(ex: Example, service: str, env: str) -> str | None:
    text = ex.remote_file("main", f"{service}/stages/{env}/kustomization.yaml")
    return next((line.split(":", 1)[1].strip() for line in text.splitlines() if "newTag" in line), None)


def test_ordered_services(example: Callable[[str], Example], argocd: ArgoCDServer) -> None:
    ex = example("ordered-services")
    repo_url = ex.local("https://github.com/example/ordered-services.git")
    for app, stage in APPS.items():  # what argocd/applications.yaml generates
        argocd.add(
            application(app, repo_url=repo_url, authorized_stage=f"ordered-services:{stage}"),
            SyncScript(polls=2, health_polls=2),
        )
    ex.use_argocd(argocd.env())
    ex.push_image(BACKEND, "1.0.0")
    ex.push_image(FRONTEND, "1.0.0")
    [freight] = ex.discover()

    # test-backend drops off the back end alone; test-frontend, fed by it, then the front end
    ex.ok("promote", "--auto", "--stage", "test-backend", "-q")
    assert (_tag(ex, "backend", "test"), _tag(ex, "frontend", "test")) == ("1.0.0", None)
    assert argocd.app("backend-test")["status"]["sync"]["revision"] == ex.head()
    assert argocd.calls("POST", "frontend-test/sync") == []
    ex.ok("promote", "--auto", "--stage", "test-frontend", "-q")
    assert _tag(ex, "frontend", "test") == "1.0.0"
    assert argocd.app("frontend-test")["status"]["sync"]["revision"] == ex.head()

    # prod: one commit for both, then the back end synced and healthy before the front end's sync starts
    argocd.exchanges.clear()
    ex.ok("promote", "--stage", "prod", "--warehouse", "shop", "-q")
    assert ex.current("prod") == [freight]
    pushed = ex.head()
    assert ex.remote_log()[0] == "backend 1.0.0 and frontend 1.0.0 to prod"
    assert git(ex.bare(), "show", "--format=", "--name-only", pushed).split() == [
        "backend/stages/prod/kustomization.yaml",
        "frontend/stages/prod/kustomization.yaml",
    ]
    syncs = [e.path.rsplit("/", 2)[-2] for e in argocd.calls("POST", "/sync")]
    assert syncs == ["backend-prod", "frontend-prod"]
    order = [(e.method, e.path.split("/applications/")[-1]) for e in argocd.exchanges]
    first_frontend = order.index(("POST", "frontend-prod/sync"))
    backend_reads = [i for i, (m, p) in enumerate(order) if m == "GET" and p.startswith("backend-prod")]
    assert backend_reads
    assert max(backend_reads) < first_frontend  # the back end was watched to Healthy first
    for app in ("backend-prod", "frontend-prod"):
        status = argocd.app(app)["status"]
        assert (status["sync"]["revision"], status["health"]["status"]) == (pushed, "Healthy")
    history = ex.json("history", "--stage", "prod")[0]
    steps = [s["alias"].split("::")[-1] for s in history["steps"] if s["uses"] == "argocd-update"]
    assert steps == ["sync-backend", "sync-frontend"]
