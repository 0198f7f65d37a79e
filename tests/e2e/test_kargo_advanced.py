"""kargo-advanced and kargo-quickstart-template end to end: rendered branches, control-flow prod, gates.

kargo-advanced's `argocd-update` steps run against the Argo CD test server (tests/support/argocd_server.py,
checked against Argo CD's swagger.json); the quickstart's are skipped with `--skip-step argocd-update` (the
engine's skip_steps: status Skipped, recorded). Verification (ab-test-a/b) is left to a separate `verify` (`--no-verify`; it is run in
tests/verification), so those Stages stay "promoted, not yet verified" and the control-flow prod refuses
their Freight, which this test asserts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import shared_path
from tests.discovery.registry_server import Registry
from tests.e2e.pipeline import Pipeline, build_pipeline
from tests.support.argocd_server import ArgoCDServer, SyncScript, application, serve_argocd
from tests.support.git_http_server import GitHttpServer, git

SKIP = ("--skip-step", "argocd-update", "--no-verify", "-q")
NO_VERIFY = ("--no-verify", "-q")


@pytest.fixture
def argocd() -> Iterator[ArgoCDServer]:
    with serve_argocd() as server:
        yield server


def add_apps(argocd: ArgoCDServer, repo_url: str) -> None:
    """The example's ApplicationSet, generated: guestbook-<stage> on env/<stage>, authorizing its Stage."""
    for stage in ("dev", "staging", "ab-test-a", "ab-test-b", "prod-west", "prod-central", "prod-east"):
        app = application(
            f"guestbook-{stage}",
            repo_url=repo_url,
            target_revision=f"env/{stage}",
            authorized_stage=f"kargo-advanced:{stage}",
        )
        argocd.add(app, SyncScript(polls=2, health_polls=1))


def test_kargo_advanced(
    tmp_path: Path, git_server: GitHttpServer, registry: tuple[Registry, dict[str, str]], argocd: ArgoCDServer
) -> None:
    reg, digests = registry
    p: Pipeline = build_pipeline(
        shared_path("kargo-examples/kargo-advanced"),
        tmp_path,
        git_server,
        reg,
        digests,
        name="kargo-advanced",
        repo_urls=("https://github.com/akuity/kargo-advanced.git",),
        image="ghcr.io/akuity/guestbook",
    )
    v3 = p.record_discovered("v0.0.3", "2026-01-01T00:00:03Z", commit=True)
    # with no Argo CD to talk to, argocd-update fails the promotion and says what is missing
    code, out, err = p.run("promote", "--stage", "dev", "--freight", "v0-0-3", *NO_VERIFY)
    assert code == 1, err
    assert "ARGOCD_SERVER: is not set" in p.json("history", "--stage", "dev")[0]["message"]
    # the pipeline's repoURL points at the local git server, as the apps' sources do
    add_apps(argocd, p.repo_url)
    p.env.update({**argocd.env(), "KARGO_ACTIONS_ARGOCD_POLL_INTERVAL": "20ms"})
    tree = p.server.root / "kargo-advanced"
    for stage in ("dev", "staging", "ab-test-a", "ab-test-b"):
        code, out, err = p.run("promote", "--stage", stage, "--freight", "v0-0-3", *NO_VERIFY)
        assert code == 0, (stage, err, out)
        # the app was synced to the commit the promotion pushed, and is healthy there
        app = argocd.app(f"guestbook-{stage}")
        pushed = git(tree, "rev-parse", f"env/{stage}").strip()
        assert app["status"]["sync"] == {"status": "Synced", "revision": pushed}
        assert app["status"]["health"]["status"] == "Healthy"
        files = git(tree, "ls-tree", "--name-only", f"env/{stage}").split()
        manifests = "".join(git(tree, "show", f"env/{stage}:{name}") for name in files)
        assert f"image: {p.image}:v0.0.3" in manifests, files
        assert git(tree, "log", "-1", "--format=%s", f"env/{stage}").strip() == (
            f"Updated ./src/env/{stage} to use new image"
        )
    history = p.json("history", "--stage", "dev")
    assert history[0]["steps"][-1] == {
        **history[0]["steps"][-1],
        "uses": "argocd-update",
        "status": "Succeeded",
    }
    status = {row["stage"]: row for row in p.json("status")}
    assert status["ab-test-a"]["verified"] is False  # verification defined: promoted, not yet verified
    assert status["staging"]["verified"] is True
    assert status["prod"]["controlFlow"] is True
    code, _, err = p.run("promote", "--stage", "prod-west", "--freight", "v0-0-3", *NO_VERIFY)
    assert code == 3
    assert "not verified in prod" in err
    code, _, err = p.run("promote", "--stage", "prod", "--freight", "v0-0-3")
    assert code == 2
    assert "control-flow Stage" in err
    # an approval for prod-west skips the upstream verification
    assert p.run("approve", "--freight", v3[:12], "--stage", "prod-west")[0] == 0
    code, _, err = p.run("promote", "--stage", "prod-west", "--freight", "v0-0-3", *NO_VERIFY)
    assert code == 0, err
    pushed = git(tree, "rev-parse", "env/prod-west").strip()
    assert argocd.app("guestbook-prod-west")["status"]["sync"]["revision"] == pushed
    assert argocd.calls("POST", "guestbook-prod-central/sync") == []  # only the promoted Stage's app
    state = json.loads(p.remote_file("kargo/ledger", "stages/prod-west.json"))
    assert state["currentFreight"][0]["name"] == v3


def test_kargo_quickstart(
    tmp_path: Path, git_server: GitHttpServer, registry: tuple[Registry, dict[str, str]]
) -> None:
    reg, digests = registry
    p = build_pipeline(
        shared_path("kargo-examples/kargo-quickstart-template"),
        tmp_path,
        git_server,
        reg,
        digests,
        name="kargo-quickstart",
        repo_urls=("https://github.com/example/kargo-quickstart",),
        image="ghcr.io/example/guestbook",
    )
    p.record_discovered("v0.0.4", "2026-01-01T00:00:04Z")
    for stage in ("dev", "staging", "prod"):
        code, _out, err = p.run("promote", "--stage", stage, "--freight", "v0-0-4", *SKIP)
        assert code == 0, (stage, err)
        rendered = p.remote_file(f"env/{stage}", "manifests.yaml")
        assert f"image: {p.image}:v0.0.4" in rendered
        assert f"namespace: guestbook-simple-{stage}" in rendered
        assert p.remote_log(f"env/{stage}")[0] == f"Updated ./src/app/env/{stage} to use new image"
    status = [row["stage"] for row in p.json("status")]
    assert status == ["dev", "staging", "prod"]
