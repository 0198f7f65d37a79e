"""The step contract: path confinement, run_command (abort, deadline, errors), config validation."""

from __future__ import annotations

import inspect
import threading
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from kargo_actions.errors import InvalidInputError
from kargo_actions.manifests import load_project
from kargo_actions.promotion.step_api import (
    PathEscapeError,
    StepAborted,
    StepConfigError,
    StepContext,
    StepError,
    StepTimedOut,
    TerminalStepError,
    validate_config,
)
from kargo_actions.promotion.steps.helm_template import HelmTemplateConfig
from kargo_actions.promotion.steps.support.process import run_command
from kargo_actions.report.step_docs import field_descriptions
from tests.promotion.helpers import gone_soon


@pytest.fixture
def work(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    (root / "sub").mkdir(parents=True)
    (root / "sub/file.txt").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "up").symlink_to(outside)
    (root / "inner").symlink_to("sub")
    (root / "dangling").symlink_to(tmp_path / "nowhere")
    return root


@pytest.mark.parametrize(
    ("relative", "inside"),
    [
        ("sub/file.txt", "sub/file.txt"),
        ("./sub/../sub/file.txt", "sub/file.txt"),
        ("inner/file.txt", "sub/file.txt"),  # a symlink that stays inside is fine
        ("new/dir", "new/dir"),
        (".", "."),
        ("..", None),
        ("sub/../../x", None),
        ("/etc/passwd", None),
        ("up", None),
        ("up/anything", None),
        ("dangling", None),
    ],
)
def test_path_confinement(work: Path, relative: str, inside: str | None) -> None:
    ctx = StepContext(work_dir=work)
    if inside is None:
        with pytest.raises(PathEscapeError):
            ctx.path(relative)
    else:
        assert ctx.path(relative) == (work / inside).resolve()


def test_empty_path_is_refused(work: Path) -> None:
    with pytest.raises(TerminalStepError, match="outPath: a path is required"):
        StepContext(work_dir=work).path("", field_name="outPath")


def test_run_command_returns_output(tmp_path: Path) -> None:
    done = run_command(
        StepContext(work_dir=tmp_path), ["sh", "-c", "cat; echo err >&2"], input="hello", cwd=tmp_path
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "hello", "err\n")


def test_run_command_failure_carries_stderr(tmp_path: Path) -> None:
    ctx = StepContext(work_dir=tmp_path)
    with pytest.raises(StepError, match=r"git status failed \(exit 128\): fatal: not a git repository"):
        run_command(ctx, ["git", "status"], cwd=tmp_path)
    assert run_command(ctx, ["git", "status"], cwd=tmp_path, check=False).returncode == 128


def test_missing_tool_is_terminal(tmp_path: Path) -> None:
    with pytest.raises(TerminalStepError, match="'no-such-tool-xyz' is not installed or not on PATH"):
        run_command(StepContext(work_dir=tmp_path), ["no-such-tool-xyz"])


def test_env_replaces_the_context_env(tmp_path: Path) -> None:
    ctx = StepContext(work_dir=tmp_path, env={"PATH": "/usr/bin:/bin", "A": "from-ctx"})
    assert run_command(ctx, ["sh", "-c", "echo $A"]).stdout == "from-ctx\n"
    assert (
        run_command(ctx, ["sh", "-c", "echo ${A:-unset}"], env={"PATH": "/usr/bin:/bin"}).stdout == "unset\n"
    )


def _grandchild_script(pid_file: Path) -> list[str]:
    # The shell starts a grandchild (as git starts helpers); both must die with the process group.
    return ["sh", "-c", f'sleep 30 & echo $! > "{pid_file}"; wait']


def test_abort_kills_the_process_group(tmp_path: Path) -> None:
    abort = threading.Event()
    pid_file = tmp_path / "pid"
    threading.Timer(0.3, abort.set).start()
    started = time.monotonic()
    with pytest.raises(StepAborted, match="the child process was stopped"):
        run_command(StepContext(work_dir=tmp_path, abort=abort), _grandchild_script(pid_file))
    assert time.monotonic() - started < 4
    assert gone_soon(int(pid_file.read_text()))


def test_deadline_stops_the_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    ctx = StepContext(work_dir=tmp_path, deadline=time.monotonic() + 0.3)
    with pytest.raises(StepTimedOut):
        run_command(ctx, _grandchild_script(pid_file))
    assert gone_soon(int(pid_file.read_text()))


def test_sleep_wakes_on_abort(tmp_path: Path) -> None:
    abort = threading.Event()
    threading.Timer(0.1, abort.set).start()
    started = time.monotonic()
    with pytest.raises(StepAborted):
        StepContext(work_dir=tmp_path, abort=abort).sleep(10)
    assert time.monotonic() - started < 2


def _config_models() -> list[type[BaseModel]]:
    """Every registered step's config model and the StepConfig models nested in it."""
    from kargo_actions.promotion.registry import get_step, step_names
    from kargo_actions.report.step_docs import _nested_model

    found: dict[str, type[BaseModel]] = {}
    todo: list[type[BaseModel]] = [get_step(name).config_model for name in sorted(step_names())]
    while todo:
        model = todo.pop()
        key = f"{model.__module__}.{model.__qualname__}"
        if key in found:
            continue
        found[key] = model
        for info in model.model_fields.values():
            nested = _nested_model(info.annotation)
            if nested is not None:
                todo.append(nested[0])
    return list(found.values())


def test_field_descriptions_are_pydantics_attribute_docstrings() -> None:
    # field_descriptions reads docstrings only when asked; it must find what use_attribute_docstrings would.
    from pydantic._internal._docs_extraction import extract_docstrings_from_cls

    models = _config_models()
    assert len(models) > 30
    documented = 0
    for model in models:
        got = field_descriptions(model)
        for name, info in model.model_fields.items():
            owner = next(c for c in model.__mro__ if name in inspect.get_annotations(c))
            expected = info.description or extract_docstrings_from_cls(owner, use_inspect=True).get(name, "")
            assert got[name] == expected, f"{model.__qualname__}.{name}"
            documented += bool(expected)
    assert documented > 100


def test_a_step_config_reads_as_a_manifest_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One translator of pydantic errors: the same faults say the same thing in a manifest and in a config.
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".kargo").mkdir()
    (tmp_path / ".kargo/warehouse.yaml").write_text(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata:\n  name: w\nspec:\n"
        "  interval: {a: 1}\n  freightCreationPolicy: Manul\n  subscriptons: []\n"
    )
    with pytest.raises(InvalidInputError) as loading:
        load_project(tmp_path / ".kargo")
    assert loading.value.lines() == [
        ".kargo/warehouse.yaml:6:3: spec.interval: expected a string, found a mapping",
        ".kargo/warehouse.yaml:7:3: spec.freightCreationPolicy: must be one of 'Automatic' or 'Manual',"
        " not 'Manul' (did you mean 'Manual'?)",
        ".kargo/warehouse.yaml:8:3: spec.subscriptons: unknown field (did you mean 'subscriptions'?)",
    ]
    config = {"path": "c", "outPath": {"a": 1}, "releaseName": "r", "outLayout": "falt", "valueFiles": []}
    with pytest.raises(StepConfigError) as validating:
        validate_config("helm-template", HelmTemplateConfig, config)
    assert validating.value.lines() == [
        "config.outPath: expected a string, found a mapping",
        "config.outLayout: must be one of 'helm' or 'flat', not 'falt' (did you mean 'flat'?)",
        "config.valueFiles: unknown field (did you mean 'valuesFiles'?)",
    ]
    assert validating.value.locs == (("outPath",), ("outLayout",), ("valueFiles",))
