"""`kargo-actions verify`: run a Stage's verification (Argo Rollouts AnalysisTemplates) on its current Freight."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from kargo_actions.cli.context import AppContext, pass_app
from kargo_actions.cli.ledger_options import ledger_options

if TYPE_CHECKING:
    import threading

    from kargo_actions.ledger import Ledger
    from kargo_actions.model.project import Project
    from kargo_actions.promotion.rollback import RollbackReport
    from kargo_actions.verification.phases import Measurement
    from kargo_actions.verification.service import VerificationOutcome
    from kargo_actions.verification.templates import RunMetric


class MeasurementProgress:
    """A line per measurement: `::group::` blocks on GitHub Actions, rich colours on a terminal, else plain."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.actions = os.environ.get("GITHUB_ACTIONS") == "true"

    def __call__(self, metric: RunMetric, m: Measurement) -> None:
        if self.quiet:
            return
        line = f"{metric.name}: {m.phase}" + (f" value={m.value}" if m.value else "")
        if self.actions:
            click.echo(f"::group::{line}", err=True)
            if m.message:
                click.echo(m.message, err=True)
            click.echo("::endgroup::", err=True)
            return
        from rich.console import Console
        from rich.markup import escape

        colour = {"Successful": "green", "Inconclusive": "yellow"}.get(str(m.phase), "red")
        message = f" - {escape(m.message)}" if m.message else ""
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[{colour}]{escape(line)}[/{colour}]{message}", markup=True
        )


def summary_markdown(outcome: VerificationOutcome) -> str:
    """The job summary: the run's phase and a table of every measurement."""
    run = outcome.run
    name = outcome.freight.alias or outcome.freight.name[:12]
    lines = [
        f"### kargo-actions verification: {outcome.stage}",
        "",
        f"Freight **{name}**: **{run.phase}**" + (f" - {run.message}" if run.message else ""),
        "",
        "| Metric | # | Phase | Value | Finished | Message |",
        "|---|---|---|---|---|---|",
    ]
    for metric in run.metrics:
        label = metric.name + (" (dry run)" if metric.dry_run else "")
        for i, m in enumerate(metric.measurements, 1):
            cells = [label, str(i), str(m.phase), m.value, m.finished, m.message]
            lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        if not metric.measurements:
            lines.append(f"| {label} | - | {metric.phase} |  |  | {metric.message} |")
    return "\n".join(lines) + "\n"


def _rollback(
    app: AppContext,
    project: Project,
    ledger: Ledger,
    outcome: VerificationOutcome,
    quiet: bool,
    github: bool | None,
    stop: threading.Event,
) -> RollbackReport | None:
    """ProjectConfig autoRollback after a verification that ended in one of its phases."""
    from dataclasses import replace

    from kargo_actions.cli.promote import Progress, _options
    from kargo_actions.promotion.rollback import after_verification

    options = replace(_options(None, (), Progress(quiet or app.json), github, verify=True), abort=stop)
    phase = str(outcome.run.phase)
    return after_verification(
        project, ledger, outcome.stage, outcome.freight.name, phase, outcome.record_id, options
    )


