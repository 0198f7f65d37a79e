"""`kargo-actions reconcile`: move on waiting, stale and queued promotions (promotion/reconcile.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kargo_actions.cli.context import AppContext, pass_app
from kargo_actions.cli.ledger_options import ledger_options
from kargo_actions.cli.promote import Progress, _options, _work_dir_option, _write_step_summary

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger
    from kargo_actions.ledger.reader import LedgerTree
    from kargo_actions.model.project import Project
    from kargo_actions.promotion.events import Event
    from kargo_actions.promotion.reconcile import Action


@click.command("reconcile")
@click.option("--stage", "-s", help="Only this Stage's promotions.")
@click.option("--plan", "plan_only", is_flag=True, help="Say what would move; move nothing, write nothing.")
@click.option(
    "--dispatch-workflow",
    metavar="FILE",
    help="After a resumed promotion succeeds, dispatch FILE (the promote workflow) for the downstream Stages "
    "that auto-promote, as the promote action does. Needs `actions: write`.",
)
@click.option(
    "--ref", help="The branch to dispatch --dispatch-workflow on (default: the repository's default branch)."
)
@click.option("--quiet", "-q", is_flag=True, help="No per-step progress on stderr.")
@_work_dir_option
@ledger_options
@pass_app
def reconcile_command(
    app: AppContext,
    /,
    stage: str | None,
    plan_only: bool,
    dispatch_workflow: str | None,
    ref: str | None,
    quiet: bool,
    work_dir: Path | None,
    skip_steps: tuple[str, ...],
    github: bool | None,
    verify: bool,
    **ledger_opts: str | None,
) -> int:
    """Resume every waiting promotion that can move, close those whose runner is gone, start queued ones.

    \b
    A waiting promotion moves when what it waits for happened (a pull request merged or closed, a workflow
    run completed, an HTTP check met) or when its step's deadline passed (it fails, as Kargo's timeout).
    On GitHub Actions the event that started the job selects: `pull_request` moves only the promotions
    waiting on that pull request, `workflow_run` only those waiting on that run; `repository_dispatch`
    (client_payload.stage optional), `schedule` and `workflow_dispatch` look at every one. A Running
    promotion whose process is gone (same host and its PID is gone, its Actions run is over, or its lease
    ran out) is closed as Errored and its Stage freed; then each free Stage starts its oldest queued promotion.
    Exit 0 when nothing failed (including when nothing could move), 1 when a promotion it moved failed.
    With `--output json`: one entry per promotion looked at (stage, promotion, action, reason, phase, wait).
    """
    from kargo_actions.promotion.events import event_from_env

    event = event_from_env()
    if _idle(app, event, stage or "", ledger_opts):
        if app.json:
            app.emit_json([])
        else:
            click.echo("nothing to reconcile: no promotion can move now")
        return 0

    from dataclasses import replace

    from kargo_actions.cli.ledger_options import open_ledger
    from kargo_actions.cli.signals import abort_on_signals
    from kargo_actions.promotion.reconcile import ReconcileOptions, reconcile

    progress = Progress(quiet or app.json)
    loaded: list[Project] = []

    def load() -> Project:
        from kargo_actions.manifests import load_project

        if not loaded:
            loaded.append(load_project(app.config_dir))
        return loaded[0]

    def say(action: Action) -> None:
        if not app.json:
            click.echo(f"{action.stage}: {action.promotion} {action.action} ({action.reason})", err=quiet)

    with open_ledger(app, **ledger_opts) as ledger, abort_on_signals() as abort:
        options = replace(
            _options(work_dir, skip_steps, progress, github, verify), abort=abort, no_wait=True, queue=False
        )
        actions = reconcile(
            ledger,
            load,
            ReconcileOptions(promote=options, event=event, stage=stage or "", plan=plan_only, on_action=say),
        )
        dispatched = (
            _dispatch(ledger, loaded, actions, dispatch_workflow, ref, event) if dispatch_workflow else []
        )
    _write_step_summary(
        [
            (a.stage, a.outcome.freight.alias or "" if a.outcome else "", a.action, a.promotion, a.reason)
            for a in actions
        ]
    )
    if app.json:
        app.emit_json([a.to_json() for a in actions])
    elif not actions:
        click.echo("nothing to reconcile: no promotion can move now")
    for line in dispatched:
        click.echo(line, err=True)
    return 1 if any(a.failed for a in actions) else 0


def _idle(app: AppContext, event: Event, stage: str, ledger_opts: dict[str, str | None]) -> bool:
    """Whether the ledger, fetched and read without the models, shows nothing that could move."""
    from kargo_actions.cli.ledger_options import ledger_config
    from kargo_actions.ledger.reader import LedgerRepo
    from kargo_actions.promotion.events import nothing_to_do, quick_fetch

    config = ledger_config(app, settings=None, **ledger_opts)
    with LedgerRepo(app.repo, config) as repo:
        if not quick_fetch(repo):
            return False
        tree = repo.tree()
        if not event.targeted and _deferred_due(tree, stage):
            return False
        return nothing_to_do(tree, event, stage)


def _deferred_due(tree: LedgerTree, stage: str) -> bool:
    """A deferred auto-promotion whose Stage may have opened (its known opening passed, or none is known)."""
    from datetime import UTC, datetime

    from kargo_actions.promotion.deferred import deferred_stages

    return any(not stage or s == stage for s in deferred_stages(tree, datetime.now(UTC)))


def _dispatch(
    ledger: Ledger, loaded: list[Project], actions: list[Action], workflow: str, ref: str | None, event: Event
) -> list[str]:
    """Downstream auto-promotions of every Stage whose resumed promotion succeeded."""
    done = [a.stage for a in actions if a.outcome is not None and a.outcome.succeeded]
    if not done or not loaded:
        return []
    from kargo_actions.errors import InvalidInputError, Problem
    from kargo_actions.github.client import GitHubClient
    from kargo_actions.promotion.dispatch import dispatch_all, plan_dispatches

    where = ref or event.default_branch or os.environ.get("GITHUB_REF_NAME", "")
    if not where:
        raise InvalidInputError(
            [Problem(path="--ref", message="no ref to dispatch on", hint="pass --ref BRANCH")]
        )
    client = GitHubClient.from_env()
    lines: list[str] = []
    for stage in dict.fromkeys(done):
        plan = plan_dispatches(loaded[0], ledger, stage)
        for item, url in dispatch_all(plan, workflow, where, client):
            lines.append(f"dispatched {workflow} for {item.stage} ({item.freight[:12]}): {url}")
    return lines
