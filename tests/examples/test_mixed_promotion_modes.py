"""mixed-promotion-modes: test takes only Freight a person promotes, uat follows test by itself, so a
Freight pairing an image with configuration it does not fit is made but never runs."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example

IMAGE = "ghcr.io/example/guestbook"
BASE = "base/deploy.yaml"


def test_mixed_promotion_modes(example: Callable[[str], Example]) -> None:
    ex = example("mixed-promotion-modes")
    ex.push_image(IMAGE, "1.0.0")
    (first,) = ex.discover()
    ex.ok("promote", "--auto")
    assert "stage/test" not in ex.remote_branches()

    ex.ok("promote", "--stage", "test", "--freight", first)
    ex.ok("promote", "--auto")
    assert ex.current("uat") == [first]

    # 2.0.0 needs a setting the configuration does not have yet: a Freight, promoted nowhere
    ex.push_image(IMAGE, "2.0.0")
    (unfit,) = ex.discover()
    ex.ok("promote", "--auto")
    assert ex.current("test") == [first]
    assert ex.current("uat") == [first]

    env = "        env:\n        - name: GUESTBOOK_STORE\n          value: redis\n"
    ex.commit({BASE: ex.remote_file("main", BASE) + env}, "guestbook 2: the store it needs")
    (fit,) = ex.discover()
    assert [i["tag"] for i in ex.freight(fit)["images"]] == ["2.0.0"]
    ex.ok("promote", "--stage", "test", "--freight", fit)
    ex.ok("promote", "--auto")
    assert ex.current("uat") == [fit]
    for stage in ("test", "uat"):
        manifests = ex.remote_file(f"stage/{stage}", "manifests.yaml")
        assert f"image: {ex.local(IMAGE)}:2.0.0" in manifests
        assert "GUESTBOOK_STORE" in manifests
        assert len(ex.remote_log(f"stage/{stage}")) == 2
    assert unfit not in (first, fit)
    assert "stage/prod" not in ex.remote_branches()
