"""kustomize-layout: each promotion sets the Freight's image in its Stage's overlay on main, nowhere else."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

from tests.examples.harness import Example
from tests.support.git_http_server import git

IMAGE = "ghcr.io/example/guestbook"


def _tag(ex: Example, stage: str) -> str | None:
    doc = YAML(typ="safe").load(ex.remote_file("main", f"stages/{stage}/kustomization.yaml"))
    tags = [i.get("newTag") for i in doc.get("images", []) if i["name"] == ex.local(IMAGE)]
    return tags[0] if tags else None


def test_kustomize_layout(example: Callable[[str], Example], tmp_path: Path) -> None:
    ex = example("kustomize-layout")
    ex.push_image(IMAGE, "1.0.0")
    ex.discover()
    ex.ok("promote", "--auto")
    assert [_tag(ex, s) for s in ("test", "uat", "prod")] == ["1.0.0", "1.0.0", None]

    ex.ok("promote", "--stage", "prod", "--warehouse", "guestbook")
    assert _tag(ex, "prod") == "1.0.0"

    ex.push_image(IMAGE, "1.1.0")
    ex.push_image(IMAGE, "2.0.0")  # outside the Warehouse's constraint ^1.0.0
    ex.discover()
    ex.ok("promote", "--auto")
    assert [_tag(ex, s) for s in ("test", "uat", "prod")] == ["1.1.0", "1.1.0", "1.0.0"]
    # every promotion commit changed one overlay and nothing else (the base is people's to edit)
    changed = git(ex.bare(), "log", "--format=", "--name-only", "main~5..main").split()
    assert changed == [f"stages/{s}/kustomization.yaml" for s in ("uat", "test", "prod", "uat", "test")]

    # the overlay a Stage's Argo CD Application renders still builds, with the Stage's image and patches
    clone = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", str(ex.bare()), str(clone)], check=True)
    built = subprocess.run(
        ["kubectl", "kustomize", str(clone / "stages" / "prod")], capture_output=True, text=True, check=True
    ).stdout
    assert f"image: {ex.local(IMAGE)}:1.0.0" in built
    assert "replicas: 3" in built
    assert "namespace: guestbook-prod" in built
