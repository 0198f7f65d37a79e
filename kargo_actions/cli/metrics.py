"""`kargo-actions metrics`: the four DORA metrics per Stage and for the pipeline, read from the ledger."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from kargo_actions.cli.context import AppContext, pass_app
from kargo_actions.cli.ledger_options import ledger_options
from kargo_actions.errors import InvalidInputError, Problem

if TYPE_CHECKING:
    from kargo_actions.report.metrics import Figures, Metrics

DEFAULT_WINDOW = "30d"
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_moment(text: str, now: datetime, option: str) -> datetime:
    """An RFC 3339 time, or a duration before `now` (`30d`, `12h`, `2w`, `90m`, `45s`)."""
    value = text.strip()
    found = _DURATION.match(value)
    if found:
        return now - timedelta(seconds=int(found.group(1)) * _UNIT_SECONDS[found.group(2)])
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in value.upper():
        raise InvalidInputError(
            [
                Problem(
                    path=option,
                    message=f"{text!r} is neither an RFC 3339 time nor a duration",
                    hint="give a time with its offset, e.g. 2026-01-31T00:00:00Z, or a duration before now "
                    "such as 30d, 12h, 2w",
                )
            ]
        )
    return moment.astimezone(UTC)


def _check_names(given: tuple[str, ...], known: list[str], option: str, what: str) -> None:
    unknown = [g for g in given if g not in known]
    if unknown:
        raise InvalidInputError(
            [
                Problem(
                    path=option,
                    message=f"no {what} named {name!r} in the manifests",
                    hint=f"{what}s: {', '.join(known) or 'none'}",
                )
                for name in unknown
            ]
        )


@click.command("metrics")
@click.option(
    "--since",
    default=DEFAULT_WINDOW,
    show_default=True,
    help="Start of the window: an RFC 3339 time, or a duration before --until (30d, 12h, 2w).",
)
@click.option(
    "--until",
    default=None,
    help="End of the window: an RFC 3339 time or a duration before now.  [default: now]",
)
@click.option("--stage", "-s", "stages", multiple=True, help="Only this Stage (repeatable).")
@click.option(
    "--warehouse", "-w", "warehouses", multiple=True, help="Only Freight from this Warehouse (repeatable)."
)
@click.option("--fetch/--no-fetch", default=True, show_default=True, help="Fetch the ledger first.")
@ledger_options
@pass_app
def metrics_command(
    app: AppContext,
    /,
    since: str,
    until: str | None,
    stages: tuple[str, ...],
    warehouses: tuple[str, ...],
    fetch: bool,
    **ledger_opts: str | None,
) -> int:
    """The four DORA metrics per Stage and for the pipeline (its last Stages): deployment frequency
    (succeeded promotions per day), lead time for changes (artifact creation to the Freight's first
    succeeded promotion into the Stage; median and p90), change failure rate (failed promotions, failed
    verifications and rollbacks over all promotions) and time to restore (failure to the next verified
    Freight; median). Each figure comes with the count it was computed from; `--output json` names each
    figure's unit. Definitions: docs/metrics.md."""
    from kargo_actions.cli.ledger_options import ledger_config
    from kargo_actions.ledger.reader import LedgerRepo
    from kargo_actions.manifests import load_project
    from kargo_actions.report.metrics import Window, compute
    from kargo_actions.report.metrics_facts import read_facts

    now = datetime.now(UTC).replace(microsecond=0)
    end = parse_moment(until, now, "--until") if until else now
    start = parse_moment(since, end, "--since")  # a duration counts back from the window's end
    if start >= end:
        raise InvalidInputError(
            [Problem(path="--since", message="the window is empty: --since is not before --until")]
        )
    project = load_project(app.config_dir)
    order = project.stage_order()
    _check_names(stages, order, "--stage", "Stage")
    _check_names(warehouses, sorted(project.warehouses), "--warehouse", "Warehouse")
    chosen = [s for s in order if (not stages or s in stages)]
    if warehouses:
        chosen = [s for s in chosen if set(project.stages[s].warehouses) & set(warehouses)]
    verifying = frozenset(s for s in chosen if project.stages[s].spec.verification is not None)
    config = ledger_config(app, settings=project.settings, **ledger_opts)
    with LedgerRepo(app.repo, config) as repo:
        if fetch and repo.remote:
            fetched = repo.fetch_ledger()
            if fetched.returncode != 0:
                said = fetched.stderr.decode(errors="replace").strip().splitlines()
                click.echo(
                    f"warning: could not fetch the ledger ({said[-1] if said else 'git fetch failed'}); "
                    "the figures are from this clone's copy",
                    err=True,
                )
        facts = read_facts(repo.tree(), chosen)
    metrics = compute(
        facts,
        chosen,
        Window(start, end),
        downstream={s: project.downstream(s) for s in chosen},
        verifying=verifying,
        warehouses=warehouses,
    )
    if app.json:
        app.emit_json(metrics.to_json())
    else:
        _print(metrics)
    return 0


def _row(name: str, f: Figures) -> tuple[str, ...]:
    from kargo_actions.report.metrics import human_duration

    freq = "-" if f.frequency is None else f"{f.frequency:.2f}/day"
    lead = (
        f"{human_duration(f.lead_median)} / {human_duration(f.lead_p90)}" if f.lead_times else "-"
    ) + f" (n={len(f.lead_times)})"
    rate = "-" if f.failure_rate is None else f"{f.failure_rate:.0%}"
    restore = human_duration(f.restore_median) + f" (n={len(f.restores)}"
    restore += f", {f.open_incidents} open)" if f.open_incidents else ")"
    return (name, f"{freq} (n={f.deployments})", lead, f"{rate} ({f.failed}/{f.promotions})", restore)


def _print(metrics: Metrics) -> None:
    from kargo_actions.cli.freight import _print_table

    window = metrics.window
    click.echo(
        f"DORA metrics from {window.to_json()['since']} to {window.to_json()['until']} "
        f"({window.days:.1f} days)"
    )
    rows = [_row(s.stage, s.figures) for s in metrics.stages]
    rows.append(_row(f"pipeline ({', '.join(metrics.pipeline_stages) or '-'})", metrics.pipeline))
    _print_table(
        ("STAGE", "DEPLOYMENT FREQUENCY", "LEAD TIME median / p90", "CHANGE FAILURE RATE", "TIME TO RESTORE"),
        rows,
    )
    p = metrics.pipeline
    if p.lead_from_discovery or p.lead_unknown:
        click.echo(
            f"Lead times from discovery time (no artifact creation time recorded): {p.lead_from_discovery}"
            + (f"; Freight not found: {p.lead_unknown}" if p.lead_unknown else "")
        )
    if metrics.skipped:
        click.echo(f"Records left out (a needed field missing or unreadable): {metrics.skipped}")
