"""`kargo-actions expr`: evaluate one expression or render one template against given variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def _load_context(raw: str | None) -> dict[str, Any]:
    from kargo_actions.errors import InvalidInputError, Problem

    if raw is None:
        return {}
    source = "--context"
    text = raw
    if raw.startswith("@"):
        path = Path(raw[1:])
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise InvalidInputError(
                [Problem(file=source, message=f"cannot read the context file: {err.strerror}")]
            ) from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInputError(
            [Problem(file=source, line=err.lineno, col=err.colno, message=f"invalid JSON: {err.msg}")]
        ) from err
    if not isinstance(data, dict):
        raise InvalidInputError(
            [Problem(file=source, message="the context must be a JSON object of variables")]
        )
    return data


def build_environment(context: dict[str, Any]) -> Any:
    """Kargo's functions plus the context's variables; `freight`, `secrets`, `configMaps`, `stageMetadata`
    and `stepStatuses` feed the functions instead of becoming variables."""
    from pydantic import ValidationError

    from kargo_actions.errors import InvalidInputError, Problem
    from kargo_actions.expressions import Environment, KargoEnvironment
    from kargo_actions.model.freight import Freight
    from kargo_actions.model.messages import dotted, field_problems

    special = {"freight", "secrets", "configMaps", "stageMetadata", "stepStatuses"}
    try:
        freight = [Freight.model_validate(f) for f in context.get("freight", [])]
    except ValidationError as err:
        raise InvalidInputError(
            [
                Problem(
                    path="freight",
                    message=f"not a Kargo Freight: {p.message} at {dotted(p.loc)}",
                    hint=p.hint,
                )
                for p in field_problems(err, Freight)
            ]
        ) from err
    secrets = dict(context.get("secrets", {}))
    config_maps = dict(context.get("configMaps", {}))
    stage_metadata = dict(context.get("stageMetadata", {}))
    statuses = dict(context.get("stepStatuses", {}))
    ctx = context.get("ctx", {}) if isinstance(context.get("ctx"), dict) else {}
    target_name = (ctx.get("targetFreight") or {}).get("name")
    kargo = KargoEnvironment(
        project=str(ctx.get("project", "")),
        stage=str(ctx.get("stage", "")),
        target_freight=next((f for f in freight if f.name == target_name), freight[0] if freight else None),
        freight=freight,
        outputs={},
        step_statuses=lambda: statuses,
        secrets=lambda name: secrets.get(name, {}),
        config_maps=lambda name: config_maps.get(name, {}),
        stage_metadata=lambda name: stage_metadata.get(name),
    )
    variables = kargo.variables()
    variables.update({k: v for k, v in context.items() if k not in special})
    return Environment(variables, kargo.functions())


@click.command("expr")
@click.argument("expression", required=False)
@click.option(
    "--context", "context_arg", metavar="JSON|@FILE", help="Variables as a JSON object, or @file holding one."
)
@click.option("--template", "template", metavar="TEXT", help="Render this text with ${{ }} / ${% %} instead.")
def expr_command(expression: str | None, context_arg: str | None, template: str | None) -> int:
    """Evaluate EXPRESSION (expr-lang, as in Kargo and Argo Rollouts) and print the result as JSON.

    Variables come from --context: ctx, vars, outputs, task, result, args, ...; the keys freight (a list
    of Kargo Freight), secrets, configMaps, stageMetadata and stepStatuses feed Kargo's functions.
    """
    from kargo_actions.errors import InvalidInputError
    from kargo_actions.expressions import ExpressionError, evaluate_plain, render_template

    if (expression is None) == (template is None):
        raise InvalidInputError("give either an EXPRESSION or --template TEXT (one of them)")
    env = build_environment(_load_context(context_arg))
    try:
        plain = (
            render_template(template, env) if template is not None else evaluate_plain(str(expression), env)
        )
    except ExpressionError as err:
        click.echo(f"error: {err.message}" + (f" ({err.hint})" if err.hint else ""), err=True)
        for line in err.caret_lines():
            click.echo(line, err=True)
        return 2
    click.echo(json.dumps(plain, indent=2, ensure_ascii=False))
    return 0
