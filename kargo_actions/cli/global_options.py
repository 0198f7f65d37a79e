"""The global options (--repo, --config-dir, --output, --debug) taken after the command name too.

`kargo-actions status --output json` reads as naturally as `kargo-actions --output json status`; every
command (and every subcommand of a group) gets hidden copies of the global options that replace the value
given before the command name. A command's own option of the same name (discover's --output) wins.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click

from kargo_actions.cli.context import AppContext

_ADDED = "_kargo_actions_global_options"  # set on a command once it has the copies


def _setter(field: str) -> Any:
    def set_field(ctx: click.Context, _param: click.Parameter, value: object) -> None:
        if value is None or value is False:
            return
        app = ctx.find_object(AppContext)
        if app is not None:
            changes: dict[str, Any] = {field: value}
            ctx.obj = dataclasses.replace(app, **changes)

    return set_field


def _copies() -> list[click.Option]:
    return [
        click.Option(
            ["--repo"],
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            hidden=True,
            expose_value=False,
            callback=_setter("repo"),
        ),
        click.Option(
            ["--config-dir"],
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            hidden=True,
            expose_value=False,
            callback=_setter("config_dir_option"),
        ),
        click.Option(
            ["--output", "-o"],
            type=click.Choice(["text", "json"]),
            default=None,
            hidden=True,
            expose_value=False,
            callback=_setter("output"),
        ),
        click.Option(
            ["--debug"],
            is_flag=True,
            default=False,
            hidden=True,
            expose_value=False,
            callback=_setter("debug"),
        ),
    ]


def accept_global_options(command: click.Command) -> click.Command:
    """Give `command` (and, for a group, every command under it) the global options it lacks; idempotent."""
    if getattr(command, _ADDED, False):
        return command
    taken = {opt for param in command.params for opt in param.opts}
    command.params += [o for o in _copies() if not taken.intersection(o.opts)]
    setattr(command, _ADDED, True)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_global_options(sub)
    return command
