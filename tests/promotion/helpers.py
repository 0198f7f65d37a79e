"""Shared test material for the promotion engine: projects written as real manifest files, test steps."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from kargo_actions.manifests import known_step_names, load_project
from kargo_actions.model.freight import Freight
from kargo_actions.model.project import Project
from kargo_actions.promotion.engine import EngineOptions, run_promotion
from kargo_actions.promotion.registry import get_step
from kargo_actions.promotion.result import PromotionResult
from kargo_actions.promotion.step_api import (
    Step,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    StepStatus,
    TerminalStepError,
)
from kargo_actions.promotion.steps.support.process import run_command

WAREHOUSE = "app"
IMAGE = "ghcr.io/example/app"


def freight(name: str = "f" * 40, tag: str = "v1.2.3", warehouse: str = WAREHOUSE) -> Freight:
    return Freight.model_validate(
        {
            "metadata": {"name": name},
            "alias": "brave-fox",
            "origin": {"kind": "Warehouse", "name": warehouse},
            "images": [{"repoURL": IMAGE, "tag": tag, "digest": "sha256:" + "a" * 64}],
        }
    )


def write_project(
    root: Path,
    steps: Sequence[dict[str, Any]] | None,
    *,
    stage_vars: Sequence[dict[str, Any]] = (),
    template_vars: Sequence[dict[str, Any]] = (),
    tasks: dict[str, dict[str, Any]] | None = None,
    cluster_tasks: dict[str, dict[str, Any]] | None = None,
) -> Project:
    """Write a Warehouse, tasks and Stage `dev` as manifest files under root/.kargo and load them."""
    config = root / ".kargo"
    config.mkdir(parents=True, exist_ok=True)
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": WAREHOUSE},
            "spec": {"subscriptions": [{"image": {"repoURL": IMAGE}}]},
        }
    ]
    for kind, group in (("PromotionTask", tasks or {}), ("ClusterPromotionTask", cluster_tasks or {})):
        docs += [
            {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": kind, "metadata": {"name": n}, "spec": s}
            for n, s in group.items()
        ]
    stage: dict[str, Any] = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": "dev"},
        "spec": {
            "vars": list(stage_vars),
            "requestedFreight": [
                {"origin": {"kind": "Warehouse", "name": WAREHOUSE}, "sources": {"direct": True}}
            ],
        },
    }
    if steps is not None:
        stage["spec"]["promotionTemplate"] = {"spec": {"vars": list(template_vars), "steps": list(steps)}}
    for i, doc in enumerate(docs):
        (config / f"{i:02d}-{doc['kind'].lower()}.yaml").write_text(json.dumps(doc, indent=2))
    (config / "90-stage.yaml").write_text(json.dumps(stage, indent=2))
    return load_project(config, known_steps=lambda: known_step_names() | set(TEST_STEPS))


FAST = EngineOptions(poll_interval=0.01, retry_backoff=0.01, retry_backoff_max=0.02)


def promote(
    project: Project,
    work_dir: Path,
    *,
    abort: threading.Event | None = None,
    options: EngineOptions = FAST,
    target: Freight | None = None,
    collection: Sequence[Freight] = (),
) -> PromotionResult:
    return run_promotion(
        project,
        project.stages["dev"],
        target or freight(),
        work_dir=work_dir,
        name="dev.01jabcdefghjkmnpqrstvwxyz0.fffffff",
        freight_collection=collection,
        actor="octocat",
        abort=abort,
        options=options,
        resolve_step=resolve,
    )


def _count_run(ctx: StepContext, counter_path: str) -> int:
    """How often this step ran before (a counter file in the work dir, bumped by this run)."""
    counter = ctx.path(counter_path)
    seen = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(seen + 1))
    return seen


class FlakyConfig(StepConfig):
    failures: int
    counter: str = "flaky.count"


class Flaky:
    """Errors `failures` times (counted in a file of the work dir), then succeeds."""

    name: ClassVar[str] = "test-flaky"
    config_model: ClassVar[type[StepConfig]] = FlakyConfig

    def run(self, ctx: StepContext, config: FlakyConfig) -> StepResult:
        seen = _count_run(ctx, config.counter)
        if seen < config.failures:
            raise StepError(f"transient failure {seen + 1}")
        return StepResult(message="finally", outputs={"attempts": seen + 1})


class SleepConfig(StepConfig):
    seconds: float
    pid_file: str = "sleep.pid"


class Sleep:
    """Runs `sleep` through run_command (its shell's pid written to a file), so aborts must kill it."""

    name: ClassVar[str] = "test-sleep"
    config_model: ClassVar[type[StepConfig]] = SleepConfig

    def run(self, ctx: StepContext, config: SleepConfig) -> StepResult:
        pid_file = ctx.path(config.pid_file)
        run_command(ctx, ["sh", "-c", f'echo $$ > "{pid_file}"; exec sleep {config.seconds}'])
        return StepResult(message="slept")


class WaitConfig(StepConfig):
    polls: int
    counter: str = "wait.count"


class Wait:
    """Reports Running until it has been polled `polls` times (a step waiting for something outside)."""

    name: ClassVar[str] = "test-wait"
    config_model: ClassVar[type[StepConfig]] = WaitConfig

    def run(self, ctx: StepContext, config: WaitConfig) -> StepResult:
        seen = _count_run(ctx, config.counter)
        if seen + 1 < config.polls:
            return StepResult(StepStatus.RUNNING, "waiting", retry_after=0.01)
        return StepResult(outputs={"polls": seen + 1})


class RaiseConfig(StepConfig):
    kind: str


class Raise:
    """Raises what it is told to: a terminal step error, or a plain bug."""

    name: ClassVar[str] = "test-raise"
    config_model: ClassVar[type[StepConfig]] = RaiseConfig

    def run(self, ctx: StepContext, config: RaiseConfig) -> StepResult:
        if config.kind == "terminal":
            raise TerminalStepError("the remote refused for good")
        raise ZeroDivisionError("division by zero")


class SpinConfig(StepConfig):
    seconds: float


class Spin:
    """Pure Python work that looks at ctx.sleep between units: aborts and deadlines stop it."""

    name: ClassVar[str] = "test-spin"
    config_model: ClassVar[type[StepConfig]] = SpinConfig

    def run(self, ctx: StepContext, config: SpinConfig) -> StepResult:
        for _ in range(int(config.seconds / 0.01)):
            ctx.sleep(0.01)
        return StepResult(message="spun")


TEST_STEPS: dict[str, Callable[[], Step[Any]]] = {
    "test-flaky": Flaky,
    "test-sleep": Sleep,
    "test-wait": Wait,
    "test-raise": Raise,
    "test-spin": Spin,
}


def resolve(name: str) -> Step[Any]:
    """The registry, plus the test steps above."""
    factory = TEST_STEPS.get(name)
    return factory() if factory is not None else get_step(name)


def pid_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def gone_soon(pid: int, within: float = 3.0) -> bool:
    """True once `pid` has exited (or is a zombie) within `within` seconds: SIGKILL lands asynchronously,
    and on a loaded machine a killed process can still be listed for a moment after kill() returns."""
    import time

    deadline = time.monotonic() + within
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
