"""`kargo-actions validate`: load and check every manifest; exit 0 with a summary or 2 with the problems."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import click

from kargo_actions.cli.context import AppContext, pass_app

if TYPE_CHECKING:
    from kargo_actions.errors import Problem
    from kargo_actions.model.project import Project


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {**dataclasses.asdict(problem), "text": str(problem)}


def summarize(project: Project) -> dict[str, Any]:
    """Counts of what was loaded, as `validate --output json` reports them."""
    control_flow = [s for s in project.stages.values() if s.is_control_flow]
    return {
        "project": project.name,
        "warehouses": len(project.warehouses),
        "stages": len(project.stages),
        "controlFlowStages": len(control_flow),
        "promotionTasks": len(project.promotion_tasks) + len(project.cluster_promotion_tasks),
        "analysisTemplates": len(project.analysis_templates) + len(project.cluster_analysis_templates),
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_line(project: Project) -> str:
    counts = summarize(project)
    parts = [
        _plural(counts["warehouses"], "warehouse"),
        _plural(counts["stages"], "stage")
        + (f" ({counts['controlFlowStages']} control-flow)" if counts["controlFlowStages"] else ""),
        _plural(counts["promotionTasks"], "promotion task"),
        _plural(counts["analysisTemplates"], "analysis template"),
    ]
    tail = f"; {_plural(len(project.warnings), 'warning')}" if project.warnings else ""
    return f"{project.name}: valid: {', '.join(parts)}{tail}"


def run_validate(app: AppContext, *, strict: bool) -> int:
    """Load the manifests; report the problems (exit 2) or a one-line summary (exit 0)."""
    from kargo_actions.errors import ExitCode, InvalidInputError
    from kargo_actions.manifests import display_path, load_project
    from kargo_actions.promotion.tasks import resume_warnings

    try:
        project = load_project(app.config_dir, strict=strict)
        waits = resume_warnings(project)
        if strict and waits:
            raise InvalidInputError(waits)
        project = dataclasses.replace(project, warnings=tuple(sorted([*project.warnings, *waits])))
    except InvalidInputError as err:
        if not app.json:
            raise
        app.emit_json(
            {
                "valid": False,
                "configDir": display_path(app.config_dir),
                "problems": [_problem_json(p) for p in err.problems],
            }
        )
        return int(ExitCode.INVALID)
    if app.json:
        app.emit_json(
            {
                "valid": True,
                "configDir": display_path(app.config_dir),
                **summarize(project),
                "warnings": [_problem_json(p) for p in project.warnings],
                "notices": list(project.notices),
            }
        )
        return int(ExitCode.OK)
    for notice in project.notices:
        click.echo(f"note: {notice}", err=True)
    for warning in project.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(summary_line(project))
    return int(ExitCode.OK)


@click.command("validate")
@click.option("--strict", is_flag=True, help="Treat warnings (deprecated fields, ...) as errors: exit 2.")
@pass_app
def validate(app: AppContext, strict: bool) -> int:
    """Load and check the Kargo manifests in the config dir."""
    return run_validate(app, strict=strict)
