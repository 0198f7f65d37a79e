"""pre-pipelines: `bake` turns each new image into a commit of base/; the config Warehouse makes that
commit a Freight, and test -> uat -> prod promote configuration only."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example

IMAGE = "ghcr.io/example/guestbook"


def test_pre_pipelines(example: Callable[[str], Example]) -> None:
    ex = example("pre-pipelines")
    ex.push_image(IMAGE, "1.0.0")
    made = {ex.freight(name)["origin"]["name"]: name for name in ex.discover()}
    assert sorted(made) == ["builds", "config"]  # the image, and the configuration as it stands

    # bake writes the image into base/ on main: a new configuration commit
    ex.ok("promote", "--auto", "--stage", "bake", "-q")
    assert ex.remote_log()[0] == "bake guestbook 1.0.0 into base"
    assert "newTag: 1.0.0" in ex.remote_file("main", "base/kustomization.yaml")
    baked = ex.head()

    # which the main pipeline's Warehouse turns into Freight holding a commit and no image
    [config] = ex.discover()
    freight = ex.freight(config)
    assert (freight["origin"]["name"], freight["images"]) == ("config", [])
    assert [c["id"] for c in freight["commits"]] == [baked]
    ex.ok("promote", "--auto", "--stage", "test", "-q")
    ex.ok("promote", "--stage", "uat", "--freight", config, "-q")
    assert ex.current("uat") == [config]
    rendered = ex.remote_file("stage/uat", "manifests.yaml")
    assert f"image: {ex.local(IMAGE)}:1.0.0" in rendered
    assert ex.remote_log("stage/uat") == [f"render uat from {baked}"]

    # the next image goes round the same way; the main pipeline never sees an image Freight
    ex.push_image(IMAGE, "1.1.0")
    ex.discover()
    ex.ok("promote", "--auto", "--stage", "bake", "-q")
    [config2] = ex.discover()
    ex.ok("promote", "--auto", "--stage", "test", "-q")
    assert ex.current("test") == [config2]
    assert f"image: {ex.local(IMAGE)}:1.1.0" in ex.remote_file("stage/test", "manifests.yaml")
    assert ex.remote_log()[:2] == ["bake guestbook 1.1.0 into base", "bake guestbook 1.0.0 into base"]
