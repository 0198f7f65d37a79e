"""gatekeeper-stage: every Freight is auto-promoted to gatekeeper, which fails an image that does not fit
its configuration; test takes, by itself, only what passed there."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example

IMAGE = "ghcr.io/example/guestbook"


def test_gatekeeper_stage(example: Callable[[str], Example]) -> None:
    ex = example("gatekeeper-stage")
    ex.push_image(IMAGE, "1.0.0")
    (first,) = ex.discover()
    ex.ok("promote", "--auto")
    assert ex.current("test") == [first]

    ex.push_image(IMAGE, "2.0.0")
    (unfit,) = ex.discover()
    refused = ex.run("promote", "--auto")
    assert refused.code == 1, refused.out + refused.err
    assert "image 2.0.0 does not fit this configuration (imageMajor 1" in refused.out + refused.err
    assert ex.current("gatekeeper") == [first]
    assert ex.current("test") == [first]
    assert f"image: {ex.local(IMAGE)}:1.0.0" in ex.remote_file("stage/test", "manifests.yaml")

    ex.commit({"base/supports.yaml": "imageMajor: 2\n"}, "configuration for guestbook 2")
    (fit,) = ex.discover()
    ex.ok("promote", "--auto")
    assert ex.current("gatekeeper") == [fit]
    assert ex.current("test") == [fit]
    assert f"image: {ex.local(IMAGE)}:2.0.0" in ex.remote_file("stage/test", "manifests.yaml")
    assert unfit != fit
    assert ex.remote_log("stage/test")[0].startswith("render 2.0.0 and ")
