"""`kargo-actions promote`, `approve` and `rollback`: thin commands over kargo_actions.promotion.service."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kargo_actions.cli.context import AppContext, pass_app
from kargo_actions.cli.ledger_options import ledger_options

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger
    from kargo_actions.model.freight import Freight
    from kargo_actions.model.project import Project
    from kargo_actions.promotion.pipeline import AutoDecision
    from kargo_actions.promotion.result import StepRun
    from kargo_actions.promotion.rollback import RollbackReport
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
        self._waiting: dict[str, float] = {}  # step alias -> when it began to wait here
        self._indent = ""  # under a promotion's header line

    def header(self, stage: str, freight: Freight, promotion: str) -> None:
        """A promotion begins: its step lines follow this line, indented (promote --auto runs several)."""
        if self.quiet:
            return
        from kargo_actions.cli.step_progress import header_line

        click.echo(header_line(stage, freight, promotion), err=True)
        self._indent = "  "

    def wait(self, alias: str, message: str) -> None:
        """A step waits in this process: one line saying what for (rewritten in place on a terminal)."""
        if self.quiet:
            return
        import sys
        import time

        now = time.monotonic()
        first = self._waiting.setdefault(alias, now)
        line = f"{self._indent}{alias}: {message} (waiting {int(now - first)}s)"
        if not self.actions and sys.stderr.isatty():
            click.echo(f"\r\x1b[2K{line}", err=True, nl=False)
        else:
            click.echo(line, err=True)

    def step(self, run: StepRun) -> None:
        if run.alias in self._waiting and not self.actions:
            import sys

            if sys.stderr.isatty():
                click.echo("", err=True)
        self._waiting.pop(run.alias, None)
        if self.quiet:
            return
        from kargo_actions.cli.step_progress import step_label

        line = f"{step_label(run)}: {run.status} in {run.duration:.2f}s"
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
            f"{self._indent}[{colour}]{escape(line)}[/{colour}]{message}", markup=True
        )


def _options(
    work_dir: Path | None,
    skip_steps: tuple[str, ...],
    progress: Progress,
    github: bool | None = None,
    verify: bool = False,
) -> PromoteOptions:
    from kargo_actions.cli.step_progress import HeadedReporter
    from kargo_actions.promotion.options import EngineOptions
    from kargo_actions.promotion.reporters import choose_reporter, run_checker
    from kargo_actions.promotion.service import PromoteOptions

    return PromoteOptions(
        work_dir=work_dir,
        engine=EngineOptions(on_step=progress.step, on_wait=progress.wait, skip_steps=frozenset(skip_steps)),
        # one for the whole command: a permission error is printed once
        reporter=HeadedReporter(choose_reporter(github), progress.header),
        verify=verify,
        run_checker=run_checker(),
    )


def _outcome_lines(outcome: PromotionOutcome) -> list[str]:
    result = outcome.result
    name = outcome.freight.alias or outcome.freight.name[:12]
    lines = [f"  closed {closed}" for closed in outcome.closed]
    if outcome.queued:
        return [
            *lines,
            f"{result.stage}: {result.name} Pending (Freight {name}): queued; `kargo-actions reconcile` starts it "
            "when the Stage is free",
        ]
    waiting = result.waiting_step
    if waiting is not None:
        return [*lines, f"{result.stage}: {result.name} Running (Freight {name}): {waiting_line(waiting)}"]
    lines.append(
        f"{result.stage}: {result.name} {result.phase} (Freight {name}, {outcome.via}, {result.duration:.1f}s)"
    )
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


def _write_step_summary(
    rows: list[tuple[str, str, str, str, str]],
    app: AppContext | None = None,
    outcomes: Sequence[PromotionOutcome] = (),
) -> None:
    """The outcome table; with `app`, the pipeline drawing and each promotion's changes, steps and PR."""
    if rows and os.environ.get("GITHUB_STEP_SUMMARY"):
        from kargo_actions.cli.job_summary import write_promotion_summary
        from kargo_actions.github.output import append_step_summary

        if app is None:
            append_step_summary(_summary_markdown(rows))
        else:
            write_promotion_summary(app, _summary_markdown(rows), outcomes)


def _row(outcome: PromotionOutcome) -> tuple[str, str, str, str, str]:
    result = outcome.result
    waiting = result.waiting_step
    detail = result.message if not result.succeeded else outcome.via
    if waiting is not None:
        detail = waiting_line(waiting)
    elif outcome.queued:
        detail = "queued behind the Stage's running promotion; started by `kargo-actions reconcile`"
    return (
        result.stage,
        outcome.freight.alias or outcome.freight.name[:12],
        str(result.phase),
        result.name,
        detail,
    )


