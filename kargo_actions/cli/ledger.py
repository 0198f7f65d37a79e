"""`kargo-actions ledger ...`: the ledger branch itself (repair what a rewound branch lost)."""

from __future__ import annotations

import click

from kargo_actions.cli.context import AppContext, pass_app
from kargo_actions.cli.ledger_options import ledger_options, open_ledger


@click.group("ledger")
def ledger_group() -> None:
    """The ledger branch itself: restore records a rewound (force-pushed) branch lost."""


@ledger_group.command("repair")
@click.option(
    "--from",
    "source",
    metavar="PATH|URL",
    default=None,
    help="Another clone (or remote) to restore from too: its ledger branch and its Freight tags.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be restored; write nothing.")
@ledger_options
@pass_app
def repair_command(app: AppContext, /, source: str | None, dry_run: bool, **ledger_opts: str | None) -> int:
    """Restore the records the ledger branch lacks: from this clone's copy (the tip it last saw), from
    --from another clone, and Freight records from the Freight tags (each tag carries its Freight).

    The records go back in one commit on top of the remote tip, pushed by the usual compare-and-swap; a
    record changed on both sides keeps the remote's version and is reported. A second run writes nothing.
    """
    from kargo_actions.ledger.repair import repair

    with open_ledger(app, **ledger_opts) as ledger:
        result = repair(ledger, source=source, dry_run=dry_run)
    if app.json:
        app.emit_json(result.to_json())
    else:
        click.echo(result.text())
    return 0
