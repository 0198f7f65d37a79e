"""Every ${{ }} of the real Kargo pipelines renders, and appears in the table with its expected value."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from kargo_actions.expressions import ExpressionError, render_value
from kargo_actions.expressions.templates import DELIMITERS
from tests.conftest import shared_path
from tests.expressions.fixtures import kargo_environment
from tests.expressions.test_language import EXAMPLE_CASES


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _documents(root: Path) -> Iterator[tuple[Path, Any]]:
    yaml = YAML(typ="safe", pure=True)
    for path in sorted(root.rglob("*.yaml")):
        for document in yaml.load_all(path.read_text(encoding="utf-8")):
            if document is not None:
                yield path, document


def _expressions(text: str) -> list[str]:
    found: list[str] = []
    for start, end in DELIMITERS:
        found += [m.strip() for m in re.findall(re.escape(start) + "(.*?)" + re.escape(end), text, re.DOTALL)]
    return found


def test_every_example_expression_is_in_the_table() -> None:
    root = shared_path("kargo-examples")
    in_table = {expression for expression, _ in EXAMPLE_CASES}
    seen: set[str] = set()
    for _, document in _documents(root):
        for text in _strings(document):
            seen.update(_expressions(text))
        spec = document.get("spec", {}) if isinstance(document, dict) else {}
        for metric in spec.get("metrics", []) if isinstance(spec, dict) else []:
            for key in ("successCondition", "failureCondition"):
                if key in metric:
                    seen.add(metric[key])
    assert len(seen) >= 15, "the examples hold expressions"
    assert seen - in_table == set()


def test_every_example_config_renders() -> None:
    root = shared_path("kargo-examples")
    env = kargo_environment().build()
    rendered = 0
    for path, document in _documents(root):
        if not isinstance(document, dict) or document.get("kind") not in ("Stage", "PromotionTask"):
            continue
        spec = document["spec"]
        steps = spec.get("steps") or spec.get("promotionTemplate", {}).get("spec", {}).get("steps", [])
        for step in steps:
            for field in ("config", "if"):
                if field not in step:
                    continue
                try:
                    result = render_value(step[field], env)
                except ExpressionError as err:  # pragma: no cover - the message is the point
                    raise AssertionError(f"{path.name}: {err}") from err
                assert "${{" not in repr(result)
                rendered += 1
    assert rendered >= 20


def test_kargo_advanced_promotion_task_renders_to_the_expected_config() -> None:
    yaml = YAML(typ="safe", pure=True)
    task = yaml.load(
        shared_path("kargo-examples", "kargo-advanced", "kargo", "promotiontasks.yaml").read_text()
    )
    steps = {
        step.get("as", step["uses"]): render_value(step["config"], kargo_environment().build())
        for step in task["spec"]["steps"]
    }
    assert steps["git-clone"]["checkout"] == [
        {"commit": "9f8e7d6c5b4a", "path": "./src"},
        {"branch": "env/dev", "path": "./out", "create": True},
    ]
    assert steps["update-image"]["images"] == [{"image": "ghcr.io/akuity/guestbook", "tag": "v0.0.3"}]
    assert steps["commit"]["message"] == "Updated ghcr.io/akuity/guestbook to v0.0.3"
    assert steps["argocd-update"]["apps"][0] == {
        "name": "guestbook-dev",
        "sources": [
            {"repoURL": "https://github.com/akuity/kargo-advanced.git", "desiredRevision": "4b2f9e1"}
        ],
    }
