"""grouped-services: one Freight holds the front end and the back end; every Stage takes both at once."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example

FRONTEND, BACKEND = "ghcr.io/example/frontend", "ghcr.io/example/backend"


def _tags(ex: Example, name: str) -> dict[str, str]:
    return {i["repoURL"].rsplit("/", 1)[1]: i["tag"] for i in ex.freight(name)["images"]}


def test_grouped_services(example: Callable[[str], Example]) -> None:
    ex = example("grouped-services")
    ex.push_image(FRONTEND, "1.0.0")
    ex.push_image(BACKEND, "1.0.0")
    [first] = ex.discover()
    assert _tags(ex, first) == {"frontend": "1.0.0", "backend": "1.0.0"}

    # a new back end alone: the next Freight pairs it with the newest front end
    ex.push_image(BACKEND, "1.1.0")
    [second] = ex.discover()
    assert _tags(ex, second) == {"frontend": "1.0.0", "backend": "1.1.0"}

    ex.ok("promote", "--auto", "-q")
    for stage in ("uat", "prod"):
        ex.ok("promote", "--stage", stage, "--warehouse", "shop", "-q")
        assert ex.current(stage) == [second]
        rendered = ex.remote_file(f"stage/{stage}", "manifests.yaml")
        # both services land in the Stage in one commit
        assert f"image: {ex.local(FRONTEND)}:1.0.0" in rendered
        assert f"image: {ex.local(BACKEND)}:1.1.0" in rendered
        assert ex.remote_log(f"stage/{stage}") == [f"{stage} runs frontend 1.0.0 and backend 1.1.0"]
    # the Freight is the unit: the first one cannot follow into prod, having never been in uat
    refused = ex.run("promote", "--stage", "prod", "--freight", first)
    assert refused.code == 3, refused.err
