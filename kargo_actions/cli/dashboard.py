"""`kargo-actions dashboard --out DIR`: the pipeline as a static HTML site, read from the manifests and the ledger."""

from __future__ import annotations

from pathlib import Path

import click

from kargo_actions.cli.context import AppContext, pass_app
from kargo_actions.cli.ledger_options import ledger_options


@click.command("dashboard")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory to write the site to, relative to the current directory (created; replaced atomically "
    "when a previous dashboard is there).",
)
@click.option("--title", default=None, help="Title of the site.  [default: '<project> pipeline']")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Newest N Freight per Warehouse get a page and a timeline row (Freight in a Stage always do).  "
    "[default: all]",
)
@click.option(
    "--force", is_flag=True, help="Replace DIR even when it holds files this command did not write."
)
@click.option("--fetch/--no-fetch", default=True, show_default=True, help="Fetch the ledger first.")
@ledger_options
@pass_app
def dashboard_command(
    app: AppContext,
    /,
    out: Path,
    title: str | None,
    limit: int | None,
    force: bool,
    fetch: bool,
    **ledger_opts: str | None,
) -> int:
    """Write a static site (no server, no network fetches; relative links, so it works from file:// and
    from GitHub Pages): the pipeline graph, a card per Stage, the Freight timeline per Warehouse, a page
    per Stage (promotions, verifications) and per Freight (artifacts, where it is, soak).
    `--output json` prints the pages and counts written."""
    from kargo_actions.cli.ledger_options import open_project_ledger
    from kargo_actions.manifests import load_project
    from kargo_actions.report.dashboard_site import build_site

    project = load_project(app.config_dir)
    if not out.is_absolute():
        out = Path.cwd() / out
    with open_project_ledger(app, project.settings, **ledger_opts) as ledger:
        if fetch:
            ledger.sync()
        summary = build_site(project, ledger, out, title=title, limit=limit, force=force)
    if app.json:
        app.emit_json(summary.to_json())
    else:
        pages = summary.pages
        click.echo(
            f"wrote {sum(pages.values())} pages to {summary.out} "
            f"({pages['stages']} Stage, {pages['warehouses']} Warehouse, {pages['freight']} Freight pages "
            f"with {summary.counts['freightShown']} Freight); "
            f"open {summary.out / 'index.html'}"
        )
    for problem in summary.problems:
        click.echo(f"error: {problem}", err=True)
    return 2 if summary.problems else 0
