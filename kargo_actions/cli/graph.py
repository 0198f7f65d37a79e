"""`kargo-actions graph`: draw the pipeline (Warehouses, Stages, Freight edges) as Mermaid, dot or JSON."""

from __future__ import annotations

import click

from kargo_actions.cli.context import AppContext, pass_app


def run_graph(app: AppContext, fmt: str | None) -> int:
    """Load the project and print its graph in the chosen format (JSON when --output json and no --format)."""
    from kargo_actions.manifests import load_project
    from kargo_actions.report.graph import RENDERERS, build_graph

    chosen = fmt or ("json" if app.json else "mermaid")
    project = load_project(app.config_dir)
    click.echo(RENDERERS[chosen](build_graph(project)), nl=False)
    return 0


@click.command("graph")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "json"]),
    default=None,
    help="Output format.  [default: mermaid, or json with --output json]",
)
@pass_app
def graph(app: AppContext, fmt: str | None) -> int:
    """Draw the pipeline: Warehouses, Stages, fan-out/fan-in and control-flow Stages."""
    return run_graph(app, fmt)
