"""`kargo-actions promote`, `approve` and `rollback`: thin commands over kargo_actions.promotion.service."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kargo_actions.cli.context import AppContext, pass_app
from kargo_actions.cli.ledger_options import ledger_options

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger
    from kargo_actions.model.project import Project
    from kargo_actions.promotion.pipeline import AutoDecision
    from kargo_actions.promotion.result import StepRun
    from kargo_actions.promotion.service import PromoteOptions, PromotionOutcome


def _open(app: AppContext, ledger_opts: dict[str, Any]) -> tuple[Project, Ledger]:
    from kargo_actions.cli.ledger_options import open_project_ledger
    from kargo_actions.manifests import load_project

    project = load_project(app.config_dir)
    return project, open_project_ledger(app, project.settings, **ledger_opts)


class Progress:
    """Step progress: `::group::` blocks on GitHub Actions, a rich line per step on a terminal, else plain."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.actions = os.environ.get("GITHUB_ACTIONS") == "true"

    def step(self, run: StepRun) -> None:
        if self.quiet:
            return
        line = f"{run.alias} ({run.uses}): {run.status} in {run.duration:.2f}s"
        if self.actions:
            click.echo(f"::group::{line}", err=True)
            if run.message:
                click.echo(run.message, err=True)
            for key, value in run.outputs.items():
                click.echo(f"{key}: {value}", err=True)
            click.echo("::endgroup::", err=True)
            return
        from rich.console import Console
        from rich.markup import escape

        colour = {"Succeeded": "green", "Skipped": "dim"}.get(str(run.status), "red")
        # Messages quote manifests (`steps[0].config`): escaped so rich does not read them as markup.
        message = f" - {escape(run.message)}" if run.message and str(run.status) != "Succeeded" else ""
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[{colour}]{escape(line)}[/{colour}]{message}", markup=True
        )


def _options(
    work_dir: Path | None,
    skip_steps: tuple[str, ...],
    progress: Progress,
    github: bool | None = None,
    verify: bool = False,
) -> PromoteOptions:
    from kargo_actions.promotion.engine import EngineOptions
    from kargo_actions.promotion.reporting import choose_reporter
    from kargo_actions.promotion.service import PromoteOptions

    return PromoteOptions(
        work_dir=work_dir,
        engine=EngineOptions(on_step=progress.step, skip_steps=frozenset(skip_steps)),
        reporter=choose_reporter(github),  # one for the whole command: a permission error is printed once
        verify=verify,
    )


def _outcome_lines(outcome: PromotionOutcome) -> list[str]:
    result = outcome.result
    name = outcome.freight.alias or outcome.freight.name[:12]
    lines = [
        f"{result.stage}: {result.name} {result.phase} (Freight {name}, {outcome.via}, {result.duration:.1f}s)"
    ]
    if result.message and not result.succeeded:
        lines.append(f"  {result.message}")
    if outcome.verification_failed:
        lines.append(f"  verification {outcome.verification}: not verified in {result.stage}")
        if outcome.verification_message:
            lines.append(f"  {outcome.verification_message}")
    elif outcome.succeeded:
        lines.append(
            f"  {'verified in ' + result.stage if outcome.verified else 'promoted, not yet verified'}"
            + {"set": "; auto-promotion held", "lifted": "; hold lifted"}.get(outcome.hold, "")
        )
    return lines


