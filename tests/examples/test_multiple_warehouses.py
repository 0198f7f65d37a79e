"""multiple-warehouses: image and configuration Freight come from two Warehouses and move through the
same Stages independently; each promotion renders the one it brings with the Stage's current other."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example

IMAGE = "ghcr.io/example/guestbook"


def _origins(ex: Example, names: list[str]) -> dict[str, str]:
    return {ex.freight(name)["origin"]["name"]: name for name in names}


def test_multiple_warehouses(example: Callable[[str], Example]) -> None:
    ex = example("multiple-warehouses")
    ex.push_image(IMAGE, "1.0.0")
    made = _origins(ex, ex.discover())
    assert sorted(made) == ["config", "images"]
    first_config = ex.head()

    # a Stage holds one Freight per Warehouse; auto-promotion brings each
    ex.ok("promote", "--auto", "-q")
    for stage in ("test", "uat"):
        assert sorted(ex.current(stage)) == sorted(made.values())
    assert f"image: {ex.local(IMAGE)}:1.0.0" in ex.remote_file("stage/uat", "manifests.yaml")

    # images move fast: 1.1.0 goes to test while the configuration stays put
    ex.push_image(IMAGE, "1.1.0")
    [image2] = ex.discover()
    ex.ok("promote", "--auto", "--stage", "test", "-q")
    assert ex.remote_log("stage/test")[0] == f"test at config {first_config}, image 1.1.0"
    assert sorted(ex.current("test")) == sorted([made["config"], image2])

    # configuration moves slowly: a change reaches test by hand, uat keeps the old one with the new image
    change = ex.remote_file("main", "base/deploy.yaml").replace("replicas: 1", "replicas: 2")
    config2_sha = ex.commit({"base/deploy.yaml": change}, "two replicas")
    [config2] = ex.discover()
    ex.ok("promote", "--stage", "test", "--freight", config2, "-q")
    assert ex.remote_log("stage/test")[0] == f"test at config {config2_sha}, image 1.1.0"
    assert "replicas: 2" in ex.remote_file("stage/test", "manifests.yaml")
    assert "replicas: 1" in ex.remote_file("stage/uat", "manifests.yaml")

    # prod takes configuration first (the base image until an image Freight arrives), then the image
    ex.ok("promote", "--stage", "prod", "--warehouse", "config", "-q")
    assert ex.remote_log("stage/prod") == [f"prod at config {first_config}, image from base"]
    ex.ok("promote", "--stage", "prod", "--warehouse", "images", "-q")
    assert ex.remote_log("stage/prod")[0] == f"prod at config {first_config}, image 1.0.0"
    assert sorted(ex.current("prod")) == sorted(made.values())
