"""Engine overhead per step: a promotion of no-op steps, each with vars, an `if` and a templated config.

Everything the engine does around a step (vars, `if`, config rendering, schema validation, the step
context, outputs, timings) is counted; the step itself does nothing. Target: under 20 ms per step.
Run: .venv/bin/python benchmarks/bench_engine.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

from kargo_actions.manifests import known_step_names, load_project
from kargo_actions.model.freight import Freight
from kargo_actions.promotion.engine import EngineOptions, run_promotion
from kargo_actions.promotion.registry import get_step
from kargo_actions.promotion.step_api import Step, StepConfig, StepContext, StepResult

TARGET_MS = 20.0
STEPS = 200
RUNS = 5


class NoopConfig(StepConfig):
    path: str
    tag: str
    count: int
    enabled: bool = True


class Noop:
    """Does nothing, outputs one value."""

    name: ClassVar[str] = "noop"
    config_model: ClassVar[type[StepConfig]] = NoopConfig

    def run(self, ctx: StepContext, config: NoopConfig) -> StepResult:
        return StepResult(outputs={"tag": config.tag})


def resolve(name: str) -> Step[Any]:
    return Noop() if name == "noop" else get_step(name)


def write_project(root: Path) -> None:
    steps = [
        {
            "uses": "noop",
            "as": f"s{i}",
            "if": "${{ success() && vars.enabled == 'true' }}",
            "vars": [{"name": "prev", "value": f"${{{{ outputs['s{i - 1}'].tag }}}}" if i else "none"}],
            "config": {
                "path": "./out/${{ ctx.stage }}/${{ vars.app }}",
                "tag": "${{ imageFrom(vars.image).Tag }}",
                "count": "${{ len(vars.prev) + 1 }}",
            },
        }
        for i in range(STEPS)
    ]
    docs = [
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "app"},
            "spec": {"subscriptions": [{"image": {"repoURL": "ghcr.io/example/app"}}]},
        },
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": "dev"},
            "spec": {
                "vars": [{"name": "image", "value": "ghcr.io/example/app"}],
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
                ],
                "promotionTemplate": {
                    "spec": {
                        "vars": [{"name": "app", "value": "guestbook"}, {"name": "enabled", "value": "true"}],
                        "steps": steps,
                    }
                },
            },
        },
    ]
    (root / ".kargo").mkdir()
    for i, doc in enumerate(docs):
        (root / ".kargo" / f"{i}.yaml").write_text(json.dumps(doc, indent=1))


def main() -> int:
    freight = Freight.model_validate(
        {
            "metadata": {"name": "f" * 40},
            "origin": {"kind": "Warehouse", "name": "app"},
            "images": [{"repoURL": "ghcr.io/example/app", "tag": "v1.2.3"}],
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_project(root)
        project = load_project(root / ".kargo", known_steps=lambda: known_step_names() | {"noop"})
        stage = project.stages["dev"]
        per_step: list[float] = []
        first_step_ms = 0.0
        for run in range(RUNS):
            started = time.perf_counter()
            result = run_promotion(
                project,
                stage,
                freight,
                work_dir=root / f"work{run}",
                options=EngineOptions(),
                resolve_step=resolve,
            )
            elapsed = time.perf_counter() - started
            if not result.succeeded:
                print(f"promotion did not succeed: {result.phase}: {result.message}")
                return 1
            if run == 0:
                first_step_ms = result.steps[0].duration * 1000
            per_step.append(elapsed / STEPS * 1000)
        overheads = [s.overhead * 1000 for s in result.steps]
    median = statistics.median(per_step)
    print(f"{STEPS} no-op steps per promotion (vars, `if`, 3 templated config fields each), {RUNS} runs")
    print(f"first step of the first run (cold parse caches): {first_step_ms:8.2f} ms")
    print(f"wall time per step, median of runs:             {median:8.2f} ms  target < {TARGET_MS:.0f} ms")
    print(
        f"engine overhead per step in the last run:        median {statistics.median(overheads):.2f} ms, "
        f"max {max(overheads):.2f} ms"
    )
    ok = median < TARGET_MS
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
