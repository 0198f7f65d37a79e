"""`kargo-actions discover`: run Warehouse discovery, create Freight, record the run on the ledger."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from kargo_actions.cli.context import AppContext, pass_app
from kargo_actions.cli.ledger_options import ledger_options, open_project_ledger

if TYPE_CHECKING:
    from kargo_actions.discovery.run import DiscoveryRun, SubscriptionRef, SubscriptionRun, WarehouseRun


def _outcome(run: SubscriptionRun) -> str:
    if run.error is not None:
        return f"FAILED: {run.error}"
    state = "unchanged" if run.unchanged else "found"
    return f"{state} {run.found}, newest {run.newest()}"


class PlainProgress:
    """One line per subscription when its result is in (logs, pipes)."""

    def start(self, ref: SubscriptionRef) -> None:
        pass

    def done(self, run: SubscriptionRun) -> None:
        mark = "fail" if run.error is not None else "ok  "
        click.echo(f"{mark} {run.ref.label}: {_outcome(run)} ({run.seconds:.2f}s)", err=True)
        for warning in run.warnings:
            click.echo(f"     warning: {warning}", err=True)

    def waiting(self, what: str, seconds: float) -> None:
        click.echo(_waiting_line(what, seconds), err=True)


def _waiting_line(what: str, seconds: float) -> str:
    return f"still waiting for {what}: {seconds:.0f} s"


class ActionsProgress:
    """A collapsible ::group:: per subscription in GitHub Actions logs, ::error:: for a failure."""

    def start(self, ref: SubscriptionRef) -> None:
        pass

    def done(self, run: SubscriptionRun) -> None:
        lines = [f"::group::{run.ref.label}: {_escape(_outcome(run).splitlines()[0])} ({run.seconds:.2f}s)"]
        result = run.result
        if result is not None:
            for image in result.images:
                lines.append(f"image {image.repo_url}:{image.tag}@{image.digest}")
            for commit in result.commits:
                lines.append(
                    f"commit {commit.id} {commit.tag or commit.branch or ''} {commit.message or ''}".rstrip()
                )
            for chart in result.charts:
                lines.append(f"chart {chart.repo_url} {chart.name} {chart.version}".rstrip())
        lines += [f"::warning::{_escape(w)}" for w in run.warnings]
        lines.append("::endgroup::")
        if run.error is not None:
            lines.append(
                f"::error title=discover {run.ref.warehouse}::{_escape(run.ref.label + ': ' + run.error)}"
            )
        click.echo("\n".join(lines), err=True)

    def waiting(self, what: str, seconds: float) -> None:
        click.echo(_waiting_line(what, seconds), err=True)  # a plain line: no annotation per tick


def _escape(text: str) -> str:
    """Workflow-command data escaping (%, CR, LF), so a message cannot end or inject a command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


class RichProgress:
    """A live progress bar on a terminal, with a line per finished subscription."""

    def __init__(self, total: int, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )
        self.task = self.progress.add_task("discovering", total=total)

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, ref: SubscriptionRef) -> None:
        self.progress.update(self.task, description=ref.label)

    def done(self, run: SubscriptionRun) -> None:
        from rich.markup import escape

        mark = "[red]✗[/red]" if run.error is not None else "[green]✓[/green]"
        self.progress.console.print(
            f"{mark} {escape(run.ref.label)}: {escape(_outcome(run))} [dim]({run.seconds:.2f}s)[/dim]",
            highlight=False,
        )
        self.progress.advance(self.task)

    def waiting(self, what: str, seconds: float) -> None:
        from rich.markup import escape

        self.progress.console.print(f"[dim]{escape(_waiting_line(what, seconds))}[/dim]", highlight=False)


def _artifacts_line(run: SubscriptionRun) -> str:
    chart = f" {run.ref.chart_name}" if run.ref.chart_name else ""
    return f"{run.ref.kind} {run.ref.repo_url}{chart}: {run.newest() or '-'}"


def _summary_text(result: DiscoveryRun) -> list[str]:
    lines = []
    for w in result.warehouses:
        lines.append(f"{w.name}: {w.message}")
        for run in w.subscriptions:
            if run.ok:
                lines.append(f"  {_artifacts_line(run)}")
    created = result.created()
    lines.append(
        f"{len(result.warehouses)} Warehouse(s), "
        f"{sum(len(w.subscriptions) for w in result.warehouses)} subscription(s), "
        f"{len(created)} Freight created, {len(result.errors())} error(s)"
    )
    return lines


def _summary_markdown(result: DiscoveryRun) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    out = ["## kargo-actions discover", ""]
    out += ["| Warehouse | Subscription | Found | Newest | Result |", "|---|---|---|---|---|"]
    for w in result.warehouses:
        for run in w.subscriptions:
            named = f" ({run.ref.name})" if run.ref.name else ""
            if run.error is not None:
                status, found = f"failed: {run.error}", "-"
            else:
                status = "unchanged" if run.unchanged else "ok"
                found = str(run.found)
            out.append(
                f"| {cell(w.name)} | {cell(run.ref.kind + ' ' + run.ref.repo_url + named)} | {found} "
                f"| {cell(run.newest())} | {cell(status)} |"
            )
    out += ["", "### Freight", ""]
    for w in result.warehouses:
        out.append(f"- **{cell(w.name)}**: {cell(w.message)}")
    return "\n".join(out) + "\n"


