"""The cluster diff of a promotion PR from the Argo CD test server (every exchange checked against swagger.json):
the Applications that authorize the Stage, server-side-diff with the manifests the pull request changes,
managed-resources without them, an Argo CD that refuses; the PR body's collapsible blocks cut under
GitHub's 65,536 characters with a note."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.argocd.client import AppRef, ArgoCDClient, Connection
from kargo_actions.argocd.diff import cluster_diff, resource_changes, stage_apps
from kargo_actions.github.prbody import ClusterAppDiff, RenderedDiff, promotion_body
from kargo_actions.github.text import BODY_LIMIT
from kargo_actions.promotion.step_api import StepContext
from kargo_actions.promotion.steps.support.cluster_diff import pr_cluster_diff
from tests.support.argocd_server import ArgoCDServer, application, serve_argocd


def deployment(image: str, replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop-prod", "resourceVersion": "7", "uid": "u-1"},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "web", "image": image}]}},
        },
    }


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop-prod"}}


def client_for(server: ArgoCDServer) -> ArgoCDClient:
    return ArgoCDClient(Connection.from_env(server.env()))


@pytest.fixture
def server() -> Any:
    with serve_argocd() as s:
        s.add(application("shop-prod", authorized_stage="shop:prod"))
        s.add(application("shop-dev", authorized_stage="shop:dev"))
        s.add(application("other"))
        s.set_resources("shop-prod", [deployment("ghcr.io/example/shop:1.0.0"), SERVICE])
        yield s


def test_the_stage_apps_are_those_that_authorize_it(server: ArgoCDServer) -> None:
    with client_for(server) as client:
        assert stage_apps(client, "shop", "prod") == [AppRef("shop-prod", "argocd")]
        assert stage_apps(client, "shop", "qa") == []


def test_server_side_diff_with_the_pull_requests_manifests(server: ArgoCDServer) -> None:
    wanted = deployment("ghcr.io/example/shop:1.1.0", replicas=3)
    with client_for(server) as client:
        (diff,) = cluster_diff(client, [AppRef("shop-prod")], [wanted])
    assert diff.source == "server-side-diff"
    assert diff.error == ""
    (change,) = diff.changes
    assert change.label == "Deployment shop-prod/web"
    assert "-      - image: ghcr.io/example/shop:1.0.0" in change.diff
    assert "+      - image: ghcr.io/example/shop:1.1.0" in change.diff
    assert "-  replicas: 2" in change.diff
    assert "+  replicas: 3" in change.diff
    assert "resourceVersion" not in change.diff  # noise of the live object is left out
    (call,) = server.calls("GET", "/server-side-diff")
    assert "targetManifests=" in call.query


def test_managed_resources_without_manifests(server: ArgoCDServer) -> None:
    server.set_resources(
        "shop-prod",
        [deployment("ghcr.io/example/shop:1.0.0")],
        [deployment("ghcr.io/example/shop:2.0.0"), SERVICE],
    )
    with client_for(server) as client:
        (diff,) = cluster_diff(client, [AppRef("shop-prod")], [])
    assert diff.source == "managed-resources"
    labels = [c.label for c in diff.changes]
    assert labels == ["Deployment shop-prod/web", "Service shop-prod/web"]
    service = diff.changes[1].diff
    assert "+kind: Service" in service  # new in the target: the whole object is added
    assert not server.calls("GET", "/server-side-diff")


def test_an_unknown_app_carries_its_error(server: ArgoCDServer) -> None:
    with client_for(server) as client:
        (diff,) = cluster_diff(client, [AppRef("gone")], [deployment("x:1")])
    assert diff.changes == ()
    assert "404" in diff.error


def test_unchanged_resources_are_left_out() -> None:
    same = '{"kind": "Service", "metadata": {"name": "a"}}'
    items = [{"kind": "Service", "name": "a", "liveState": same, "targetState": same}]
    assert resource_changes(items) == []


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e"}  # fmt: skip
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_the_step_diffs_the_files_the_pull_request_changes(server: ArgoCDServer, tmp_path: Path) -> None:
    import yaml  # type: ignore[import-untyped]

    tree = tmp_path / "out"
    tree.mkdir()
    git(tree, "init", "-q", "-b", "main")
    (tree / "web.yaml").write_text(yaml.safe_dump_all([deployment("ghcr.io/example/shop:1.0.0"), SERVICE]))
    (tree / "README.md").write_text("not a manifest\n")
    git(tree, "add", ".")
    git(tree, "commit", "-q", "-m", "base")
    base = git(tree, "rev-parse", "HEAD")
    (tree / "web.yaml").write_text(yaml.safe_dump_all([deployment("ghcr.io/example/shop:1.2.0"), SERVICE]))
    git(tree, "commit", "-qam", "promote")
    head = git(tree, "rev-parse", "HEAD")
    ctx = StepContext(work_dir=tmp_path, project="shop", stage="prod", env={**os.environ, **server.env()})
    (app,) = pr_cluster_diff(ctx, tree, base, head) or []
    assert app.app == "argocd/shop-prod"
    assert app.source == "server-side-diff"
    assert [label for label, _ in app.resources] == ["Deployment shop-prod/web"]
    assert "+      - image: ghcr.io/example/shop:1.2.0" in app.resources[0][1]
    without = StepContext(work_dir=tmp_path, project="shop", stage="prod", env={})
    assert pr_cluster_diff(without, tree, base, head) is None  # no Argo CD: the rendered diff, as before
    nobody = StepContext(work_dir=tmp_path, project="shop", stage="qa", env=server.env())
    (note,) = pr_cluster_diff(nobody, tree, base, head) or []
    assert "kargo.akuity.io/authorized-stage: shop:qa" in note.error


def test_the_body_shows_collapsible_blocks_instead_of_the_rendered_diff() -> None:
    cluster = [
        ClusterAppDiff("argocd/shop-prod", (("Deployment shop-prod/web", "-a\n+b\n"),), "server-side-diff"),
        ClusterAppDiff("argocd/shop-eu", ()),
        ClusterAppDiff("argocd/broken", error="403 Forbidden"),
    ]
    rendered = RenderedDiff(stat=" a.yaml | 2 +-\n", patch="-old\n+new\n")
    body = promotion_body(stage="prod", freight=None, rendered=rendered, cluster=cluster)
    assert "### Cluster diff (Argo CD)" in body
    assert (
        "<details><summary><code>argocd/shop-prod</code>: 1 resource(s) change (server-side-diff)</summary>"
        in body
    )
    assert "```diff\n-a\n+b\n```" in body
    assert "`argocd/shop-eu`: no change in the cluster" in body
    assert "`argocd/broken`: no diff from Argo CD (403 Forbidden)" in body
    assert "### Rendered changes" not in body
    plain = promotion_body(stage="prod", freight=None, rendered=rendered)
    assert "### Rendered changes" in plain
    assert "Cluster diff" not in plain


def test_a_huge_cluster_diff_is_cut_under_the_limit_with_a_note() -> None:
    big = "".join(f"-line {i}\n+line {i} changed\n" for i in range(5000))
    cluster = [ClusterAppDiff(f"argocd/app-{n}", ((f"Deployment web-{n}", big),)) for n in range(3)]
    body = promotion_body(stage="prod", freight=None, cluster=cluster)
    assert len(body) < BODY_LIMIT
    assert "The cluster diff is cut to keep this description within GitHub's 65,536-character limit" in body
    text = body.split("> [!NOTE]")[0]
    assert text.count("```") % 2 == 0
    assert text.count("<details>") == text.count("</details>")
