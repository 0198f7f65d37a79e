"""image-updater (the demo's pipeline): a tag reaches test and uat by itself, uat verified against a
health endpoint; prod waits out its soak time unless a person approves the Freight for it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from kargo_actions.demo.servers import serve_health
from tests.examples.harness import EXAMPLES, GITHUB, REGISTRY, Example, Servers, start_example

IMAGE = "ghcr.io/example/web"
CONFIG = "demo-config.git"


@pytest.fixture
def health() -> Iterator[str]:
    with serve_health() as url:
        yield url


def _in_convention(target: Path, health: str) -> Path:
    """The example with the demo's local URLs written as the examples' placeholders (the demo rewrites
    the same URLs to its own servers)."""
    source = EXAMPLES / "image-updater"
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if not path.is_file() or relative.parts[0] == ".github":
            continue
        text = path.read_text().replace("localhost:5000/demo/", REGISTRY)
        text = text.replace("http://localhost:8080/", GITHUB).replace("http://localhost:8081", health)
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_text(text)
    return target


def _tag(ex: Example, stage: str) -> str | None:
    text = ex.remote_file("main", f"stages/{stage}/kustomization.yaml", repository=CONFIG)
    images = YAML(typ="safe").load(text).get("images", [])
    return next((i["newTag"] for i in images if i["name"] == ex.local(IMAGE)), None)


def test_image_updater(example_servers: Servers, tmp_path: Path, health: str) -> None:
    source = _in_convention(tmp_path / "source", health)
    ex = start_example("image-updater", tmp_path / "run", example_servers, source=source)
    layout = source / "demo-config"
    ex.commit(
        {
            str(p.relative_to(layout)): p.read_text().replace(REGISTRY, ex.registry_prefix)
            for p in layout.rglob("*.yaml")
        },
        "the layout set-image expects",
        repository=CONFIG,
    )
    shutil.rmtree(source)

    ex.push_image(IMAGE, "1.0.0")
    (first,) = ex.discover()
    ex.ok("promote", "--auto")
    assert (_tag(ex, "test"), _tag(ex, "uat"), _tag(ex, "prod")) == ("1.0.0", "1.0.0", None)
    assert ex.current("uat") == [first]
    assert "uat" in ex.freight(first)["status"]["verifiedIn"]

    refused = ex.run("promote", "--stage", "prod", "--warehouse", "web")
    assert refused.code == 3, refused.out + refused.err
    assert "soak" in (refused.out + refused.err).lower()
    ex.ok("approve", "--freight", first, "--stage", "prod")
    ex.ok("promote", "--stage", "prod", "--warehouse", "web")
    assert _tag(ex, "prod") == "1.0.0"

    ex.push_image(IMAGE, "1.1.0")
    ex.discover()
    ex.ok("promote", "--auto")
    assert (_tag(ex, "test"), _tag(ex, "uat"), _tag(ex, "prod")) == ("1.1.0", "1.1.0", "1.0.0")
    overlay = YAML(typ="safe").load(
        ex.remote_file("main", "stages/prod/kustomization.yaml", repository=CONFIG)
    )
    assert overlay["resources"] == ["../../base"]
    assert overlay["namespace"] == "demo-prod"