def _json(result: DiscoveryRun) -> dict[str, Any]:
    def subscription(run: SubscriptionRun) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": run.ref.index,
            "name": run.ref.name,
            "kind": run.ref.kind,
            "repoURL": run.ref.repo_url,
            "status": "failed" if run.error is not None else ("unchanged" if run.unchanged else "discovered"),
        }
        if run.result is not None:
            wire = run.result.wire()
            data.update({k: wire[k] for k in ("images", "commits", "charts") if wire.get(k)})
        if run.warnings:
            data["warnings"] = list(run.warnings)
        if run.error is not None:
            data["error"] = run.error
        return data

    def warehouse(w: WarehouseRun) -> dict[str, Any]:
        return {
            "warehouse": w.name,
            "result": w.decision,
            "message": w.message,
            "subscriptions": [subscription(s) for s in w.subscriptions],
            "freight": [w.freight.wire()] if w.decision == "created" and w.freight is not None else [],
            "errors": w.errors(),
        }

    return {
        "warehouses": [warehouse(w) for w in result.warehouses],
        "created": [f.wire() for f in result.created()],
        "ledgerCommit": result.recorded.ledger_commit if result.recorded is not None else None,
        "errors": result.errors(),
    }


@click.command("discover")
@click.option(
    "--warehouse", "-w", "warehouses", multiple=True, help="Only this Warehouse (repeatable; default: all)."
)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Choice(["text", "json"]),
    default=None,
    help="text (progress and a summary) or json (what was found and created); default: the global --output.",
)
@click.option(
    "--timeout",
    "timeout",
    metavar="DURATION",
    default=None,
    help="Deadline of each subscription (Go duration, e.g. 90s); default: KARGO_ACTIONS_DISCOVERY_TIMEOUT, "
    "else Settings discoveryTimeout, else 5m.",
)
@click.option(
    "--plan-groups",
    is_flag=True,
    help="Discover nothing: print the Warehouse groups (Settings discoveryShardThreshold) the event concerns, "
    "the matrix of a sharded kargo-discover.yml.",
)
@click.option(
    "--event",
    "event_file",
    metavar="FILE",
    default=None,
    help="With --plan-groups: the event's payload; default: GITHUB_EVENT_PATH.",
)
@click.option(
    "--event-name",
    metavar="NAME",
    default=None,
    help="With --plan-groups: push, repository_dispatch, schedule...; default: GITHUB_EVENT_NAME.",
)
@ledger_options
@pass_app
def discover(
    app: AppContext,
    /,
    warehouses: tuple[str, ...],
    output: str | None,
    timeout: str | None,
    plan_groups: bool,
    event_file: str | None,
    event_name: str | None,
    **ledger_opts: str | None,
) -> int:
    """Discover new artifacts of the Warehouses and create Freight from the newest, as Kargo does.

    \b
    Per Warehouse: every subscription runs (a failing one is reported, the others go on); when all of
    them found something, the newest artifact of each makes one Freight (unless freightCreationPolicy is
    Manual, freightCreationCriteria says no, or the Freight already exists). The discovered artifacts
    (up to discoveryLimit per subscription, for `freight assemble`) and the new Freight (signed tags and
    ledger records) are recorded in one ledger write. Exit 1 when any subscription failed.

    \b
    Each subscription has a deadline (--timeout): a registry, git remote or chart repository that stalls
    fails its subscriptions when it passes. Registries and repositories of different hosts are asked at
    the same time (at most 4 at a time per host); every 15 s a line says what the run still waits for.

    \b
    --plan-groups: a push's changed paths, or a repository_dispatch naming repositories and paths, select
    the Warehouses that watch them; their groups (a repository's or registry's Warehouses stay together)
    are printed as JSON for the sharded workflow's matrix.
    """
    if plan_groups:
        from kargo_actions.cli.discover_groups import plan_groups_command

        return plan_groups_command(app, event_file, event_name, (output or app.output) == "json")
    from kargo_actions.discovery.run import discover_warehouses, select_warehouses
    from kargo_actions.manifests import load_project

    as_json = (output or app.output) == "json"
    project = load_project(app.config_dir)
    chosen = select_warehouses(project, warehouses)
    total = sum(len(w.subscriptions) for w in chosen)
    with open_project_ledger(app, project.settings, **ledger_opts) as ledger:
        if os.environ.get("GITHUB_ACTIONS") == "true":
            result = discover_warehouses(
                project, ledger, warehouses, progress=ActionsProgress(), timeout=timeout
            )
        elif sys.stderr.isatty():
            with RichProgress(total) as bar:
                result = discover_warehouses(project, ledger, warehouses, progress=bar, timeout=timeout)
        else:
            result = discover_warehouses(
                project, ledger, warehouses, progress=PlainProgress(), timeout=timeout
            )
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        from kargo_actions.cli.job_summary import write_pipeline_summary

        made = [f.origin.name for f in result.created()]
        write_pipeline_summary(app, _summary_markdown(result), warehouses=made)
    if as_json:
        app.emit_json(_json(result))
    else:
        click.echo("\n".join(_summary_text(result)))
        for line in result.errors():
            click.echo(f"error: {line}", err=True)
    return 1 if result.failed else 0