@click.command("verify")
@click.option("--stage", "-s", required=True, help="The Stage whose verification runs.")
@click.option(
    "--freight",
    "-f",
    "freight_ref",
    metavar="REF",
    help="The Freight to verify (must be current in the Stage). Default: the Stage's current Freight.",
)
@click.option(
    "--abort", is_flag=True, help="Mark the Stage's Running verification records Aborted; run nothing."
)
@click.option(
    "--auto-promote",
    is_flag=True,
    help="After a successful verification, auto-promote the Stages downstream of --stage (through "
    "control-flow Stages) as `promote --auto --stage` would (their policy, hold and selectionPolicy decide).",
)
@click.option(
    "--github/--no-github",
    default=None,
    help="Post kargo/verified/<stage> on the Freight's commit (success, failure or error). Default: when "
    "GITHUB_REPOSITORY and GITHUB_TOKEN (or GitHub App credentials) are set.",
)
@click.option("--quiet", "-q", is_flag=True, help="No per-measurement progress on stderr.")
@ledger_options
@pass_app
def verify_command(
    app: AppContext,
    /,
    stage: str,
    freight_ref: str | None,
    abort: bool,
    auto_promote: bool,
    github: bool | None,
    quiet: bool,
    **ledger_opts: Any,
) -> int:
    """Verify the Freight in a Stage with the Stage's AnalysisTemplates (reverify = run it again).

    \b
    kargo-actions verify --stage staging                 the Stage's current Freight
    kargo-actions verify --stage staging --freight REF   REF, which must be current in the Stage
    kargo-actions verify --stage staging --abort         mark a Running verification Aborted

    Metrics run as Argo Rollouts runs an AnalysisRun (web, prometheus and the kargo-actions/github-checks
    plugin provider). Success marks the Freight verified in the Stage (what downstream gates and soak time
    count). Exit 0 Successful, 1 Failed / Error / Inconclusive / Aborted, 2 bad input (the Stage holds no
    Freight yet), 3 the Freight named is not the one in the Stage. SIGTERM / SIGINT abort the run (recorded
    Aborted). Progress per measurement goes to stderr; a Markdown summary to $GITHUB_STEP_SUMMARY when
    set; `--output json` gives the run.
    """
    from dataclasses import replace

    from kargo_actions.cli.promote import _open
    from kargo_actions.cli.signals import abort_on_signals
    from kargo_actions.verification.service import VerifyOptions, abort_verification, verify

    project, ledger = _open(app, ledger_opts)
    with ledger, abort_on_signals() as stop:
        if abort:
            ended = abort_verification(project, ledger, stage)
            if app.json:
                app.emit_json([r.wire() for r in ended])
            else:
                click.echo(f"{stage}: {len(ended)} Running verification(s) marked Aborted")
            return 0
        options = VerifyOptions(
            abort=stop, on_measurement=MeasurementProgress(quiet or app.json), github=github
        )
        outcome = verify(project, ledger, stage, freight_ref, options)
        rollback = (
            _rollback(app, project, ledger, outcome, quiet, github, stop) if not outcome.succeeded else None
        )
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            from kargo_actions.cli.job_summary import write_pipeline_summary

            table = summary_markdown(outcome) + (f"\n{rollback.markdown()}" if rollback else "")
            touched = {"promoted" if outcome.succeeded else "failed": [outcome.stage]}
            write_pipeline_summary(app, table, **touched)
        decisions: list[dict[str, object]] = []
        if auto_promote and outcome.succeeded:
            from kargo_actions.cli.promote import Progress, _options
            from kargo_actions.promotion.dispatch import downstream_stages
            from kargo_actions.promotion.pipeline import auto_promote as run_auto

            promote_options = replace(
                _options(None, (), Progress(quiet or app.json), github, verify=True), abort=stop
            )
            for downstream in downstream_stages(project, stage):
                decisions += [
                    d.to_json() for d in run_auto(project, ledger, promote_options, stage=downstream)
                ]
    if app.json:
        extra = {"autoRollback": rollback.to_json()} if rollback is not None else {}
        app.emit_json(
            {**outcome.to_json(), **({"autoPromotions": decisions} if auto_promote else {}), **extra}
        )
    else:
        name = outcome.freight.alias or outcome.freight.name[:12]
        click.echo(f"{stage}: verification {outcome.run.phase} (Freight {name}, run {outcome.record_id})")
        if outcome.run.message:
            click.echo(f"  {outcome.run.message}")
        if outcome.succeeded:
            click.echo(f"  verified in {stage}")
        for d in decisions:
            click.echo(f"{d['stage']}: {d['action']} ({d['reason']})")
        if rollback is not None:
            click.echo(rollback.line())
    failed = any(d.get("action") == "failed" for d in decisions)
    return 0 if outcome.succeeded and not failed else 1
