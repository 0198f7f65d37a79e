"""pseudo-gitops: a promotion sets the Freight's image as a Kustomize override on its Stage's Argo CD
Application and syncs it (Argo CD test server); git gains no commit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.examples.harness import Example
from tests.support.argocd_server import ArgoCDServer, SyncScript, application, serve_argocd

IMAGE = "ghcr.io/example/guestbook"


@pytest.fixture
def argocd() -> Iterator[ArgoCDServer]:
    with serve_argocd() as server:
        yield server


def _images(argocd: ArgoCDServer, stage: str) -> list[str]:
    source = argocd.app(f"guestbook-{stage}")["spec"]["source"]
    return list(source.get("kustomize", {}).get("images", []))


def test_pseudo_gitops(example: Callable[[str], Example], argocd: ArgoCDServer) -> None:
    ex = example("pseudo-gitops")
    repo_url = ex.local("https://github.com/example/pseudo-gitops.git")
    for stage in ("test", "prod"):  # what argocd/applications.yaml generates
        app = application(f"guestbook-{stage}", repo_url=repo_url, authorized_stage=f"pseudo-gitops:{stage}")
        app["spec"]["source"]["path"] = f"stages/{stage}"
        argocd.add(app, SyncScript(polls=1, health_polls=1))
    ex.use_argocd(argocd.env())
    main = ex.head()

    ex.push_image(IMAGE, "1.0.0")
    (first,) = ex.discover()
    ex.ok("promote", "--auto")
    assert _images(argocd, "test") == [f"{ex.local(IMAGE)}:1.0.0"]
    assert _images(argocd, "prod") == []
    assert argocd.calls("POST", "guestbook-prod/sync") == []

    ex.ok("promote", "--stage", "prod", "--warehouse", "guestbook")
    ex.push_image(IMAGE, "1.1.0")
    (second,) = ex.discover()
    ex.ok("promote", "--auto")
    assert _images(argocd, "test") == [f"{ex.local(IMAGE)}:1.1.0"]
    assert _images(argocd, "prod") == [f"{ex.local(IMAGE)}:1.0.0"]
    assert ex.current("test") == [second]
    assert ex.current("prod") == [first]
    for stage in ("test", "prod"):
        status = argocd.app(f"guestbook-{stage}")["status"]
        assert status["health"]["status"] == "Healthy"
        assert status["sync"]["status"] == "Synced"
        assert argocd.app(f"guestbook-{stage}")["spec"]["source"]["path"] == f"stages/{stage}"
    assert ex.head() == main
    assert sorted(ex.remote_branches()) == ["kargo/ledger", "main"]
