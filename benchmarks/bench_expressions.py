"""Expression speed: the kargo-advanced promotion template's expressions, parsed once, evaluated many times.

Target: over 20,000 evaluations per second. Reads ../shared/kargo-examples/kargo-advanced/kargo/*.yaml
(beside the repository); skips with a message when it is absent.
Run: .venv/bin/python benchmarks/bench_expressions.py
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from kargo_actions.expressions import KargoEnvironment, compile_expression, parse_template, render_value
from kargo_actions.expressions.templates import DELIMITERS
from kargo_actions.model.freight import Freight

TARGET_PER_SECOND = 20_000
SECONDS = 2.0
EXAMPLES = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "kargo-examples" / "kargo-advanced" / "kargo"
)


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def load() -> tuple[list[str], list[Any]]:
    """The expression bodies and the step configs of the promotion task."""
    yaml = YAML(typ="safe", pure=True)
    expressions: list[str] = []
    configs: list[Any] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for document in yaml.load_all(path.read_text(encoding="utf-8")):
            if not isinstance(document, dict):
                continue
            spec = document.get("spec") or {}
            for step in spec.get("steps", []) if document.get("kind") == "PromotionTask" else []:
                configs.append(step.get("config", {}))
                for text in strings(step.get("config", {})):
                    for start, end in DELIMITERS:
                        expressions += re.findall(
                            re.escape(start) + "(.*?)" + re.escape(end), text, re.DOTALL
                        )
    return expressions, configs


def environment() -> KargoEnvironment:
    freight = Freight.model_validate(
        {
            "metadata": {"name": "f0e1d2c3b4a5968778695a4b3c2d1e0f12345678"},
            "origin": {"kind": "Warehouse", "name": "guestbook"},
            "images": [{"repoURL": "ghcr.io/akuity/guestbook", "tag": "v0.0.3", "digest": "sha256:1e2d"}],
            "commits": [
                {"repoURL": "https://github.com/akuity/kargo-advanced.git", "id": "9f8e7d6", "branch": "main"}
            ],
        }
    )
    outputs = {
        "update-image": {"commitMessage": "Updated guestbook to v0.0.3"},
        "commit": {"commit": "4b2f9e1"},
    }
    return KargoEnvironment(
        project="kargo-advanced",
        stage="dev",
        target_freight=freight,
        freight=[freight],
        vars={
            "repoURL": "https://github.com/akuity/kargo-advanced.git",
            "branch": "main",
            "image": "ghcr.io/akuity/guestbook",
        },
        outputs=outputs,
        task_outputs=outputs,
    )


def rate(work: Any, per_call: int) -> float:
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < SECONDS:
        for _ in range(100):
            work()
        count += 100 * per_call
    return count / elapsed


def main() -> int:
    if not EXAMPLES.is_dir():
        print(
            f"skipped: {EXAMPLES} is absent (the benchmark reads the kargo-advanced example beside the repo)"
        )
        return 0
    expressions, configs = load()
    env = environment().build()
    compiled = [compile_expression(text) for text in expressions]
    for expression in compiled:
        expression.evaluate(env)  # every expression evaluates without error

    def evaluate_all() -> None:
        for expression in compiled:
            expression.evaluate(env)

    per_second = rate(evaluate_all, len(compiled))
    for config in configs:
        for text in strings(config):
            parse_template(text)
    configs_per_second = rate(lambda: [render_value(c, env) for c in configs], 1)
    environments_per_second = rate(lambda: environment().build(), 1)
    ok = per_second > TARGET_PER_SECOND
    print(f"{len(compiled)} expressions of kargo-advanced's PromotionTask, parsed once")
    print(
        f"expression evaluations   {per_second:10,.0f} /s  target > {TARGET_PER_SECOND:,} /s  {'ok' if ok else 'MISSED'}"
    )
    print(f"whole task renders       {configs_per_second:10,.0f} /s  ({len(configs)} step configs each)")
    print(f"environment builds       {environments_per_second:10,.0f} /s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
