"""The promotion engine on real manifest files and a real work dir: Kargo's step semantics, case by case."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.model.project import Project
from kargo_actions.model.promotion_task import PromotionTask
from kargo_actions.model.stage import Stage
from kargo_actions.promotion.engine import EngineOptions, run_promotion
from kargo_actions.promotion.registry import STEPS
from kargo_actions.promotion.result import PromotionPhase, StepRun
from kargo_actions.promotion.step_api import StepStatus
from kargo_actions.promotion.tasks import plan_promotion
from tests.promotion.helpers import FAST, freight, gone_soon, promote, write_project

S, F, E, K, A = (
    StepStatus.SUCCEEDED,
    StepStatus.FAILED,
    StepStatus.ERRORED,
    StepStatus.SKIPPED,
    StepStatus.ABORTED,
)


@dataclass(frozen=True)
class Case:
    name: str
    steps: list[dict[str, Any]]
    phase: PromotionPhase
    statuses: dict[str, StepStatus]
    outputs: dict[str, Any] = field(default_factory=dict)
    message: str = ""  # a part of the promotion's message
    stage_vars: list[dict[str, Any]] = field(default_factory=list)
    template_vars: list[dict[str, Any]] = field(default_factory=list)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    cluster_tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # work dir content before the promotion
    after: dict[str, str | None] = field(default_factory=dict)  # content after (None: absent)
    step_messages: dict[str, str] = field(default_factory=dict)  # alias -> part of its message


def out(step_alias: str, /, **config: Any) -> dict[str, Any]:
    return {"uses": "compose-output", "as": step_alias, "config": config}


def fail(message: str = "boom", **extra: Any) -> dict[str, Any]:
    return {"uses": "fail", "config": {"message": message}, **extra}


CASES = [
    Case(
        "empty-if-skips-after-failure-and-conditions-decide",
        [
            out("first", a=1),
            fail(**{"as": "bad"}),
            out("plain", a=2),
            {**out("cleanup", a=3), "if": "${{ always() }}"},
            {**out("onfail", seen="${{ status('bad') }}"), "if": "${{ failure() }}"},
            {**out("onsuccess", a=5), "if": "${{ success() }}"},
        ],
        PromotionPhase.FAILED,
        {"first": S, "bad": F, "plain": K, "cleanup": S, "onfail": S, "onsuccess": K},
        outputs={"onfail": {"seen": "Failed"}, "cleanup": {"a": 3}},
        message="failed: boom",
    ),
    Case(
        "continue-on-error-counts-as-success",
        [
            fail("ignored", **{"as": "soft", "continueOnError": True}),
            out("next", a=1),
            {**out("onfail", a=2), "if": "${{ failure() }}"},
            {**out("status", s="${{ status('soft') }}"), "if": "${{ success() }}"},
        ],
        PromotionPhase.SUCCEEDED,
        {"soft": F, "next": S, "onfail": K, "status": S},
        outputs={"status": {"s": "Failed"}},
    ),
    Case(
        "errored-step-makes-the-phase-errored-and-status-sees-it",
        [
            {"uses": "copy", "as": "missing", "config": {"inPath": "nope", "outPath": "x"}},
            {**out("check", a=1), "if": "${{ status('missing') == 'Errored' }}"},
            fail("later", **{"if": "${{ always() }}"}),
        ],
        PromotionPhase.ERRORED,  # Errored is worse than Failed
        {"missing": E, "check": S, "step-3": F},
        message="inPath 'nope' does not exist",
    ),
    Case(
        "retry-until-error-threshold-then-succeed",
        [{"uses": "test-flaky", "as": "flaky", "retry": {"errorThreshold": 3}, "config": {"failures": 2}}],
        PromotionPhase.SUCCEEDED,
        {"flaky": S},
        outputs={"flaky": {"attempts": 3}},
        after={"flaky.count": "3"},
    ),
    Case(
        "error-threshold-met",
        [{"uses": "test-flaky", "as": "flaky", "retry": {"errorThreshold": 2}, "config": {"failures": 5}}],
        PromotionPhase.ERRORED,
        {"flaky": E},
        message="step 'flaky' met error threshold of 2: transient failure 2",
        after={"flaky.count": "2"},
    ),
    Case(
        "error-threshold-zero-is-the-default-one",
        [{"uses": "test-flaky", "as": "flaky", "retry": {"errorThreshold": 0}, "config": {"failures": 1}}],
        PromotionPhase.ERRORED,
        {"flaky": E},
        message="transient failure 1",
        after={"flaky.count": "1"},
    ),
    Case(
        "terminal-errors-are-never-retried",
        [{"uses": "test-raise", "as": "r", "retry": {"errorThreshold": 5}, "config": {"kind": "terminal"}}],
        PromotionPhase.ERRORED,
        {"r": E},
        message="an unrecoverable error occurred: the remote refused for good",
    ),
    Case(
        "a-bug-in-a-step-is-recorded-not-raised",
        [
            {"uses": "test-raise", "as": "r", "config": {"kind": "bug"}},
            {**out("after", a=1), "if": "${{ always() }}"},
        ],
        PromotionPhase.ERRORED,
        {"r": E, "after": S},
        message="unexpected error in step 'r': ZeroDivisionError: division by zero",
    ),
    Case(
        "running-step-is-polled-until-done",
        [{"uses": "test-wait", "as": "w", "config": {"polls": 3}}],
        PromotionPhase.SUCCEEDED,
        {"w": S},
        outputs={"w": {"polls": 3}},
    ),
    Case(
        "running-step-times-out",
        [{"uses": "test-wait", "as": "w", "retry": {"timeout": "200ms"}, "config": {"polls": 100000}}],
        PromotionPhase.ERRORED,
        {"w": E},
        message="step 'w' timed out after 200ms",
    ),
    Case(
        "outputs-by-alias-and-bracket",
        [
            out("meta", name="dest", n=2),
            {"uses": "copy", "config": {"inPath": "src.txt", "outPath": "${{ outputs.meta.name }}.txt"}},
            out("sum", total="${{ outputs['meta'].n + 1 }}", typed="${{ outputs.meta.n }}"),
        ],
        PromotionPhase.SUCCEEDED,
        {"meta": S, "step-2": S, "sum": S},
        outputs={"sum": {"total": 3, "typed": 2}},
        files={"src.txt": "hello"},
        after={"dest.txt": "hello"},
    ),
    Case(
        "vars-precedence-stage-template-step",
        [
            out("a", v="${{ vars.who }}", chain="${{ vars.chain }}"),
            {
                **out("b", v="${{ vars.who }}", prev="${{ vars.prev }}"),
                "vars": [
                    {"name": "who", "value": "step"},
                    {"name": "prev", "value": "${{ outputs.a.v }}"},
                ],
            },
        ],
        PromotionPhase.SUCCEEDED,
        {"a": S, "b": S},
        outputs={"a": {"v": "template", "chain": "stage+template"}, "b": {"v": "step", "prev": "template"}},
        stage_vars=[{"name": "who", "value": "stage"}, {"name": "base", "value": "stage"}],
        template_vars=[
            {"name": "who", "value": "template"},
            {"name": "chain", "value": "${{ vars.base }}+${{ vars.who }}"},
        ],
    ),
    Case(
        "template-vars-cannot-see-outputs",
        [out("a", v=1), out("b", v="${{ vars.late }}")],
        PromotionPhase.ERRORED,
        {"a": E, "b": K},
        message="variable 'late'",
        template_vars=[{"name": "late", "value": "${{ outputs.a.v }}"}],
    ),
    Case(
        "task-expansion-aliases-vars-and-outputs",
        [
            {"task": {"name": "render"}, "as": "r", "vars": [{"name": "path", "value": "from-step"}]},
            out("after", task="${{ outputs.r.result }}", inner="${{ outputs['r::compose'].result }}"),
            {"task": {"name": "render"}, "vars": [{"name": "path", "value": "second"}]},
        ],
        PromotionPhase.SUCCEEDED,
        {
            "r::first-out": S,
            "r::copy-it": S,
            "r::compose": S,
            "after": S,
            "task-3::first-out": S,
            "task-3::copy-it": S,
            "task-3::compose": S,
        },
        outputs={
            "r": {"result": "from-step/default-mode/tpl", "first": 1},
            "after": {"task": "from-step/default-mode/tpl", "inner": "from-step/default-mode/tpl"},
            "task-3": {"result": "second/default-mode/tpl", "first": 1},
        },
        template_vars=[{"name": "flavour", "value": "tpl"}],
        tasks={
            "render": {
                "vars": [
                    {"name": "path"},
                    {"name": "mode", "value": "default-mode"},
                    {"name": "flavour", "value": "task"},
                ],
                "steps": [
                    {"uses": "compose-output", "as": "first-out", "config": {"first": 1}},
                    {
                        "uses": "copy",
                        "as": "copy-it",
                        "config": {"inPath": "src.txt", "outPath": "${{ vars.path }}.txt"},
                    },
                    {
                        "uses": "compose-output",
                        "as": "compose",
                        "if": "${{ status('copy-it') == 'Succeeded' }}",
                        "config": {"result": "${{ vars.path }}/${{ vars.mode }}/${{ vars.flavour }}"},
                    },
                ],
            }
        },
        files={"src.txt": "x"},
        after={"from-step.txt": "x", "second.txt": "x"},
    ),
    Case(
        "task-outputs-are-scoped-to-the-task",
        [
            out("outer", v="outside"),
            {"task": {"name": "reader", "kind": "ClusterPromotionTask"}, "as": "t"},
        ],
        PromotionPhase.SUCCEEDED,
        {"outer": S, "t::one": S, "t::two": S},
        outputs={"t::two": {"mine": "inside", "outer": "outside", "s": "Succeeded", "unknown": ""}},
        cluster_tasks={
            "reader": {
                "steps": [
                    {"uses": "compose-output", "as": "one", "config": {"v": "inside"}},
                    {
                        "uses": "compose-output",
                        "as": "two",
                        "config": {
                            "mine": "${{ task.outputs.one.v }}",
                            "outer": "${{ outputs.outer.v }}",
                            "s": "${{ status('one') }}",
                            "unknown": "${{ status('outer') }}",
                        },
                    },
                ]
            }
        },
    ),
    Case(
        "task-var-precedence",
        [
            {
                "task": {"name": "t"},
                "as": "x",
                "vars": [{"name": "b", "value": "task-step"}],
            }
        ],
        PromotionPhase.SUCCEEDED,
        {"x::s": S},
        outputs={"x::s": {"a": "stage", "b": "task-step", "c": "inner", "d": "default"}},
        stage_vars=[{"name": "a", "value": "stage"}, {"name": "b", "value": "stage"}],
        tasks={
            "t": {
                "vars": [
                    {"name": "a", "value": "default"},
                    {"name": "b", "value": "default"},
                    {"name": "c", "value": "default"},
                    {"name": "d", "value": "default"},
                ],
                "steps": [
                    {
                        "uses": "compose-output",
                        "as": "s",
                        "vars": [{"name": "c", "value": "inner"}],
                        "config": {
                            "a": "${{ vars.a }}",
                            "b": "${{ vars.b }}",
                            "c": "${{ vars.c }}",
                            "d": "${{ vars.d }}",
                        },
                    }
                ],
            }
        },
    ),
    Case(
        "context-variables",
        [
            out(
                "ctx",
                stage="${{ ctx.stage }}",
                freight="${{ ctx.targetFreight.name }}",
                alias="${{ ctx.targetFreight.alias }}",
                actor="${{ ctx.meta.promotion.actor }}",
                me="${{ ctx.meta.step.alias }}",
                tag="${{ imageFrom('ghcr.io/example/app').Tag }}",
            )
        ],
        PromotionPhase.SUCCEEDED,
        {"ctx": S},
        outputs={
            "ctx": {
                "stage": "dev",
                "freight": "f" * 40,
                "alias": "brave-fox",
                "actor": "octocat",
                "me": "ctx",
                "tag": "v1.2.3",
            }
        },
    ),
    Case(
        "config-that-fails-the-schema-is-failed-with-every-problem",
        [{"uses": "copy", "as": "c", "config": {"inPath": "a", "outPaht": "b", "ignore": "${{ 5 }}"}}],
        PromotionPhase.FAILED,
        {"c": F},
        message="invalid config for step 'c' (copy), 2 problems",
        step_messages={"c": "config.outPaht: unknown field (did you mean 'outPath'?)"},
    ),
    Case(
        "expression-error-names-field-and-column",
        [{"uses": "copy", "as": "c", "config": {"inPath": "${{ outputs.nope.x + 1 }}", "outPath": "b"}}],
        PromotionPhase.ERRORED,
        {"c": E},
        message="config.inPath",
        step_messages={"c": "at column"},
    ),
    Case(
        "if-must-be-a-boolean",
        [{**out("a", v=1), "if": "true"}, {**out("b", v=1), "if": "${{ 'yes' }}"}],
        PromotionPhase.ERRORED,
        {"a": E, "b": E},
        step_messages={"a": "write the condition as ${{ expression }}", "b": "must evaluate to a boolean"},
    ),
    Case(
        "path-escapes-are-refused",
        [
            {
                "uses": "copy",
                "as": "dotdot",
                "continueOnError": True,
                "config": {"inPath": "../outside.txt", "outPath": "x"},
            },
            {
                "uses": "copy",
                "as": "absolute",
                "continueOnError": True,
                "config": {"inPath": "src.txt", "outPath": "/absolute/out"},
            },
            {
                "uses": "copy",
                "as": "link",
                "continueOnError": True,
                "config": {"inPath": "escape/secret.txt", "outPath": "x"},
            },
            {
                "uses": "delete",
                "as": "delete-up",
                "continueOnError": True,
                "config": {"path": "sub/../../outside.txt"},
            },
            {"uses": "delete", "as": "delete-root", "continueOnError": True, "config": {"path": "."}},
            {
                "uses": "delete",
                "as": "delete-through-link",
                "continueOnError": True,
                "config": {"path": "escape/secret.txt"},
            },
            {"uses": "delete", "as": "delete-the-link", "config": {"path": "escape"}},
        ],
        PromotionPhase.SUCCEEDED,
        {
            "dotdot": E,
            "absolute": E,
            "link": E,
            "delete-up": E,
            "delete-root": E,
            "delete-through-link": E,
            "delete-the-link": S,
        },
        files={"src.txt": "x"},
        step_messages={
            "dotdot": "leads outside the work dir",
            "absolute": "is absolute",
            "link": "leads outside the work dir",
            "delete-root": "the work dir itself",
            "delete-through-link": "leads outside the work dir",
        },
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_engine(case: Case, tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "repo",
        case.steps,
        stage_vars=case.stage_vars,
        template_vars=case.template_vars,
        tasks=case.tasks,
        cluster_tasks=case.cluster_tasks,
    )
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (tmp_path / "outside.txt").write_text("outside")
    work = tmp_path / "work"
    work.mkdir()
    (work / "escape").symlink_to(outside)
    for name, content in case.files.items():
        (work / name).write_text(content)

    result = promote(project, work)

    assert {s.alias: s.status for s in result.steps} == case.statuses, [s.message for s in result.steps]
    assert result.phase is case.phase, result.message
    assert case.message in result.message
    for alias, outputs in case.outputs.items():
        assert result.outputs[alias] == outputs
    for alias, text in case.step_messages.items():
        step = result.step(alias)
        assert step is not None
        assert text in step.message, step
    for name, content in case.after.items():
        target = work / name
        assert (target.read_text() if target.exists() else None) == content
    # Nothing outside the work dir was touched, whatever the case tried.
    assert (outside / "secret.txt").read_text() == "secret"
    assert (tmp_path / "outside.txt").read_text() == "outside"


def test_config_problems_carry_the_manifest_position(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "repo", [{"uses": "delete", "as": "d", "config": {"paths": [], "strict": "${{ 'yes' }}"}}]
    )
    result = promote(project, tmp_path / "work")
    step = result.step("d")
    assert step is not None
    assert step.status is StepStatus.FAILED
    assert step.attempts == 0
    shown = sorted(str(p) for p in step.problems)
    assert len(shown) == 2
    text = (tmp_path / "repo/.kargo/90-stage.yaml").read_text().splitlines()
    for problem in step.problems:
        assert problem.file.endswith("90-stage.yaml")
        assert problem.line > 0
        # The line named holds the offending key.
        assert problem.path.rsplit(".", 1)[-1].split("[")[0] in text[problem.line - 1]
    assert any("config.paths: must have at least 1 item" in s for s in shown)
    assert any("config.strict: expected a boolean (true or false), found a string" in s for s in shown)


def test_unknown_step_stops_before_anything_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = write_project(
        tmp_path / "repo",
        [
            {"uses": "delete", "config": {"path": "keep.txt"}},
            {"uses": "argocd-update", "config": {"apps": [{"name": "guestbook"}]}},
        ],
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("still here")
    # The loader and the engine share the registry, so a step gone from it after loading stands for one unknown.
    monkeypatch.delitem(STEPS, "argocd-update")
    result = promote(project, work)
    assert result.phase is PromotionPhase.ERRORED
    assert [s.alias for s in result.steps] == ["step-2"]
    assert "unknown step 'argocd-update'" in result.message
    assert "90-stage.yaml" in result.message  # where the step is written
    assert (work / "keep.txt").read_text() == "still here"


def test_control_flow_stage_succeeds_without_steps(tmp_path: Path) -> None:
    # Like kargo-advanced's prod: no promotion template, so nothing to run.
    project = write_project(tmp_path / "repo", None)
    result = promote(project, tmp_path / "work")
    assert result.phase is PromotionPhase.SUCCEEDED
    assert result.steps == ()


@pytest.mark.parametrize(
    ("step", "grace"),
    [
        ({"uses": "test-sleep", "as": "s", "config": {"seconds": 30}}, 5.0),
        ({"uses": "test-spin", "as": "s", "config": {"seconds": 30}}, 2.0),
    ],
    ids=["subprocess", "python"],
)
def test_abort_stops_the_running_step(step: dict[str, Any], grace: float, tmp_path: Path) -> None:
    project = write_project(tmp_path / "repo", [step, {**out("after", a=1), "if": "${{ always() }}"}])
    abort = threading.Event()
    threading.Timer(0.5, abort.set).start()
    started = time.monotonic()
    result = promote(project, tmp_path / "work", abort=abort)
    assert time.monotonic() - started < grace
    assert result.phase is PromotionPhase.ABORTED
    assert [(s.alias, s.status) for s in result.steps] == [("s", A)]  # not even always() runs after an abort
    pid_file = tmp_path / "work" / "sleep.pid"
    if pid_file.exists():
        assert gone_soon(int(pid_file.read_text()))


def test_abort_before_the_first_step(tmp_path: Path) -> None:
    project = write_project(tmp_path / "repo", [out("a", v=1)])
    abort = threading.Event()
    abort.set()
    result = promote(project, tmp_path / "work", abort=abort)
    assert result.phase is PromotionPhase.ABORTED
    assert result.steps == ()


def test_timeout_kills_a_running_subprocess(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "repo",
        [{"uses": "test-sleep", "as": "s", "retry": {"timeout": "1s"}, "config": {"seconds": 30}}],
    )
    started = time.monotonic()
    result = promote(project, tmp_path / "work")
    assert time.monotonic() - started < 5
    step = result.step("s")
    assert step is not None
    assert step.status is StepStatus.ERRORED
    assert step.message == "step 's' timed out after 1s"
    assert gone_soon(int((tmp_path / "work" / "sleep.pid").read_text()))


def test_timings_and_observer(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "repo", [out("a", v=1), {"uses": "test-spin", "as": "spin", "config": {"seconds": 0.2}}]
    )
    seen: list[StepRun] = []
    options = EngineOptions(poll_interval=0.01, retry_backoff=0.01, on_step=seen.append)
    result = promote(project, tmp_path / "work", options=options)
    assert [s.alias for s in seen] == ["a", "spin"]
    spin = result.step("spin")
    assert spin is not None
    assert spin.started_at is not None
    assert spin.finished_at is not None
    assert spin.run_seconds >= 0.19
    assert spin.duration >= spin.run_seconds
    assert result.started_at is not None
    assert result.finished_at is not None
    assert (
        result.started_at
        <= result.steps[0].started_at
        <= spin.started_at
        <= spin.finished_at
        <= result.finished_at
    )  # type: ignore[operator]
    as_json = result.to_json()
    assert as_json["phase"] == "Succeeded"
    assert as_json["steps"][1]["durationSeconds"] >= 0.19


def test_freight_collection_keeps_other_origins(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "repo",
        [
            out(
                "imgs",
                app="${{ imageFrom('ghcr.io/example/app', warehouse('app')).Tag }}",
                other="${{ imageFrom('ghcr.io/example/app', warehouse('other')).Tag }}",
            )
        ],
    )
    old = freight("e" * 40, tag="v1.0.0")
    other = freight("d" * 40, tag="v9", warehouse="other")
    result = promote(project, tmp_path / "work", collection=[old, other])
    assert result.phase is PromotionPhase.SUCCEEDED, result.message
    assert result.outputs["imgs"] == {"app": "v1.2.3", "other": "v9"}


def test_missing_required_task_var_is_refused_before_running(tmp_path: Path) -> None:
    # The loader refuses it too; plan_promotion checks again for Projects built another way.
    task = PromotionTask.model_validate(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "PromotionTask",
            "metadata": {"name": "t"},
            "spec": {"vars": [{"name": "needed"}], "steps": [{"uses": "fail"}]},
        }
    )
    stage = Stage.model_validate(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": "dev"},
            "spec": {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
                ],
                "promotionTemplate": {
                    "spec": {
                        "steps": [
                            {"task": {"name": "t"}},
                            {"task": {"name": "gone"}},
                            {"task": {"name": "t"}, "as": "x", "if": "${{ true }}", "config": {"a": 1}},
                        ]
                    }
                },
            },
        }
    )
    project = Project(name="p", config_dir=tmp_path, stages={"dev": stage}, promotion_tasks={"t": task})
    with pytest.raises(InvalidInputError) as caught:
        plan_promotion(project, stage)
    lines = caught.value.lines()
    assert any("requires variable 'needed', which is not set" in line for line in lines)
    assert any("PromotionTask 'gone' does not exist" in line for line in lines)
    assert any("steps[2].if: a step referencing a task cannot have an `if`" in line for line in lines)
    assert any("steps[2].config: a step referencing a task cannot have a config" in line for line in lines)
    with pytest.raises(InvalidInputError, match="requires variable 'needed'"):
        write_project(
            tmp_path / "repo",
            [{"task": {"name": "t"}}],
            tasks={"t": task.spec.model_dump(by_alias=True, exclude_none=True)},
        )


def test_work_dir_that_is_a_file_is_invalid_input(tmp_path: Path) -> None:
    project = write_project(tmp_path / "repo", [out("a", v=1)])
    work = tmp_path / "work"
    work.write_text("not a dir")
    with pytest.raises(InvalidInputError, match="not a directory"):
        promote(project, work, options=FAST)


@pytest.mark.parametrize(
    ("openpr", "phase"), [("false", PromotionPhase.SUCCEEDED), ("true", PromotionPhase.ERRORED)]
)
def test_unimplemented_step_behind_an_if_errs_only_when_reached(
    tmp_path: Path, openpr: str, phase: PromotionPhase, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kargo-simple's PromotionTask has optional steps behind an `if`.
    project = write_project(
        tmp_path / "repo",
        [
            out("first", a=1),
            {
                "uses": "argocd-update",
                "as": "open-pr",
                "if": "${{ vars.openpr == 'true' }}",
                "config": {"x": 1},
            },
        ],
        template_vars=[{"name": "openpr", "value": openpr}],
    )
    monkeypatch.delitem(STEPS, "argocd-update")  # gone from the registry after loading: a step unknown here
    result = promote(project, tmp_path / "work")
    assert result.phase is phase
    statuses = {s.alias: s.status for s in result.steps}
    assert statuses == {"first": S, "open-pr": K if openpr == "false" else E}
    if openpr == "true":
        assert "unknown step 'argocd-update'" in result.message


@pytest.mark.parametrize(
    ("example", "stage", "aliases"),
    [
        (
            "kargo-simple",
            "dev",
            [
                "task-1::step-1",
                "task-1::update-image",
                "task-1::commit",
                "task-1::step-4",
                "task-1::push",
                "task-1::open-pr",
                "task-1::wait-for-pr",
            ],
        ),
        (
            "kargo-advanced",
            "prod-west",
            [
                "task-1::step-1",
                "task-1::step-2",
                "task-1::update-image",
                "task-1::step-4",
                "task-1::commit",
                "task-1::step-6",
                "task-1::step-7",
            ],
        ),
    ],
)
def test_real_examples_expand_as_kargo_does(example: str, stage: str, aliases: list[str]) -> None:
    from kargo_actions.manifests import load_project
    from tests.conftest import shared_path

    project = load_project(shared_path("kargo-examples", example, "kargo"))
    plan = plan_promotion(project, project.stages[stage])
    assert [s.alias for s in plan.steps] == aliases
    assert {s.task for s in plan.steps} == {"task-1"}
    first = plan.steps[0]
    assert first.uses == "git-clone"
    assert {v.name for v in first.vars} >= {"repoURL", "branch", "image"}
    update = next(s for s in plan.steps if s.short_alias == "update-image")
    assert update.config is not None
    assert update.config["path"] == "./src/env/${{ ctx.stage }}"


def test_result_as_kargo_promotion_status(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "repo", [out("a", v=1), fail("stop", **{"as": "f", "continueOnError": True})]
    )
    result = promote(project, tmp_path / "work")
    status = result.promotion_status().wire()
    assert status["phase"] == "Succeeded"
    assert status["currentStep"] == 1
    assert [m["alias"] for m in status["stepExecutionMetadata"]] == ["a", "f"]
    assert status["stepExecutionMetadata"][1]["status"] == "Failed"
    assert status["stepExecutionMetadata"][1]["continueOnError"] is True
    assert status["state"]["a"] == {"v": 1}
    assert status["startedAt"].endswith("Z")


def test_work_dir_must_be_empty_when_asked(tmp_path: Path) -> None:
    project = write_project(tmp_path / "repo", [out("a", v=1)])
    work = tmp_path / "work"
    work.mkdir()
    (work / "leftover").write_text("x")
    with pytest.raises(InvalidInputError, match="the work dir is not empty"):
        run_promotion(project, project.stages["dev"], freight(), work_dir=work, fresh_work_dir=True)
    result = run_promotion(
        project, project.stages["dev"], freight(), work_dir=tmp_path / "new", fresh_work_dir=True
    )
    assert result.succeeded
    stage, ulid, short = result.name.split(".")
    assert (stage, len(ulid), short) == ("dev", 26, "fffffff")


def test_a_step_that_cannot_be_imported_is_refused(tmp_path: Path) -> None:
    from kargo_actions.promotion.registry import get_step

    def resolve(name: str) -> Any:
        if name == "copy":
            import importlib

            importlib.import_module("kargo_actions.promotion.steps.no_such_module")
        return get_step(name)

    project = write_project(tmp_path / "repo", [{"uses": "copy", "config": {"inPath": "a", "outPath": "b"}}])
    result = run_promotion(
        project, project.stages["dev"], freight(), work_dir=tmp_path / "w", resolve_step=resolve
    )
    assert result.phase is PromotionPhase.ERRORED
    assert "step 'copy' cannot be loaded: No module named" in result.message
