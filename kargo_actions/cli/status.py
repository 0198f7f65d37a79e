"""`kargo-actions status` and `history`: read-only views of the pipeline from the manifests and the ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kargo_actions.cli.context import AppContext, pass_app
from kargo_actions.cli.ledger_options import ledger_options

if TYPE_CHECKING:
    from kargo_actions.promotion.pipeline import StageStatus


@click.command("status")
@click.option("--fetch/--no-fetch", default=True, show_default=True, help="Fetch the ledger first.")
@ledger_options
@pass_app
def status_command(app: AppContext, /, fetch: bool, **ledger_opts: str | None) -> int:
    """Every Stage in pipeline order: its current Freight (ID, alias, artifacts), whether it is verified
    there, its last promotion, the newest Freight available to it, auto-promotion and holds; then the
    promotions in progress: waiting ones (what for, since when, the deadline), queued ones, and the command
    that resumes or ends each; then each Stage's schedule: its promotion windows (open or closed, and until
    when), the freezes holding it and an auto-promotion deferred until it opens. A Running promotion whose
    process stopped is closed as Errored on the way. `--output json` gives one object per Stage
    (activePromotion, pendingPromotions, closedPromotions, open, schedule, freezes, deferredAutoPromotion)."""
    from kargo_actions.cli.ledger_options import open_project_ledger
    from kargo_actions.manifests import load_project
    from kargo_actions.promotion.pipeline import pipeline_status

    project = load_project(app.config_dir)
    with open_project_ledger(app, project.settings, **ledger_opts) as ledger:
        if fetch:
            ledger.sync()
        rows = pipeline_status(project, ledger)
    if app.json:
        app.emit_json([r.to_json() for r in rows])
        return 0
    from kargo_actions.cli.freight import _artifacts, _print_table

    table: list[tuple[str, ...]] = []
    for r in rows:
        current = ", ".join(f"{f.alias or ''} {f.name[:12]}".strip() for f in r.current) or "-"
        artifacts = "; ".join(_artifacts(f).replace("\n", ", ") for f in r.current)
        last = r.last_promotion
        newest = r.newest_available
        table.append(
            (
                r.stage + (" (control flow)" if r.control_flow else ""),
                current,
                artifacts,
                "yes" if r.verified else ("no" if r.current else "-"),
                f"{last.phase} {last.finished_at or ''} {last.name}".strip() if last else "-",
                f"{newest.alias or ''} {newest.name[:12]}".strip() if newest else "-",
                ("auto" if r.auto_promotion else "manual") + (" held" if r.holds else ""),
            )
        )
    _print_table(
        ("STAGE", "FREIGHT", "ARTIFACTS", "VERIFIED", "LAST PROMOTION", "NEWEST AVAILABLE", "MODE"), table
    )
    activity = [(r.stage, line) for r in rows for line in r.activity()]
    if activity:
        click.echo("\nPromotions in progress:")
        for stage, line in activity:
            click.echo(f"  {stage}: {line}")
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
