"""storage-stage-branches: each Stage's rendered manifests replace the content of its own branch; main
gains no commit from promotions."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example
from tests.support.git_http_server import git

IMAGE = "ghcr.io/example/guestbook"


def test_storage_stage_branches(example: Callable[[str], Example]) -> None:
    ex = example("storage-stage-branches")
    main = ex.head()
    ex.push_image(IMAGE, "1.0.0")
    ex.discover()
    ex.ok("promote", "--auto")
    ex.ok("promote", "--stage", "prod", "--warehouse", "guestbook")
    ex.push_image(IMAGE, "1.1.0")
    ex.discover()
    ex.ok("promote", "--auto")

    assert ex.head() == main
    assert sorted(ex.remote_branches()) == ["kargo/ledger", "main", "stage/prod", "stage/test", "stage/uat"]
    for stage, tag, promotions in (("test", "1.1.0", 2), ("uat", "1.1.0", 2), ("prod", "1.0.0", 1)):
        branch = f"stage/{stage}"
        assert git(ex.bare(), "ls-tree", "--name-only", branch).split() == ["manifests.yaml"]
        manifests = ex.remote_file(branch, "manifests.yaml")
        assert f"image: {ex.local(IMAGE)}:{tag}" in manifests
        assert f"namespace: guestbook-{stage}" in manifests
        assert "kind: Kustomization" not in manifests
        log = ex.remote_log(branch)
        assert len(log) == promotions
        assert log[0] == f"render {tag} and {main} for {stage}"
