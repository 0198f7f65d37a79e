"""`discover --plan-groups`: the matrix of Warehouse groups an event concerns (discovery/shards.py), as
JSON the generated kargo-discover.yml reads with fromJSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from kargo_actions.cli.context import AppContext
from kargo_actions.errors import InvalidInputError, Problem


def read_event(event_file: str | None) -> dict[str, Any]:
    """The event's payload: --event FILE, else GITHUB_EVENT_PATH, else none ({})."""
    path = event_file or os.environ.get("GITHUB_EVENT_PATH", "")
    if not path:
        return {}
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise InvalidInputError(
            [Problem(file=path, message=f"cannot read the event: {err.strerror or err}")]
        ) from err
    except ValueError as err:
        raise InvalidInputError(
            [Problem(file=path, message=f"the event is not JSON: {err}", hint="pass GitHub's event payload")]
        ) from err
    if not isinstance(payload, dict):
        raise InvalidInputError([Problem(file=path, message="the event is not a JSON object")])
    return payload


def plan_groups_command(
    app: AppContext, event_file: str | None, event_name: str | None, as_json: bool
) -> int:
    from kargo_actions.discovery.shards import group_warehouses, plan_groups
    from kargo_actions.manifests import load_project

    project = load_project(app.config_dir)
    threshold = project.settings.spec.discovery_shard_threshold
    name = event_name if event_name is not None else os.environ.get("GITHUB_EVENT_NAME", "")
    plan = plan_groups(project, group_warehouses(project, threshold), name, read_event(event_file))
    if as_json:
        app.emit_json(plan.wire())
        return 0
    click.echo(f"{plan.reason}: {len(plan.runs)} group(s)")
    for run in plan.runs:
        click.echo(f"  {run.group} ({run.key}): {' '.join(run.warehouses)}")
    if plan.skipped:
        click.echo(f"  not concerned: {' '.join(plan.skipped)}")
    return 0
