"""The job summaries of discover, promote and verify on GitHub Actions: the command's own table, then the
pipeline and (for promote) each promotion, built by kargo_actions.report.summaries from the ledger after the
command's writes. Only runs when $GITHUB_STEP_SUMMARY is set."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import click

from kargo_actions.cli.context import AppContext

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger
    from kargo_actions.model.project import Project
    from kargo_actions.promotion.service import PromotionOutcome

_LEDGER_OPTIONS = ("ledger_branch", "ledger_remote", "tag_prefix", "signing")


def wanted() -> bool:
    return bool(os.environ.get("GITHUB_STEP_SUMMARY"))


def _open(app: AppContext) -> tuple[Project, Ledger]:
    """The project and its ledger as the running command opened them (its ledger flags, read back from click)."""
    from kargo_actions.cli.ledger_options import ledger_config
    from kargo_actions.ledger import Ledger
    from kargo_actions.manifests import load_project

    ctx = click.get_current_context(silent=True)
    given = {k: ctx.params.get(k) for k in _LEDGER_OPTIONS} if ctx is not None else {}
    project = load_project(app.config_dir)
    options = {k: v for k, v in given.items() if isinstance(v, str)}
    return project, Ledger(app.repo, ledger_config(app, settings=project.settings, **options))


def _append(markdown: str) -> None:
    from kargo_actions.github.output import append_step_summary

    append_step_summary(markdown)


def _fallback(table: str, err: Exception) -> None:
    # The summary is a report: its failure must not change the command's result, so the table alone is
    # written and the reason printed (a broad catch in this one place, for that reason).
    click.echo(f"warning: job summary without the pipeline drawing: {err}", err=True)
    _append(table)


def write_promotion_summary(app: AppContext, table: str, outcomes: Sequence[PromotionOutcome]) -> None:
    if not wanted():
        return
    if not outcomes:
        _append(table)
        return
    from kargo_actions.report.summaries import promotion_summary, promotion_views

    try:
        project, ledger = _open(app)
        with ledger:
            states, views = promotion_views(ledger, outcomes)
        _append(promotion_summary(project, states, views, table))
    except Exception as err:
        _fallback(table, err)


def write_pipeline_summary(
    app: AppContext,
    table: str,
    *,
    promoted: Iterable[str] = (),
    failed: Iterable[str] = (),
    warehouses: Iterable[str] = (),
) -> None:
    """discover's and verify's summary: their table, then the pipeline with what they touched highlighted."""
    if not wanted():
        return
    from kargo_actions.report.summaries import simple_summary

    try:
        project, ledger = _open(app)
        with ledger:
            states = {s.stage: s for s in ledger.snapshot().stage_states().records}
        _append(
            simple_summary(project, states, table, promoted=promoted, failed=failed, warehouses=warehouses)
        )
    except Exception as err:
        _fallback(table, err)
