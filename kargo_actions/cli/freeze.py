"""`kargo-actions freeze` and `unfreeze`: stop the line (promotion/freezes.py), recorded in the ledger."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from kargo_actions.cli.context import AppContext, pass_app
from kargo_actions.cli.ledger_options import ledger_options

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger
    from kargo_actions.ledger.records import FreezeRecord
    from kargo_actions.model.project import Project


def _scope(project: Project, stages: tuple[str, ...], every: bool) -> tuple[str | None, ...]:
    """The freeze files to write: [None] for --all, else each Stage (checked against the manifests)."""
    from kargo_actions.errors import InvalidInputError, Problem, did_you_mean

    if every == bool(stages):
        raise InvalidInputError("give --stage S (repeatable) or --all, not both and not neither")
    if every:
        return (None,)
    problems = [
        Problem(path="--stage", message=f"no Stage {s!r}", hint=did_you_mean(s, project.stages) or "")
        for s in stages
        if s not in project.stages
    ]
    if problems:
        raise InvalidInputError(problems)
    return tuple(dict.fromkeys(stages))


def _line(record: FreezeRecord, verb: str) -> str:
    what = "every Stage" if record.stage is None else record.stage
    if verb == "lifted":
        return f"{what}: freeze lifted by {record.lifted_by} (it was set by {record.actor}: {record.reason})"
    until = f" until {record.until}" if record.until else " until `kargo-actions unfreeze`"
    return f"{what}: frozen{until} ({record.reason}); every promotion into it is refused (exit 3)"


def _summary(records: list[FreezeRecord], verb: str) -> None:
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        from kargo_actions.github.output import append_step_summary

        lines = [f"### kargo-actions {'unfreeze' if verb == 'lifted' else 'freeze'}", ""]
        append_step_summary("\n".join([*lines, *[f"- {_line(r, verb)}" for r in records]]) + "\n")


@click.command("freeze")
@click.option("--stage", "-s", "stages", multiple=True, help="A Stage to freeze (repeatable).")
@click.option("--all", "every", is_flag=True, help="Freeze every Stage of the project.")
@click.option(
    "--reason", required=True, help="Why: shown in every refusal, in `status` and on the dashboard."
)
@click.option(
    "--until",
    metavar="TIME",
    help="When the freeze ends by itself: an RFC 3339 time (2026-12-07T09:00:00Z) or a duration from now "
    "(2h, 90m). Default: until `kargo-actions unfreeze`.",
)
@ledger_options
@pass_app
def freeze_command(
    app: AppContext,
    /,
    stages: tuple[str, ...],
    every: bool,
    reason: str,
    until: str | None,
    **ledger_opts: str | None,
) -> int:
    """Stop the line: refuse every promotion (manual, auto, rollback) into Stages until lifted or expired.

    \b
    kargo-actions freeze --all --reason "incident 42"
    kargo-actions freeze --stage prod --reason "release audit" --until 2h

    Recorded in the ledger (freezes/, who, when, why). A refused promotion exits 3 naming the freeze; an
    auto-promotion it refuses is deferred and runs when the freeze ends (`reconcile`).
    """
    from datetime import UTC, datetime

    from kargo_actions.cli.promote import _open
    from kargo_actions.errors import InvalidInputError
    from kargo_actions.promotion.freezes import FreezeRequest, parse_until, plan_freeze
    from kargo_actions.promotion.github_reporting import run_log_url

    if not reason.strip():
        raise InvalidInputError("--reason must say why (it is shown in every refusal)")
    project, ledger = _open(app, ledger_opts)
    scope = _scope(project, stages, every)
    now = datetime.now(UTC)
    ends = parse_until(until, now) if until else None
    with ledger:
        request = FreezeRequest(
            scope, reason.strip(), ledger.actor(), now, ends, run_log_url(os.environ) or None
        )
        records = ledger.write(plan_freeze(request)).result
    _summary(records, "frozen")
    if app.json:
        app.emit_json([r.wire() for r in records])
    else:
        for record in records:
            click.echo(_line(record, "frozen"))
    return 0


@click.command("unfreeze")
@click.option("--stage", "-s", "stages", multiple=True, help="A Stage whose freeze is lifted (repeatable).")
@click.option("--all", "every", is_flag=True, help="Lift the project-wide freeze (`freeze --all`).")
@click.option(
    "--dispatch-workflow",
    metavar="FILE",
    help="Then dispatch FILE (the promote workflow, auto) for each Stage with a deferred auto-promotion that "
    "is open now. Needs `actions: write`.",
)
@click.option("--ref", help="The branch to dispatch on (default: GITHUB_REF_NAME).")
@ledger_options
@pass_app
def unfreeze_command(
    app: AppContext,
    /,
    stages: tuple[str, ...],
    every: bool,
    dispatch_workflow: str | None,
    ref: str | None,
    **ledger_opts: str | None,
) -> int:
    """Lift a freeze: promotions into the Stages go through again (their windows still apply).

    The record stays in the ledger with who lifted it and when. Auto-promotions the freeze deferred run at
    the next `reconcile`, or at once in the promote workflow with --dispatch-workflow (what the generated
    kargo-freeze workflow does). Exit 2 when no freeze holds a Stage named.
    """
    from datetime import UTC, datetime

    from kargo_actions.cli.promote import _open
    from kargo_actions.promotion.freezes import plan_unfreeze

    project, ledger = _open(app, ledger_opts)
    scope = _scope(project, stages, every)
    now = datetime.now(UTC)
    with ledger:
        records = ledger.write(plan_unfreeze(scope, ledger.actor(), now)).result
        started = _dispatch_deferred(project, ledger, dispatch_workflow, ref) if dispatch_workflow else []
    _summary(records, "lifted")
    if app.json:
        app.emit_json([r.wire() for r in records])
    else:
        for record in records:
            click.echo(_line(record, "lifted"))
    for line in started:
        click.echo(line, err=True)
    return 0


def _dispatch_deferred(project: Project, ledger: Ledger, workflow: str, ref: str | None) -> list[str]:
    """The promote workflow (auto) for every Stage whose deferred auto-promotion may run now."""
    from datetime import UTC, datetime

    from kargo_actions.errors import InvalidInputError, Problem
    from kargo_actions.github.client import GitHubClient
    from kargo_actions.ledger.records import DeferredPromotionRecord
    from kargo_actions.promotion.freezes import opening

    where = ref or os.environ.get("GITHUB_REF_NAME", "")
    if not where:
        raise InvalidInputError(
            [Problem(path="--ref", message="no ref to dispatch on", hint="pass --ref BRANCH")]
        )
    snap = ledger.snapshot()
    now = datetime.now(UTC)
    due = [
        record
        for name in snap.names("deferred")
        if (record := snap.load(DeferredPromotionRecord, f"deferred/{name}")) is not None
        and record.stage in project.stages
        and opening(project, snap, record.stage, now).open
    ]
    if not due:
        return []
    client = GitHubClient.from_env()
    lines = []
    for record in due:
        run = client.dispatch_workflow(
            workflow, ref=where, inputs={"stage": record.stage, "freight": record.freight, "auto": "true"}
        )
        lines.append(f"dispatched {workflow} for {record.stage} ({record.freight[:12]}): {run.html_url}")
    return lines
