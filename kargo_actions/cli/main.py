"""The `kargo-actions` entry point: global options, lazy subcommands, one error handler."""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import os
import sys
import threading
from pathlib import Path

import click

from kargo_actions import __version__
from kargo_actions.cli.context import AppContext
from kargo_actions.cli.global_options import accept_global_options

# name -> "module:attribute"; modules are imported only when their command runs, so --help stays fast.
LAZY_COMMANDS: dict[str, str] = {
    "expr": "kargo_actions.cli.expr:expr_command",
    "validate": "kargo_actions.cli.validate:validate",
    "graph": "kargo_actions.cli.graph:graph",
    "freight": "kargo_actions.cli.freight:freight",
    "ledger": "kargo_actions.cli.ledger:ledger_group",
    "step": "kargo_actions.cli.step:step_group",
    "discover": "kargo_actions.cli.discover:discover",
    "promote": "kargo_actions.cli.promote:promote_command",
    "approve": "kargo_actions.cli.promote:approve_command",
    "rollback": "kargo_actions.cli.promote:rollback_command",
    "reconcile": "kargo_actions.cli.reconcile:reconcile_command",
    "status": "kargo_actions.cli.status:status_command",
    "history": "kargo_actions.cli.status:history_command",
    "verify": "kargo_actions.cli.verify:verify_command",
    "github": "kargo_actions.cli.github:github_group",
    "workflows": "kargo_actions.cli.workflows:workflows_group",
    "dashboard": "kargo_actions.cli.dashboard:dashboard_command",
    "freeze": "kargo_actions.cli.freeze:freeze_command",
    "unfreeze": "kargo_actions.cli.freeze:unfreeze_command",
    "metrics": "kargo_actions.cli.metrics:metrics_command",
    "demo": "kargo_actions.cli.demo:demo_command",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return accept_global_options(command)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing help text would import every command module; names keep --help fast.
        with formatter.section("Commands"):
            formatter.write_text(", ".join(self.list_commands(ctx)))
            formatter.write_text("Run `kargo-actions COMMAND --help` for one command's options.")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="kargo-actions")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    envvar="KARGO_ACTIONS_REPO",
    show_default=True,
    help="The pipeline repository (git work tree).",
)
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="KARGO_ACTIONS_CONFIG_DIR",
    help="Folder of Kargo manifests, relative to --repo.  [default: .kargo]",
)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="KARGO_ACTIONS_OUTPUT",
    show_default=True,
    help="Output format of read commands.",
)
@click.option("--debug", is_flag=True, envvar="KARGO_ACTIONS_DEBUG", help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, repo: Path, config_dir: Path | None, output: str, debug: bool) -> None:
    """Kargo-style continuous promotion on GitHub Actions, with git as the database."""
    ctx.obj = AppContext(repo=repo, config_dir_option=config_dir, output=output, debug=debug)


START_UP_GC_PAUSE_S = 1.0


class _StartUpGCPause:
    """Hold the cyclic garbage collector while a command starts, then give it back.

    A command's imports build a few hundred thousand long-lived objects (modules, pydantic models and
    validators) and the collector walks them again each time it runs while they appear: 40-60 ms of CPU in
    `promote`'s start-up. Reference counting still frees ordinary garbage meanwhile. The collector comes
    back when main() returns or, for a longer command, after START_UP_GC_PAUSE_S (a daemon timer); only the
    latest pause can end it, and a collector the caller had turned off stays off. For the process's own
    command (`freeze`), the objects built so far are frozen first: neither later collections nor the one at
    interpreter exit walk them again (another 30 ms); garbage cycles among them stay until exit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._paused = False
        self._freeze = False

    def start(self, freeze: bool) -> int | None:
        with self._lock:
            if not gc.isenabled() and not self._paused:
                return None
            gc.disable()
            self._paused = True
            self._freeze = freeze
            self._generation += 1
            generation = self._generation
        timer = threading.Timer(START_UP_GC_PAUSE_S, self.end, args=(generation,))
        timer.daemon = True
        timer.start()
        return generation

    def end(self, generation: int) -> None:
        with self._lock:
            if self._paused and generation == self._generation:
                self._paused = False
                if self._freeze:
                    gc.freeze()
                gc.enable()


_GC_PAUSE = _StartUpGCPause()


def _without_pydantic_plugins() -> None:
    """Skip pydantic's plugin lookup in the console command's process: kargo-actions uses no pydantic plugin.

    At the first validator a command builds, pydantic imports importlib.metadata and scans the entry points
    of every installed distribution for plugins: 10-20 ms of each command's start-up. Its one caller
    (pydantic.plugin._schema_validator) takes `get_plugins` from the module replaced here by one that finds
    none, unless pydantic has loaded the real one already.
    """
    import types

    if "pydantic.plugin._loader" not in sys.modules:
        loader = types.ModuleType("pydantic.plugin._loader", "No pydantic plugins (kargo_actions.cli.main).")
        loader.__dict__["get_plugins"] = lambda: ()
        sys.modules["pydantic.plugin._loader"] = loader


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and map every error to its exit code with a one-line message.

    Commands return an int exit code (None means 0); errors derive from KargoActionsError.
    """
    from kargo_actions.redact import redact_standard_streams

    if argv is None:  # the console script, the process's own command
        _without_pydantic_plugins()
    pause = _GC_PAUSE.start(freeze=argv is None)
    # Every line printed passes the redaction of secrets; the console script keeps it to the end of the
    # process (a --debug traceback too), a caller in process gets its own streams back.
    streams = sys.stdout, sys.stderr
    redact_standard_streams()
    try:
        _main(argv)
    except SystemExit as done:
        if argv is None:
            _exit_now(done)  # returns when the process should end the normal way
        raise
    finally:
        if pause is not None:
            _GC_PAUSE.end(pause)
        sys.stdout.flush()
        sys.stderr.flush()
        if argv is not None:
            sys.stdout, sys.stderr = streams


# The file Python started: the console script, or kargo_actions/__main__.py for `python -m kargo_actions`.
COMMAND_NAMES = ("kargo-actions", "__main__.py")


def _exit_now(done: SystemExit) -> None:
    """End the command's process without the interpreter's teardown, which frees every module and model the
    command imported (10-15 ms) and leaves nothing a finished command needs.

    As at a normal exit, the exit handlers run and the streams are flushed first, with the same exit status.
    Returns (the normal exit follows) when the process is not this command (a program calling main()), when
    another non-daemon thread still runs, or when flushing fails (a closed pipe: Python reports it).
    """
    code = done.code
    if code is not None and not isinstance(code, int):
        return
    started_as = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    if Path(started_as).name not in COMMAND_NAMES:
        return
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    os._exit(code or 0)


def _main(argv: list[str] | None) -> None:
    from kargo_actions.errors import ExitCode, KargoActionsError
    from kargo_actions.redact import redact

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("KARGO_ACTIONS_DEBUG", "") not in ("", "0", "false")
    try:
        rv = cli.main(args=args, prog_name="kargo-actions", standalone_mode=False)
    except KargoActionsError as err:
        if debug:
            raise
        for line in err.lines():
            click.echo(f"error: {redact(line)}", err=True)
        sys.exit(int(err.exit_code))
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(int(ExitCode.INVALID))
    except Exception as err:  # the one place unexpected errors become exit 4
        if debug:
            raise
        click.echo(
            redact(f"internal error: {type(err).__name__}: {err} (rerun with --debug for the traceback)"),
            err=True,
        )
        sys.exit(int(ExitCode.BUG))
    sys.exit(rv if isinstance(rv, int) else 0)
