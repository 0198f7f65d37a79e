"""`kargo-actions freight ...`: list, show, verify and alias Freight recorded on the ledger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from kargo_actions.cli.context import AppContext, pass_app
from kargo_actions.cli.ledger_options import (  # shared: flag > env > Settings
    ledger_config,
    ledger_options,
    open_ledger,
)

if TYPE_CHECKING:
    from kargo_actions.model.freight import Freight


def _artifacts(freight: Freight) -> str:
    parts = [f"{i.repo_url}:{i.tag or i.digest[:19]}" for i in freight.images]
    parts += [f"{c.repo_url}@{(c.tag or c.id[:7])}" for c in freight.commits]
    parts += [
        f"{c.repo_url}/{c.name}:{c.version}" if c.name else f"{c.repo_url}:{c.version}"
        for c in freight.charts
    ]
    return "\n".join(parts)


def _stages(freight: Freight) -> str:
    status = freight.status
    if status is None:
        return ""
    current = sorted(status.currently_in or {})
    verified = sorted(set(status.verified_in or {}) - set(current))
    return ", ".join([*(f"{s}*" for s in current), *verified])


def _console() -> Any:
    """A rich console; as wide as needed when piped, so rows never fold."""
    import sys

    from rich.console import Console

    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)


PIPE_WIDTH = 400  # columns of the console when stdout is not a terminal


RICH_MAX_ROWS = 200  # rich lays out 10,000 rows in seconds; above this, plain aligned columns


def _print_table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """A borderless table: rich for a screenful, plain aligned columns (same layout) for long lists."""
    if len(rows) <= RICH_MAX_ROWS:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for header in headers:
            table.add_column(header, no_wrap=True)
        for row in rows:
            table.add_row(*row)
        _console().print(table)
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [headers, *rows]
    ]
    click.echo("\n".join(lines))


def _emit_json_list(items: Sequence[Freight]) -> None:
    """A JSON array with one Freight (its wire form) per line, serialised by pydantic-core in Rust.

    At 10,000 Freight, `json.dump(..., indent=2)` alone takes longer than reading the whole ledger.
    """
    import sys

    body = ",\n".join(f.model_dump_json(by_alias=True, exclude_none=True) for f in items)
    sys.stdout.write(f"[\n{body}\n]\n" if items else "[]\n")


def _warn(problems: list[Any]) -> int:
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    return 2 if problems else 0


@click.group()
def freight() -> None:
    """Freight: list, show, verify and alias (records on the ledger branch, signed tags)."""


@freight.command("list")
@click.option("--warehouse", "-w", help="Only Freight from this Warehouse.")
@click.option("--stage", "-s", help="Only Freight currently in this Stage.")
@click.option(
    "--available-for",
    metavar="STAGE",
    help="Only Freight available to this Stage now (Kargo's rule: origin, approval, direct, verified "
    "upstream with soak time, control-flow Stages). Reads the manifests.",
)
@ledger_options
@pass_app
def list_command(
    app: AppContext,
    /,
    warehouse: str | None,
    stage: str | None,
    available_for: str | None,
    **ledger_opts: str,
) -> int:
    """List recorded Freight, oldest first ('*' after a Stage = currently in it, else verified in it)."""
    if available_for is None:
        with open_ledger(app, **ledger_opts) as ledger:
            read = ledger.list_freight(warehouse=warehouse, stage=stage)
    else:
        from datetime import UTC, datetime

        from kargo_actions.cli.ledger_options import open_project_ledger
        from kargo_actions.errors import InvalidInputError, Problem
        from kargo_actions.manifests import load_project
        from kargo_actions.promotion.gates import availability, settle_control_flow

        project = load_project(app.config_dir)
        target = project.stages.get(available_for)
        if target is None:
            raise InvalidInputError(
                [Problem(path="--available-for", message=f"no Stage {available_for!r} in {app.config_dir}")]
            )
        now = datetime.now(UTC)
        with open_project_ledger(app, project.settings, **ledger_opts) as ledger:
            snap = ledger.snapshot()
            read = ledger.list_freight(warehouse=warehouse, stage=stage, snapshot=snap)
            every = ledger.list_freight(snapshot=snap).records if (warehouse or stage) else read.records
            states = {s.stage: s for s in snap.stage_states().records}
        # Control-flow Stages verify whatever is available to them; settle them before asking downstream.
        settled = settle_control_flow(project, states, every, now)
        read.records[:] = [f for f in read.records if availability(target, f, settled, now).available]
    if app.json:
        _emit_json_list(read.records)
    else:
        rows = [
            (
                f.alias or "",
                f.name[:12],
                f.origin.name,
                f.metadata.creation_timestamp or "",
                _artifacts(f).replace("\n", ", "),
                _stages(f),
            )
            for f in read.records
        ]
        _print_table(("ALIAS", "ID", "WAREHOUSE", "CREATED", "ARTIFACTS", "STAGES"), rows)
        if any(row[-1].endswith("*") or "*," in row[-1] for row in rows):
            click.echo("\nSTAGES: NAME* = the Stage holds it now; NAME alone = verified there before")
    return _warn(list(read.problems))


@freight.command("show")
@click.argument("ref")
@ledger_options
@pass_app
def show_command(app: AppContext, /, ref: str, **ledger_opts: str) -> int:
    """Show one Freight: REF is a full ID, a unique ID prefix, or an alias."""
    from kargo_actions.ledger.reader import LedgerRepo

    config = ledger_config(app, settings=None, **ledger_opts)
    # Records the schemas vouch for are shown without loading the models; any other goes through them.
    with LedgerRepo(app.repo, config) as repo:
        tree = repo.tree()
        view: dict[str, Any] | None = tree.freight_view(ref)
        if view is None:
            from kargo_actions.ledger import Ledger

            with Ledger(app.repo, config) as ledger:
                view = ledger.get_freight(ref).wire()
        if app.json:
            app.emit_json(view)
            return 0
        from kargo_actions.promotion.events import in_progress_for

        promoting = in_progress_for(tree, view["metadata"]["name"])
    rows = show_rows(view, config.tag_name(view["origin"]["name"], view["metadata"]["name"]))
    _print_pairs([*rows, *(("Promoting", line) for line in promoting)])
    return 0


def show_rows(view: Mapping[str, Any], tag: str) -> list[tuple[str, str]]:
    """`freight show`'s label and value rows, from the Freight's wire form."""
    meta = view["metadata"]
    rows = [
        ("ID", meta["name"]),
        ("Alias", view.get("alias") or ""),
        ("Warehouse", view["origin"]["name"]),
        ("Created", meta.get("creationTimestamp") or ""),
        ("Tag", tag),
    ]
    for image in view.get("images", ()):
        digest = image.get("digest")
        rows.append(
            ("Image", f"{image['repoURL']}:{image.get('tag', '')}" + (f"@{digest}" if digest else ""))
        )
    for commit in view.get("commits", ()):
        text = f"{commit['repoURL']} {commit.get('tag') or ''} {commit.get('id', '')}"
        rows.append(("Commit", text.replace("  ", " ")))
    for chart in view.get("charts", ()):
        text = f"{chart['repoURL']} {chart.get('name', '')} {chart.get('version', '')}"
        rows.append(("Chart", text.replace("  ", " ")))
    status = view.get("status") or {}
    for stage, cur in sorted((status.get("currentlyIn") or {}).items()):
        rows.append(("In stage", f"{stage} since {cur.get('since')}"))
    for stage, ver in sorted((status.get("verifiedIn") or {}).items()):
        soak = f", longest soak {ver['longestSoak']}" if ver.get("longestSoak") else ""
        rows.append(("Verified in", f"{stage} at {ver.get('verifiedAt')}{soak}"))
    for stage, appr in sorted((status.get("approvedFor") or {}).items()):
        rows.append(("Approved for", f"{stage} at {appr.get('approvedAt')}"))
    return rows


def _print_pairs(rows: Sequence[tuple[str, str]]) -> None:
    """Label and value columns: rich on a terminal (bold labels, values folded), else the same text directly.

    Importing rich costs `freight show` 30 ms, a sixth of its budget; piped, rich prints no style and, in its
    400 columns, folds nothing, so the plain text below is byte for byte what it would print.
    """
    import os
    import sys

    label_width = max(len(label) for label, _ in rows)
    value_width = max(len(value) for _, value in rows)
    plain = (
        not sys.stdout.isatty()
        and not os.environ.get("FORCE_COLOR")  # rich styles a pipe when asked to (force-color.org)
        and os.environ.get("TTY_COMPATIBLE") != "1"
        and label_width + 2 + value_width <= PIPE_WIDTH
        and all(value.isascii() and "[" not in value for _, value in rows)  # no wide glyphs, no markup
    )
    if plain:
        click.echo(
            "\n".join(f"{label.ljust(label_width)}  {value.ljust(value_width)}" for label, value in rows)
        )
        return
    from rich.table import Table

    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    _console().print(table)


@freight.command("verify")
@click.argument("refs", nargs=-1)
@click.option(
    "--all",
    "all_",
    is_flag=True,
    help="Verify every Freight with a record or a tag (the default); reports tags whose record the "
    "ledger branch lacks.",
)
@click.option("--fetch/--no-fetch", default=True, show_default=True, help="Fetch the ledger and tags first.")
@ledger_options
@pass_app
def verify_command(
    app: AppContext, /, refs: tuple[str, ...], all_: bool, fetch: bool, **ledger_opts: str
) -> int:
    """Check signatures and that each tag, ledger record and Freight ID agree; exit 3 when any fails."""
    from kargo_actions.errors import InvalidInputError
    from kargo_actions.ledger import verify_freight
    from kargo_actions.ledger.verify import refuse_failures

    if refs and all_:
        raise InvalidInputError("give REFs or --all, not both")
    with open_ledger(app, **ledger_opts) as ledger:
        snapshot = None
        if fetch and (tracking := ledger.config.remote_tracking_ref()) and ledger.remote:
            ledger.sync()
            # The remote's records, not this clone's: after a rewind only the remote shows what is missing.
            tip = ledger.git.rev_parse_many([tracking])[tracking]
            snapshot = ledger.snapshot(tip) if tip else None
        checks = verify_freight(ledger, list(refs) if refs else None, snapshot)
        policy = ledger.config.signing
    if app.json:
        app.emit_json(
            [
                {
                    "name": c.id,
                    "warehouse": c.warehouse,
                    "alias": c.alias,
                    "tag": c.tag,
                    "ok": not c.failed(policy),
                    "findings": [str(f) for f in c.findings],
                    "details": list(c.details),
                    "signer": c.signer,
                }
                for c in checks
            ]
        )
    else:
        for check in checks:
            click.echo(check.line(policy))
        click.echo(f"{sum(not c.failed(policy) for c in checks)} of {len(checks)} Freight verified")
    refuse_failures(checks, policy)
    return 0


@freight.command("alias")
@click.argument("ref")
@click.argument("new_alias", metavar="NEW")
@ledger_options
@pass_app
def alias_command(app: AppContext, /, ref: str, new_alias: str, **ledger_opts: str) -> int:
    """Give the Freight REF the alias NEW (unique in the ledger; recorded)."""
    with open_ledger(app, **ledger_opts) as ledger:
        item = ledger.set_alias(ref, new_alias)
    if app.json:
        app.emit_json(item.wire())
    else:
        click.echo(f"{item.origin.name}/{item.name} is now {item.alias}")
    return 0


@freight.command("assemble")
@click.option("--warehouse", "-w", required=True, help="The Warehouse the Freight comes from.")
@click.option(
    "--from-json",
    "from_json",
    type=click.File("r"),
    help='Artifacts as JSON ({"images": [...], "commits": [...], "charts": [...]}, Kargo-shaped); - for stdin.',
)
@click.option("--image", "images", multiple=True, metavar="REPO:TAG@DIGEST", help="An image revision.")
@click.option(
    "--commit", "commits", multiple=True, metavar="repoURL=URL,id=SHA[,tag=T][,branch=B]", help="A commit."
)
@click.option(
    "--chart", "charts", multiple=True, metavar="repoURL=URL[,name=N],version=V", help="A chart version."
)
@click.option("--alias", help="The Freight's alias (default: a new adjective-animal pair).")
@click.option("--dry-run", is_flag=True, help="Print the Freight without recording anything.")
@click.option(
    "--allow-undiscovered",
    is_flag=True,
    help="Record revisions that `discover` has not listed for their subscription (by default only "
    "discovered revisions are accepted).",
)
@ledger_options
@pass_app
def assemble_command(
    app: AppContext,
    /,
    warehouse: str,
    from_json: Any,
    images: tuple[str, ...],
    commits: tuple[str, ...],
    charts: tuple[str, ...],
    alias: str | None,
    dry_run: bool,
    allow_undiscovered: bool,
    **ledger_opts: str,
) -> int:
    """Assemble a Freight from artifacts matching the Warehouse's subscriptions one for one.

    Recording accepts only revisions `kargo-actions discover` listed for their subscription (see the
    discovered artifacts with `discover -o json`); --allow-undiscovered records any. --dry-run checks nothing
    against the ledger.
    """
    from kargo_actions.discovery.assemble import (
        Artifacts,
        assemble_freight,
        combine,
        parse_artifacts_json,
        parse_chart_ref,
        parse_commit_ref,
        parse_image_ref,
    )
    from kargo_actions.errors import InvalidInputError, Problem, did_you_mean
    from kargo_actions.manifests import load_project

    project = load_project(app.config_dir)
    found = project.warehouses.get(warehouse)
    if found is None:
        known = ", ".join(sorted(project.warehouses)) or "none"
        hint = did_you_mean(warehouse, project.warehouses) or f"Warehouses: {known}"
        raise InvalidInputError(
            [Problem(path="--warehouse", message=f"no Warehouse {warehouse!r}", hint=hint)]
        )
    parts = [
        Artifacts(
            images=tuple(parse_image_ref(r) for r in images),
            commits=tuple(parse_commit_ref(r) for r in commits),
            charts=tuple(parse_chart_ref(r) for r in charts),
        )
    ]
    if from_json is not None:
        parts.append(
            parse_artifacts_json(from_json.read(), "-" if from_json.name == "<stdin>" else from_json.name)
        )
    artifacts = combine(parts)
    if not len(artifacts):
        raise InvalidInputError("give the artifacts with --from-json FILE|- or --image / --commit / --chart")
    item = assemble_freight(found, artifacts, alias=alias)
    if dry_run:
        from kargo_actions.freight.alias import generate_alias

        if item.alias is None:
            item = item.model_copy(update={"alias": generate_alias()})
        _print_freight(app, item, "would record")
        return 0
    with open_ledger(app, **ledger_opts) as ledger:
        if not allow_undiscovered:
            from kargo_actions.discovery.assemble import check_discovered
            from kargo_actions.ledger.records import DiscoveredArtifactsRecord, discovered_path

            check_discovered(
                item, ledger.snapshot().load(DiscoveredArtifactsRecord, discovered_path(warehouse))
            )
        result = ledger.record_freight(item)
    _print_freight(app, result.freight, "recorded" if result.created else "already recorded")
    return 0


def _print_freight(app: AppContext, item: Freight, verb: str) -> None:
    if app.json:
        app.emit_json(item.wire())
        return
    click.echo(f"{verb} Freight {item.name} ({item.alias}) from Warehouse {item.origin.name}")
    for line in _artifacts(item).splitlines():
        click.echo(f"  {line}")
