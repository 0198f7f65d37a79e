"""docs/cli.md's command reference, generated from the click commands themselves.

Regenerate with `python -m kargo_actions.cli.reference --write`; a test fails when the file is stale.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from pathlib import Path

import click

BEGIN = "<!-- BEGIN GENERATED: command reference (python -m kargo_actions.cli.reference --write) -->"
END = "<!-- END GENERATED -->"
DOC_PATH = Path("docs") / "cli.md"


def _walk(
    command: click.Command, ctx: click.Context, path: list[str]
) -> Iterator[tuple[list[str], click.Command, click.Context]]:
    yield path, command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            sub_ctx = click.Context(sub, info_name=name, parent=ctx)
            yield from _walk(sub, sub_ctx, [*path, name])


def _option_rows(command: click.Command, ctx: click.Context) -> list[str]:
    rows = []
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or "--help" in param.opts:
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, text = (part.replace("|", "\\|") for part in record)
        rows.append(f"| `{names}` | {text} |")
    return rows


def render_reference() -> str:
    """The Markdown reference of every command, in command-tree order."""
    from kargo_actions.cli.main import cli

    root_ctx = click.Context(cli, info_name="kargo-actions")
    parts: list[str] = []
    for path, command, ctx in _walk(cli, root_ctx, []):
        title = " ".join(["kargo-actions", *path])
        pieces = command.collect_usage_pieces(ctx)
        parts.append(f"### `{title}`\n")
        parts.append(f"```\n{title} {' '.join(pieces)}\n```\n")
        if command.help:
            parts.append(inspect.cleandoc(command.help).replace("\b\n", "") + "\n")
        rows = _option_rows(command, ctx)
        if rows:
            parts.append("| option | meaning |\n|---|---|\n" + "\n".join(rows) + "\n")
        if isinstance(command, click.Group):
            names = [
                n
                for n in command.list_commands(ctx)
                if not (c := command.get_command(ctx, n)) or not c.hidden
            ]
            parts.append("Subcommands: " + ", ".join(f"`{n}`" for n in names) + "\n")
    return "\n".join(parts)


def updated(text: str) -> str:
    """`text` with the generated block replaced by a fresh one."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"{DOC_PATH} lacks the generated-block markers")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{render_reference()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    path = Path(__file__).resolve().parents[2] / DOC_PATH
    current = path.read_text()
    fresh = updated(current)
    if "--write" in argv:
        path.write_text(fresh)
        return 0
    if fresh != current:
        print(f"{DOC_PATH} is stale: run python -m kargo_actions.cli.reference --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