def _summary_markdown(rows: list[tuple[str, str, str, str, str]]) -> str:
    lines = [
        "### kargo-actions promotions",
        "",
        "| Stage | Freight | Result | Promotion | Detail |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _write_step_summary(rows: list[tuple[str, str, str, str, str]]) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target and rows:
        with open(target, "a", encoding="utf-8") as out:
            out.write(_summary_markdown(rows))


def _row(outcome: PromotionOutcome) -> tuple[str, str, str, str, str]:
    result = outcome.result
    return (
        result.stage,
        outcome.freight.alias or outcome.freight.name[:12],
        str(result.phase),
        result.name,
        result.message if not result.succeeded else outcome.via,
    )


def _report(app: AppContext, outcomes: list[PromotionOutcome], decisions: list[AutoDecision] | None) -> int:
    rows = [_row(o) for o in outcomes]
    if decisions is not None:
        rows = [
            _row(d.outcome) if d.outcome is not None else (d.stage, d.freight[:12], d.action, "", d.reason)
            for d in decisions
        ]
    _write_step_summary(rows)
    if app.json:
        if decisions is not None:
            app.emit_json([d.to_json() for d in decisions])
        else:
            app.emit_json(
                [
                    {
                        **o.result.to_json(),
                        "via": o.via,
                        "hold": o.hold,
                        "verified": o.verified,
                        "verification": o.verification or None,
                        "verificationMessage": o.verification_message or None,
                    }
                    for o in outcomes
                ]
            )
    else:
        if decisions is not None:
            for d in decisions:
                if d.outcome is not None:
                    click.echo("\n".join(_outcome_lines(d.outcome)))
                else:
                    click.echo(f"{d.stage}: {d.action} ({d.reason})")
        for outcome in outcomes:
            click.echo("\n".join(_outcome_lines(outcome)))
    failed = any(not o.succeeded or o.verification_failed for o in outcomes)
    if decisions is not None:
        failed = any(
            d.action == "failed" or (d.outcome is not None and d.outcome.verification_failed)
            for d in decisions
        )
    return 1 if failed else 0


def _work_dir_option(func: Any) -> Any:
    func = click.option(
        "--verify/--no-verify",
        default=True,
        help="After a successful promotion into a Stage with verification, run it in this command (as "
        "`verify` would; a failed verification is exit 1). --no-verify leaves it to a separate `verify` job.",
    )(func)
    func = click.option(
        "--github/--no-github",
        default=None,
        help="Report each promotion to GitHub: a Deployment (environment = Stage, ref = the Freight's tag), "
        "kargo/verified/<stage> and kargo/gate commit statuses. Default: when GITHUB_REPOSITORY and "
        "GITHUB_TOKEN (or GitHub App credentials) are set. A failed report is a warning, never the "
        "promotion's result.",
    )(func)
    func = click.option(
        "--skip-step",
        "skip_steps",
        multiple=True,
        metavar="NAME",
        help="Skip every step that uses NAME (status Skipped) instead of running it, e.g. argocd-update "
        "where there is no Argo CD. Repeatable.",
    )(func)
    return click.option(
        "--work-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where the steps work (must be empty or missing; kept afterwards). Default: a temporary dir, "
        "removed afterwards.",
    )(func)


@click.command("promote")
@click.option(
    "--stage",
    "-s",
    help="The Stage to promote into (with --freight, --warehouse, --downstream-from or --auto).",
)
@click.option(
    "--freight", "-f", "freight_ref", metavar="REF", help="The Freight: full ID, unique ID prefix or alias."
)
@click.option("--warehouse", "-w", help="Promote the newest Freight of this Warehouse available to --stage.")
@click.option(
    "--downstream-from",
    metavar="STAGE",
    help="Promote the Freight currently in STAGE (or --freight) into every Stage fed by STAGE that accepts it.",
)
@click.option(
    "--auto",
    is_flag=True,
    help="Promote every Stage whose ProjectConfig promotionPolicies enable auto-promotion and whose chosen "
    "Freight (selectionPolicy NewestFreight or MatchUpstream) differs from its current one, in pipeline order; "
    "held origins are skipped. With --stage S: that Stage alone, decided the same way (never sets a hold).",
)
@click.option("--quiet", "-q", is_flag=True, help="No per-step progress on stderr.")
@_work_dir_option
@ledger_options
@pass_app
def promote_command(
    app: AppContext,
    /,
    stage: str | None,
    freight_ref: str | None,
    warehouse: str | None,
    downstream_from: str | None,
    auto: bool,
    quiet: bool,
    work_dir: Path | None,
    skip_steps: tuple[str, ...],
    github: bool | None,
    verify: bool,
    **ledger_opts: str | None,
) -> int:
    """Promote Freight into Stages through Kargo's gates, recording every promotion in the ledger.

    \b
    kargo-actions promote --stage dev --freight REF        one Freight
    kargo-actions promote --stage dev --warehouse W        the newest Freight of W available to dev
    kargo-actions promote --downstream-from dev            dev's Freight into every Stage fed by dev
    kargo-actions promote --auto                           every Stage whose policy allows it
    kargo-actions promote --auto --stage dev               dev alone, as --auto would decide it

    A hand promotion of a Freight other than the newest available one holds the Stage's auto-promotion for
    that origin; promoting the newest lifts the hold. Exit 0 promoted, 1 a promotion failed (recorded as
    Failed/Errored/Aborted), 2 bad input, 3 refused by a gate (the message names every unmet condition).
    Progress per step goes to stderr (`::group::` blocks when GITHUB_ACTIONS=true); a summary is appended to
    $GITHUB_STEP_SUMMARY when set. With `--output json`: the promotion results (for --auto: one decision
    per Stage: promoted, failed or skipped, with the reason).
    """
    from kargo_actions.cli.signals import abort_on_signals
    from kargo_actions.errors import InvalidInputError
    from kargo_actions.promotion.service import Mode, promote

    if auto and (freight_ref or warehouse or downstream_from):
        raise InvalidInputError(
            "--auto takes no --freight, --warehouse or --downstream-from (--stage S only)"
        )
    if not auto and not downstream_from and not stage:
        raise InvalidInputError(
            "give --stage S with --freight REF or --warehouse W, or --downstream-from S, or --auto"
        )
    if freight_ref and warehouse:
        raise InvalidInputError("give --freight or --warehouse, not both")
    if stage and not auto and not downstream_from and not (freight_ref or warehouse):
        raise InvalidInputError("give --freight REF or --warehouse W with --stage")
    project, ledger = _open(app, ledger_opts)
    progress = Progress(quiet or app.json)
    with ledger, abort_on_signals() as abort:
        from dataclasses import replace

        options = replace(_options(work_dir, skip_steps, progress, github, verify), abort=abort)
        if auto:
            from kargo_actions.promotion.pipeline import auto_promote

            return _report(app, [], auto_promote(project, ledger, options, stage=stage))
        if downstream_from:
            outcomes = _downstream(project, ledger, downstream_from, stage, freight_ref, options)
            return _report(app, outcomes, None)
        assert stage is not None
        ref = freight_ref or _newest(project, ledger, stage, warehouse or "")
        return _report(app, [promote(project, ledger, stage, ref, mode=Mode.MANUAL, options=options)], None)


def _newest(project: Project, ledger: Ledger, stage_name: str, warehouse: str) -> str:
    from datetime import UTC, datetime

    from kargo_actions.errors import InvalidInputError, Problem, RefusedError, did_you_mean
    from kargo_actions.promotion.gates import candidates
    from kargo_actions.promotion.service import find_stage, settled_states

    stage = find_stage(project, stage_name)
    if warehouse not in project.warehouses:
        hint = (
            did_you_mean(warehouse, project.warehouses)
            or f"Warehouses: {', '.join(sorted(project.warehouses))}"
        )
        raise InvalidInputError(
            [Problem(path="--warehouse", message=f"no Warehouse {warehouse!r}", hint=hint)]
        )
    ledger.sync()
    now = datetime.now(UTC)
    _, states, freight = settled_states(project, ledger.snapshot(), now)
    found = candidates(stage, [f for f in freight if f.origin.name == warehouse], states, now)
    newest = found.newest()
    if newest is None:
        reasons = "; ".join(f"{fid[:12]}: {a.message}" for fid, a in list(found.refused.items())[:3])
        raise RefusedError(
            f"no Freight of Warehouse {warehouse} is available to Stage {stage.name}"
            + (f" ({reasons})" if reasons else "")
        )
    return newest.name


def _downstream(
    project: Project,
    ledger: Ledger,
    source: str,
    only: str | None,
    freight_ref: str | None,
    options: PromoteOptions,
) -> list[PromotionOutcome]:
    """The Freight in `source` (or REF) into every Stage fed by it whose gate accepts it (Kargo's promote
    --downstream-from); Stages that refuse it are skipped, and a refusal of all is exit 3."""
    from datetime import UTC, datetime

    from kargo_actions.errors import InvalidInputError, Problem, RefusedError
    from kargo_actions.promotion.gates import availability
    from kargo_actions.promotion.service import Mode, promote, settled_states

    if source not in project.stages:
        raise InvalidInputError([Problem(path="--downstream-from", message=f"no Stage {source!r}")])
    targets = [s for s in project.downstream(source) if not project.stages[s].is_control_flow]
    if only:
        targets = [s for s in targets if s == only]
    if not targets:
        raise InvalidInputError(
            [Problem(path="--downstream-from", message=f"no Stage with steps takes Freight from {source}")]
        )
    ledger.sync()
    snap = ledger.snapshot()
    if freight_ref:
        refs = [ledger.resolve(freight_ref, snap).id]
    else:
        state = ledger.stage_state(source, snap)
        refs = [c.name for c in state.current_freight]
        if not refs:
            raise RefusedError(f"Stage {source} holds no Freight yet")
    now = datetime.now(UTC)
    _, states, freight = settled_states(project, snap, now)
    by_id = {f.name: f for f in freight}
    outcomes: list[PromotionOutcome] = []
    refusals: list[str] = []
    for target in targets:
        for ref in refs:
            verdict = availability(project.stages[target], by_id[ref], states, now)
            if not verdict.available:
                refusals.append(f"{target}: {verdict.message}")
                continue
            outcomes.append(promote(project, ledger, target, ref, mode=Mode.MANUAL, options=options))
    for refusal in refusals:
        click.echo(f"skipped {refusal}", err=True)
    if not outcomes:
        raise RefusedError(
            "no Stage downstream of " + source + " accepts its Freight: " + "; ".join(refusals)
        )
    return outcomes


@click.command("approve")
@click.option(
    "--freight",
    "-f",
    "freight_ref",
    required=True,
    metavar="REF",
    help="The Freight: ID, ID prefix or alias.",
)
@click.option("--stage", "-s", required=True, help="The Stage it is approved for.")
@ledger_options
@pass_app
def approve_command(app: AppContext, /, freight_ref: str, stage: str, **ledger_opts: str | None) -> int:
    """Approve a Freight for a Stage by hand: it becomes available there without upstream verification or
    soak time (never across origins). Recorded in the ledger (approvals/<stage>/<id>.json)."""
    from kargo_actions.promotion.service import approve

    project, ledger = _open(app, ledger_opts)
    with ledger:
        item, created = approve(project, ledger, stage, freight_ref)
    if app.json:
        app.emit_json({"freight": item.name, "alias": item.alias, "stage": stage, "created": created})
    else:
        verb = "approved" if created else "was already approved"
        click.echo(f"Freight {item.alias or item.name[:12]} ({item.name}) {verb} for {stage}")
    return 0


@click.command("rollback")
@click.option("--stage", "-s", required=True, help="The Stage to roll back.")
@click.option(
    "--to", "to_ref", metavar="REF", help="The Freight to return to (default: the one before the current)."
)
@click.option("--quiet", "-q", is_flag=True, help="No per-step progress on stderr.")
@_work_dir_option
@ledger_options
@pass_app
def rollback_command(
    app: AppContext,
    /,
    stage: str,
    to_ref: str | None,
    quiet: bool,
    work_dir: Path | None,
    skip_steps: tuple[str, ...],
    github: bool | None,
    verify: bool,
    **ledger_opts: str | None,
) -> int:
    """Promote the previous (or the given) Freight into a Stage again, through the same gates.

    A Freight once verified in the Stage stays allowed there. The rollback holds the Stage's auto-promotion
    for that origin until the newest Freight is promoted by hand. Exit codes as `promote`.
    """
    from dataclasses import replace

    from kargo_actions.cli.signals import abort_on_signals
    from kargo_actions.promotion.service import Mode, find_stage, previous_freight, promote

    project, ledger = _open(app, ledger_opts)
    progress = Progress(quiet or app.json)
    with ledger, abort_on_signals() as abort:
        target = find_stage(project, stage)
        ledger.sync()
        ref = to_ref or previous_freight(ledger, target)
        options = replace(_options(work_dir, skip_steps, progress, github, verify), abort=abort)
        outcome = promote(project, ledger, stage, ref, mode=Mode.ROLLBACK, options=options)
    return _report(app, [outcome], None)
