"""`kargo-actions step run NAME`: one promotion step alone, as the per-step composite actions call it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from kargo_actions.cli.context import AppContext, pass_app


def _read_json(raw: str, option: str) -> Any:
    """JSON given inline, or `@FILE` holding it."""
    from kargo_actions.errors import InvalidInputError, Problem

    source, text = option, raw
    if raw.startswith("@"):
        source = raw[1:]
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as err:
            raise InvalidInputError(
                [Problem(file=source, message=f"cannot read {option}: {err.strerror}")]
            ) from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInputError(
            [Problem(file=source, line=err.lineno, col=err.colno, message=f"invalid JSON: {err.msg}")]
        ) from err


@click.group("step")
def step_group() -> None:
    """Run or list promotion steps."""


@step_group.command("list")
@pass_app
def list_steps(app: AppContext) -> int:
    """The steps kargo-actions implements."""
    from kargo_actions.promotion.registry import step_names

    names = sorted(step_names())
    if app.json:
        app.emit_json(names)
    else:
        click.echo("\n".join(names))
    return 0


@step_group.command("run")
@click.argument("name")
@click.option("--config", "config_arg", required=True, metavar="JSON|@FILE", help="The step's config.")
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the step works; its paths are confined to it.  [default: the current directory]",
)
@click.option(
    "--context",
    "context_arg",
    metavar="JSON|@FILE",
    help="What the config's expressions see: ctx, vars, freight (Kargo Freight list), outputs, task.",
)
@click.option(
    "--alias", default="", help="The step's alias (ctx.meta.step.alias).  [default: the context's, else step]"
)
@click.option(
    "--github-output",
    is_flag=True,
    help="Also write step-status, step-message, step-outputs (JSON) and each output to $GITHUB_OUTPUT.",
)
def run_step(
    name: str,
    config_arg: str,
    work_dir: Path | None,
    context_arg: str | None,
    alias: str,
    github_output: bool,
) -> int:
    """Run step NAME once with --config and print its result and outputs as JSON.

    Exit 0 when it succeeded, 1 when it failed, errored or was aborted (SIGTERM/SIGINT), 2 when the step
    does not exist or its config does not fit it (schema or expression errors).
    """
    from kargo_actions.cli.signals import abort_on_signals
    from kargo_actions.errors import ExitCode, InvalidInputError, Problem
    from kargo_actions.promotion.single import StepRunContext, run_single_step
    from kargo_actions.promotion.step_api import StepStatus

    config = _read_json(config_arg, "--config")
    if not isinstance(config, dict):
        raise InvalidInputError([Problem(path="--config", message="the config must be a JSON object")])
    context = StepRunContext.parse(_read_json(context_arg, "--context") if context_arg else {})
    with abort_on_signals() as abort:
        result = run_single_step(
            name, config, work_dir=work_dir or Path.cwd(), context=context, alias=alias, abort=abort
        )
    step = result.steps[0] if result.steps else None
    click.echo(
        json.dumps(step.to_json() if step else result.to_json(), indent=2, ensure_ascii=False, default=str)
    )
    if github_output:
        _write_github_output(step.status if step else "Errored", step.message if step else "", step)
    if step is not None and step.status in (StepStatus.SUCCEEDED, StepStatus.SKIPPED):
        return int(ExitCode.OK)
    if step is not None and step.problems and step.attempts == 0:
        return int(ExitCode.INVALID)  # the config does not fit, or an expression in it is wrong
    return int(ExitCode.FAILED)


def _write_github_output(status: str, message: str, step: Any) -> None:
    """The step's result as GitHub Actions outputs (the per-step composite actions read them)."""
    from kargo_actions.github.output import valid_output_name, write_outputs

    outputs = dict(step.outputs) if step is not None else {}
    values: dict[str, Any] = {"step-status": str(status), "step-message": message, "step-outputs": outputs}
    for key, value in outputs.items():
        if valid_output_name(key):  # a key GitHub cannot name stays in step-outputs only
            values.setdefault(key, value)
    write_outputs(values)
