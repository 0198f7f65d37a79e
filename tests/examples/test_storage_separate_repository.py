"""storage-separate-repository: promotions render into <stage>/ of guestbook-deploy's main; the watched
repository gains no commit from them."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example
from tests.support.git_http_server import git

DEPLOY = "guestbook-deploy.git"
PROD = "stages/prod/kustomization.yaml"


def test_storage_separate_repository(example: Callable[[str], Example]) -> None:
    ex = example("storage-separate-repository")
    first = ex.head()
    (freight,) = ex.discover()
    ex.ok("promote", "--auto")
    ex.ok("promote", "--stage", "prod", "--warehouse", "guestbook")
    assert ex.head() == first
    assert git(ex.bare(DEPLOY), "ls-tree", "-r", "--name-only", "main").split() == [
        "README.md",
        "prod/manifests.yaml",
        "test/manifests.yaml",
        "uat/manifests.yaml",
    ]
    for stage in ("test", "uat", "prod"):
        manifests = ex.remote_file("main", f"{stage}/manifests.yaml", repository=DEPLOY)
        assert f"namespace: guestbook-{stage}" in manifests

    # a change for prod alone: test and uat render the same output (no commit), prod a new one
    overlay = ex.remote_file("main", PROD) + "commonLabels:\n  tier: production\n"
    second = ex.commit({PROD: overlay}, "prod: label its resources")
    (newer,) = ex.discover()
    ex.ok("promote", "--auto")
    ex.ok("promote", "--stage", "prod", "--warehouse", "guestbook")
    assert ex.current("prod") == [newer]
    assert ex.current("test") == [newer]
    assert newer != freight
    assert ex.head() == second
    assert ex.remote_log(repository=DEPLOY) == [
        f"prod: render storage-separate-repository at {second}",
        *(f"{stage}: render storage-separate-repository at {first}" for stage in ("prod", "uat", "test")),
        "initial commit",
    ]
    assert "tier: production" in ex.remote_file("main", "prod/manifests.yaml", repository=DEPLOY)
