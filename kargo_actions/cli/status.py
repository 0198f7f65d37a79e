"""`kargo-actions status` and `history`: read-only views of the pipeline from the manifests and the ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kargo_actions.cli.context import AppContext, pass_app
from kargo_actions.cli.ledger_options import ledger_options

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger
    from kargo_actions.promotion.pipeline import StageStatus


@click.command("status")
@click.option("--fetch/--no-fetch", default=True, show_default=True, help="Fetch the ledger first.")
@ledger_options
@pass_app
def status_command(app: AppContext, /, fetch: bool, **ledger_opts: str | None) -> int:
    """Every Stage in pipeline order, one head line each (STAGE, FREIGHT, VERIFIED, MODE) and indented
    detail lines under it: its artifacts, its last promotion, the latest verification when it did not
    succeed, the newest Freight available to it, holds, promotions in progress (what a waiting one waits for,
    since when, its deadline, queued ones, the command that resumes or ends each); then each Stage's schedule:
    its promotion windows, the freezes holding it and an auto-promotion deferred until it opens. Lines fit
    the terminal's width ($COLUMNS; 80 columns when piped); a legend explains the markers shown (`*` a newer
    Freight is available, `!` the latest verification failed though Kargo's Verified holds, `held`). A
    Running promotion whose process stopped is closed as Errored on the way. `--output json` gives one object
    per Stage (activePromotion, pendingPromotions, closedPromotions, lastVerification, open, schedule,
    freezes, deferredAutoPromotion)."""
    from kargo_actions.cli.ledger_options import open_project_ledger
    from kargo_actions.manifests import load_project
    from kargo_actions.promotion.pipeline import pipeline_status
    from kargo_actions.report.status_text import (
        latest_verification_json,
        latest_verifications,
        render,
        stage_block,
        terminal_width,
    )

    project = load_project(app.config_dir)
    with open_project_ledger(app, project.settings, **ledger_opts) as ledger:
        if fetch:
            ledger.sync()
        rows = pipeline_status(project, ledger)
        latest = latest_verifications(ledger.snapshot(), rows)
    if app.json:
        app.emit_json(
            [{**r.to_json(), "lastVerification": latest_verification_json(latest.get(r.stage))} for r in rows]
        )
        return 0
    width = terminal_width()
    click.echo("\n".join(render([stage_block(r, latest.get(r.stage)) for r in rows], width)))
    schedules = [line for r in rows for line in _schedule_lines(r)]
    if schedules:
        click.echo("\nSchedules (promotion windows and freezes):")
        for line in schedules:
            click.echo(f"  {line}")
    return 0


def _schedule_lines(row: StageStatus) -> list[str]:
    """A Stage's windows (open or closed, and until when), the freezes holding it, a deferred auto-promotion."""
    state = row.opening
    if state is None:
        return []
    lines = []
    if state.freezes or state.schedule.windows:
        lines.append(state.message if not state.open else f"{row.stage}: {state.schedule.short}")
    if row.deferred is not None:
        when = f" (opens {row.deferred.opens_at})" if row.deferred.opens_at else ""
        lines.append(f"{row.stage}: auto-promotion of {row.deferred.freight[:12]} deferred{when}")
    return lines


@click.command("history")
@click.option("--stage", "-s", required=True, help="The Stage whose promotions to list.")
@click.option("--fetch/--no-fetch", default=True, show_default=True, help="Fetch the ledger first.")
@ledger_options
@pass_app
def history_command(app: AppContext, /, stage: str, fetch: bool, **ledger_opts: str | None) -> int:
    """A Stage's promotions, newest first: name, Freight ID and alias, phase, actor, times.
    `--output json` gives the ledger's Promotion records."""
    from kargo_actions.cli.ledger_options import open_ledger
    from kargo_actions.promotion.pipeline import stage_history

    with open_ledger(app, **ledger_opts) as ledger:
        if fetch:
            ledger.sync()
        records, problems = stage_history(ledger, stage)
        if not records and not problems:
            _check_stage_known(app, ledger, stage)
    if app.json:
        app.emit_json([r.wire() for r in records])
    else:
        from datetime import UTC, datetime

        from kargo_actions.cli.freight import _print_table
        from kargo_actions.promotion.transitions import describe

        now = datetime.now(UTC)
        _print_table(
            ("PROMOTION", "FREIGHT", "ALIAS", "PHASE", "ACTOR", "STARTED", "FINISHED"),
            [
                (
                    r.name,
                    r.freight.name[:12],
                    r.freight.alias or "",
                    r.phase,
                    r.actor or "",
                    r.started_at or "",
                    r.finished_at or "",
                )
                for r in records
            ],
        )
        for r in records:
            if r.phase in ("Running", "Pending"):
                click.echo(f"{r.name}: {describe(r, now)}")
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    return 2 if problems else 0


def _check_stage_known(app: AppContext, ledger: Ledger, stage: str) -> None:
    """A Stage with no promotion must be one of the manifests' or the ledger's: a typo is bad input (exit 2)."""
    from kargo_actions.errors import InvalidInputError, Problem, did_you_mean

    known = {path.rsplit("/", 1)[-1].removesuffix(".json") for path, _ in ledger.snapshot().blobs("stages")}
    if app.config_dir.is_dir():
        from kargo_actions.manifests import load_project

        known |= set(load_project(app.config_dir).stages)
    if stage not in known:
        listed = f"Stages: {', '.join(sorted(known))}" if known else "no Stage is defined or recorded yet"
        hint = did_you_mean(stage, known) or listed
        raise InvalidInputError([Problem(path="--stage", message=f"no Stage {stage!r}", hint=hint)])