def waiting_line(step: StepRun) -> str:
    """What a stopped promotion waits for and how it goes on, for people (terminal and job summary)."""
    from datetime import UTC, datetime

    what = step.waiting.description if step.waiting is not None else step.message
    line = f"waiting for {what} (step {step.alias})"
    if step.deadline is not None:
        left = step.deadline - datetime.now(UTC)
        line += f", deadline in {_human(left.total_seconds())}"
    how = "on the event that moves it (kargo-reconcile workflow) or `kargo-actions reconcile`"
    return f"{line}; resumed {how}"


def _human(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def _report(
    app: AppContext,
    outcomes: list[PromotionOutcome],
    decisions: list[AutoDecision] | None,
    rollbacks: Sequence[RollbackReport] = (),
) -> int:
    rows = [_row(o) for o in outcomes]
    if decisions is not None:
        rows = [
            _row(d.outcome) if d.outcome is not None else (d.stage, d.freight[:12], d.action, "", d.reason)
            for d in decisions
        ]
    rows += [
        (r.stage, r.target[:12], f"auto-rollback {r.action}", "", f"{r.reason} ({r.trigger})")
        for r in rollbacks
    ]
    _write_step_summary(
        rows, app, [*outcomes, *(d.outcome for d in decisions or [] if d.outcome is not None)]
    )
    by_stage = {r.stage: r.to_json() for r in rollbacks}
    if app.json:
        if decisions is not None:
            app.emit_json([d.to_json() for d in decisions])
        else:
            app.emit_json(
                [
                    {
                        **o.result.to_json(),
                        "queued": o.queued,
                        "closed": list(o.closed),
                        "via": o.via,
                        "hold": o.hold,
                        "verified": o.verified,
                        "verification": o.verification or None,
                        "verificationMessage": o.verification_message or None,
                        "autoRollback": by_stage.get(o.result.stage),
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
        for rollback in rollbacks:
            click.echo(rollback.line())
    failed = any(not o.ok for o in outcomes)
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
@click.option(
    "--no-wait",
    is_flag=True,
    help="When a step waits (a pull request to be merged, a workflow run, an HTTP check), end the command "
    "there: the promotion stays Running with what it waits for, and `reconcile` or `--resume` goes on with it. "
    "Without it the command waits, showing what for.",
)
@click.option(
    "--queue",
    is_flag=True,
    help="When the Stage runs another promotion, queue this one (Pending) instead of refusing it (exit 3); "
    "`reconcile` starts queued promotions in creation order when the Stage is free.",
)
@click.option(
    "--resume",
    "resume_name",
    metavar="PROMOTION",
    help="Go on with a waiting promotion at the step it waits at (no other selection options).",
)
@click.option(
    "--abort",
    "abort_name",
    metavar="PROMOTION",
    help="End a Running or Pending promotion as Aborted and free its Stage (no other selection options).",
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
    no_wait: bool,
    queue: bool,
    resume_name: str | None,
    abort_name: str | None,
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
    kargo-actions promote --stage prod -f REF --no-wait    stop when a step waits (e.g. for PR review)
    kargo-actions promote --resume PROMOTION               go on with a waiting promotion
    kargo-actions promote --abort PROMOTION                end a Running or queued promotion

    A hand promotion of a Freight other than the newest available one holds the Stage's auto-promotion for
    that origin; promoting the newest lifts the hold. One promotion runs per Stage at a time: a busy Stage
    refuses another (exit 3, naming the running one) unless --queue. Exit 0 promoted (or waiting / queued),
    1 a promotion failed (recorded as Failed/Errored/Aborted), 2 bad input, 3 refused by a gate or a busy
    Stage. Progress per step goes to stderr (`::group::` blocks when GITHUB_ACTIONS=true); a summary is
    appended to $GITHUB_STEP_SUMMARY when set. With `--output json`: the promotion results, a waiting one
    with `phase: Running` and `wait` (what it waits for, since when, its deadline); for --auto: one decision
    per Stage: promoted, failed or skipped, with the reason.
    """
    from kargo_actions.cli.ledger_options import fetch_ahead
    from kargo_actions.cli.signals import abort_on_signals
    from kargo_actions.errors import InvalidInputError

    one_of = [n for n, v in (("--resume", resume_name), ("--abort", abort_name)) if v]
    if one_of and (len(one_of) > 1 or stage or freight_ref or warehouse or downstream_from or auto or queue):
        raise InvalidInputError(f"{one_of[0]} takes a promotion name and no other selection option")
    if not one_of:
        _check_selection(stage, freight_ref, warehouse, downstream_from, auto)
    fetch_ahead(app, **ledger_opts)  # overlaps the imports below and the manifests' load
    from kargo_actions.promotion.service import Mode, promote

    project, ledger = _open(app, ledger_opts)
    progress = Progress(quiet or app.json)
    with ledger, abort_on_signals() as abort, _schedule_summary(project, ledger):
        from dataclasses import replace

        options = replace(
            _options(work_dir, skip_steps, progress, github, verify),
            abort=abort,
            no_wait=no_wait,
            queue=queue,
        )
        if abort_name:
            return _report_abort(app, project, ledger, abort_name)
        if resume_name:
            from kargo_actions.promotion.service import resume

            resumed = [resume(project, ledger, resume_name, options)]
            return _report(app, resumed, None, _rollbacks(project, ledger, resumed, options))
        if auto:
            from kargo_actions.promotion.pipeline import auto_promote

            return _report(app, [], auto_promote(project, ledger, options, stage=stage))
        if downstream_from:
            from kargo_actions.promotion.pipeline import promote_downstream

            outcomes = promote_downstream(
                project,
                ledger,
                downstream_from,
                stage,
                freight_ref,
                options,
                on_skip=lambda why: click.echo(f"skipped {why}", err=True),
            )
            return _report(app, outcomes, None, _rollbacks(project, ledger, outcomes, options))
        assert stage is not None
        if freight_ref is None:
            from kargo_actions.promotion.pipeline import newest_available

            freight_ref = newest_available(project, ledger, stage, warehouse or "")
        ref = freight_ref
        done = [promote(project, ledger, stage, ref, mode=Mode.MANUAL, options=options)]
        return _report(app, done, None, _rollbacks(project, ledger, done, options))


def _rollbacks(
    project: Project, ledger: Ledger, outcomes: list[PromotionOutcome], options: PromoteOptions
) -> list[RollbackReport]:
    """ProjectConfig autoRollback after each failed promotion or verification (promotion/rollback.py)."""
    failed = [o for o in outcomes if not o.ok]
    if not failed:
        return []
    from kargo_actions.promotion.rollback import after_promotion

    found = [after_promotion(project, ledger, o, options) for o in failed]
    return [r for r in found if r is not None]


@contextlib.contextmanager
def _schedule_summary(project: Project, ledger: Ledger) -> Iterator[None]:
    """The job summary names the window or freeze that refused a promotion (exit 3), then shows the schedule
    of every Stage a window, a freeze or a deferred auto-promotion concerns."""
    from kargo_actions.promotion.freezes import StageClosedError

    if not os.environ.get("GITHUB_STEP_SUMMARY"):
        yield
        return
    from datetime import UTC, datetime

    from kargo_actions.github.output import append_step_summary
    from kargo_actions.report.schedule import closed_markdown, schedule_markdown

    try:
        yield
    except StageClosedError as err:
        append_step_summary(closed_markdown(err))
        raise
    finally:
        table = schedule_markdown(project, ledger.snapshot(), datetime.now(UTC))
        if table:
            append_step_summary(table)


def _check_selection(
    stage: str | None, freight_ref: str | None, warehouse: str | None, downstream_from: str | None, auto: bool
) -> None:
    from kargo_actions.errors import InvalidInputError

    if auto and (freight_ref or warehouse or downstream_from):
        raise InvalidInputError(
            "--auto takes no --freight, --warehouse or --downstream-from (--stage S only)"
        )
    if not auto and not downstream_from and not stage:
        raise InvalidInputError(
            "give --stage S with --freight REF or --warehouse W, or --downstream-from S, or --auto, "
            "or --resume / --abort PROMOTION"
        )
    if freight_ref and warehouse:
        raise InvalidInputError("give --freight or --warehouse, not both")
    if stage and not auto and not downstream_from and not (freight_ref or warehouse):
        raise InvalidInputError("give --freight REF or --warehouse W with --stage")


def _report_abort(app: AppContext, project: Project, ledger: Ledger, name: str) -> int:
    from kargo_actions.promotion.service import abort

    ended = abort(project, ledger, name)
    if app.json:
        app.emit_json(ended.wire())
    else:
        click.echo(f"{ended.stage}: {ended.name} Aborted ({ended.message}); Stage {ended.stage} is free")
    return 0


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
    from kargo_actions.promotion.approvals import approve

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
    from kargo_actions.promotion.rollback import previous_freight
    from kargo_actions.promotion.service import Mode, find_stage, promote

    project, ledger = _open(app, ledger_opts)
    progress = Progress(quiet or app.json)
    with ledger, abort_on_signals() as abort, _schedule_summary(project, ledger):
        target = find_stage(project, stage)
        ledger.sync()
        ref = to_ref or previous_freight(ledger, target)
        options = replace(_options(work_dir, skip_steps, progress, github, verify), abort=abort)
        outcome = promote(project, ledger, stage, ref, mode=Mode.ROLLBACK, options=options)
    return _report(app, [outcome], None)
