"""control-flow-stages: `tested` deploys nothing; Freight verified in both test regions passes through it
to either prod region."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example

IMAGE = "ghcr.io/example/guestbook"


def _tag(ex: Example, stage: str) -> str | None:
    text = ex.remote_file("main", f"stages/{stage}/kustomization.yaml")
    return next((line.split(":", 1)[1].strip() for line in text.splitlines() if "newTag" in line), None)


def test_control_flow_stages(example: Callable[[str], Example]) -> None:
    ex = example("control-flow-stages")
    ex.push_image(IMAGE, "1.0.0")
    [freight] = ex.discover()

    # in one test region only: not yet through the control-flow Stage (it wants both)
    ex.ok("promote", "--auto", "--stage", "test-east", "-q")
    refused = ex.run("promote", "--stage", "prod-east", "--freight", freight)
    assert refused.code == 3
    assert "not verified in tested" in refused.err
    # a control-flow Stage is never promoted into: it has no steps
    direct = ex.run("promote", "--stage", "tested", "--freight", freight)
    assert direct.code == 2
    assert "control-flow Stage" in direct.err

    ex.ok("promote", "--auto", "--stage", "test-west", "-q")
    assert ex.json("freight", "list", "--available-for", "prod-east")[0]["metadata"]["name"] == freight
    ex.ok("promote", "--stage", "prod-east", "--freight", freight, "-q")
    ex.ok("promote", "--stage", "prod-west", "--warehouse", "guestbook", "-q")
    assert ex.current("prod-east") == ex.current("prod-west") == [freight]
    assert {stage: _tag(ex, stage) for stage in ("test-east", "test-west", "prod-east", "prod-west")} == {
        "test-east": "1.0.0",
        "test-west": "1.0.0",
        "prod-east": "1.0.0",
        "prod-west": "1.0.0",
    }
    # nothing was written for the control-flow Stage: no overlay, no commit
    assert not any("tested" in line for line in ex.remote_log())
    status = {row["stage"]: row for row in ex.json("status")}
    assert status["tested"]["controlFlow"] is True
