"""config-updater: a commit of base/ or stages/ is the Freight; each Stage renders it into stage/<name>."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example


def test_config_updater(example: Callable[[str], Example]) -> None:
    ex = example("config-updater")
    [first] = ex.discover()
    assert [c["id"] for c in ex.freight(first)["commits"]] == [ex.head()]

    # test and uat promote themselves; prod waits for a person
    out = ex.ok("promote", "--auto", "-q")
    assert "prod: skipped" in out
    assert ex.current("test") == ex.current("uat") == [first]
    assert sorted(ex.remote_branches()) == ["kargo/ledger", "main", "stage/test", "stage/uat"]
    rendered = ex.remote_file("stage/uat", "manifests.yaml")
    assert "namespace: guestbook-uat" in rendered
    assert "replicas: 1" in rendered
    assert ex.remote_log("stage/uat") == [f"render uat from {ex.head()}"]

    # one change to base/ travels stage by stage; main itself is never written by a promotion
    change = ex.remote_file("main", "base/deploy.yaml").replace("replicas: 1", "replicas: 3")
    sha = ex.commit({"base/deploy.yaml": change}, "three replicas")
    [second] = ex.discover()
    ex.ok("promote", "--auto", "--stage", "test", "-q")
    assert "replicas: 3" in ex.remote_file("stage/test", "manifests.yaml")
    assert "replicas: 1" in ex.remote_file("stage/uat", "manifests.yaml")
    ex.ok("promote", "--auto", "-q")
    assert "replicas: 3" in ex.remote_file("stage/uat", "manifests.yaml")
    ex.ok("promote", "--stage", "prod", "--warehouse", "config", "-q")
    assert ex.current("prod") == [second]
    assert ex.remote_log("stage/prod") == [f"render prod from {sha}"]
    assert ex.remote_log("main") == ["three replicas", "example"]

    # a commit outside base/ and stages/ makes no Freight (includePaths)
    ex.commit({"docs/notes.md": "notes\n"}, "notes")
    assert ex.discover() == []
