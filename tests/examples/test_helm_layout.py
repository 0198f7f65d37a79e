"""helm-layout: each promotion sets the image tag in its Stage's values file on main; the chart renders
each Stage with its base values and its own file."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

from tests.examples.harness import Example
from tests.support.git_http_server import git

IMAGE = "ghcr.io/example/guestbook"


def _tag(ex: Example, stage: str) -> str:
    return str(YAML(typ="safe").load(ex.remote_file("main", f"stages/{stage}/values.yaml"))["image"]["tag"])


def _render(ex: Example, clone: Path, stage: str) -> list[dict[str, object]]:
    config = {
        "path": "./repo",
        "releaseName": f"guestbook-{stage}",
        "namespace": f"guestbook-{stage}",
        "valuesFiles": ["./repo/values.yaml", f"./repo/stages/{stage}/values.yaml"],
        "outPath": f"./out/{stage}.yaml",
    }
    ex.ok("step", "run", "helm-template", "--config", json.dumps(config), "--work-dir", str(clone.parent))
    return list(YAML(typ="safe").load_all((clone.parent / "out" / f"{stage}.yaml").read_text()))


def test_helm_layout(example: Callable[[str], Example], tmp_path: Path) -> None:
    ex = example("helm-layout")
    ex.push_image(IMAGE, "1.0.0")
    ex.discover()
    ex.ok("promote", "--auto")
    ex.ok("promote", "--stage", "prod", "--warehouse", "guestbook")
    ex.push_image(IMAGE, "1.1.0")
    ex.discover()
    ex.ok("promote", "--auto")
    assert [_tag(ex, s) for s in ("test", "uat", "prod")] == ["1.1.0", "1.1.0", "1.0.0"]
    changed = git(ex.bare(), "log", "--format=", "--name-only", "main~5..main").split()
    assert changed == [f"stages/{s}/values.yaml" for s in ("uat", "test", "prod", "uat", "test")]
    assert ex.remote_file("main", "values.yaml").count("tag: 1.0.0") == 1  # the base is untouched

    clone = tmp_path / "render" / "repo"
    subprocess.run(["git", "clone", "-q", str(ex.bare()), str(clone)], check=True)
    for stage, tag, replicas in (("test", "1.1.0", 1), ("prod", "1.0.0", 3)):
        deployment = next(d for d in _render(ex, clone, stage) if d["kind"] == "Deployment")
        spec = deployment["spec"]
        assert isinstance(spec, dict)
        assert spec["replicas"] == replicas
        assert spec["template"]["spec"]["containers"][0]["image"] == f"{ex.local(IMAGE)}:{tag}"
