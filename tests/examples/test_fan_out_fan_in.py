"""fan-out-fan-in: test fans out to A and B, which run different revisions; prod takes the winner."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example

IMAGE = "ghcr.io/example/guestbook"


def _tag(ex: Example, stage: str) -> str:
    text = ex.remote_file("main", f"stages/{stage}/kustomization.yaml")
    return next(line.split(":", 1)[1].strip() for line in text.splitlines() if "newTag" in line)


def test_fan_out_fan_in(example: Callable[[str], Example]) -> None:
    ex = example("fan-out-fan-in")
    ex.push_image(IMAGE, "1.0.0")
    [one] = ex.discover()
    ex.ok("promote", "--auto", "-q")
    ex.ok("promote", "--stage", "ab-a", "--freight", one, "-q")
    ex.push_image(IMAGE, "1.1.0")
    [two] = ex.discover()
    ex.ok("promote", "--auto", "-q")
    # fan out: the same upstream feeds both; A keeps 1.0.0 while B gets 1.1.0
    ex.ok("promote", "--stage", "ab-b", "--freight", two, "-q")
    assert (_tag(ex, "ab-a"), _tag(ex, "ab-b")) == ("1.0.0", "1.1.0")

    # fan in: prod accepts Freight verified in either A or B
    available = {f["metadata"]["name"] for f in ex.json("freight", "list", "--available-for", "prod")}
    assert available == {one, two}
    out = ex.ok("promote", "--stage", "prod", "--freight", two, "-q")  # B won
    assert "verified in ab-b" in out
    assert ex.current("prod") == [two]
    assert _tag(ex, "prod") == "1.1.0"

    # a Freight in neither A nor B may not skip to prod
    ex.push_image(IMAGE, "1.2.0")
    [three] = ex.discover()
    ex.ok("promote", "--auto", "-q")
    refused = ex.run("promote", "--stage", "prod", "--freight", three)
    assert refused.code == 3
    assert "not verified in ab-a" in refused.err

    # fanning out to both at once: --downstream-from test promotes test's Freight into A and B
    ex.ok("promote", "--downstream-from", "test", "-q")
    assert ex.current("ab-a") == ex.current("ab-b") == [three]
    assert (_tag(ex, "ab-a"), _tag(ex, "ab-b")) == ("1.2.0", "1.2.0")
