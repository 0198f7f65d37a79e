"""common-case: an image tag and a configuration commit travel together in one Freight."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example

IMAGE = "ghcr.io/example/guestbook"


def test_common_case(example: Callable[[str], Example]) -> None:
    ex = example("common-case")
    ex.push_image(IMAGE, "1.0.0")
    [first] = ex.discover()
    freight = ex.freight(first)
    assert [i["tag"] for i in freight["images"]] == ["1.0.0"]
    assert [c["id"] for c in freight["commits"]] == [ex.head()]

    ex.ok("promote", "--auto", "-q")
    assert ex.current("test") == ex.current("uat") == [first]
    rendered = ex.remote_file("stage/uat", "manifests.yaml")
    assert f"image: {ex.local(IMAGE)}:1.0.0" in rendered
    assert "namespace: guestbook-uat" in rendered

    # a new image alone makes a Freight pairing it with the same commit
    ex.push_image(IMAGE, "1.1.0")
    [second] = ex.discover()
    freight = ex.freight(second)
    assert ([i["tag"] for i in freight["images"]], freight["commits"][0]["id"]) == (["1.1.0"], ex.head())
    # a configuration commit alone pairs the newest image with the new commit
    change = ex.remote_file("main", "base/deploy.yaml").replace("replicas: 1", "replicas: 2")
    sha = ex.commit({"base/deploy.yaml": change}, "two replicas")
    [third] = ex.discover()
    freight = ex.freight(third)
    assert ([i["tag"] for i in freight["images"]], freight["commits"][0]["id"]) == (["1.1.0"], sha)

    ex.ok("promote", "--auto", "-q")
    ex.ok("promote", "--stage", "prod", "--warehouse", "guestbook", "-q")
    assert ex.current("prod") == [third]
    rendered = ex.remote_file("stage/prod", "manifests.yaml")
    assert f"image: {ex.local(IMAGE)}:1.1.0" in rendered
    assert "replicas: 2" in rendered
    assert ex.remote_log("stage/prod") == [f"prod runs guestbook 1.1.0 with config {sha}"]
    # the overlay edit lives only in the rendered branch: main holds the input alone
    assert ex.remote_log("main") == ["two replicas", "example"]
    assert second not in ex.current("prod")
