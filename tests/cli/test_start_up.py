"""The CLI's start-up and end: the cyclic garbage collector is held while a command starts, then given back;
pydantic's plugin lookup is skipped; the command's process ends without the interpreter's teardown."""

from __future__ import annotations

import gc
import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kargo_actions import __version__
from kargo_actions.cli import main as cli_main


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    gc.enable() if was else gc.disable()


def _run_version() -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(["--version"])
    assert exit_info.value.code == 0


@pytest.mark.parametrize("enabled", [True, False])
def test_main_leaves_the_collector_as_it_found_it(enabled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "START_UP_GC_PAUSE_S", 0.05)
    gc.enable() if enabled else gc.disable()
    _run_version()
    assert gc.isenabled() is enabled
    time.sleep(0.3)  # the pause's timer has fired by now and must not have changed anything
    assert gc.isenabled() is enabled


def test_a_long_start_up_gets_the_collector_back_from_the_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "START_UP_GC_PAUSE_S", 0.1)
    pause = cli_main._StartUpGCPause()
    generation = pause.start(freeze=False)
    assert generation is not None
    assert not gc.isenabled()  # held while the command starts
    deadline = time.monotonic() + 5
    while not gc.isenabled() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gc.isenabled()
    gc.disable()  # someone turns it off later: the pause, already over, does not turn it on again
    pause.end(generation)
    assert not gc.isenabled()


def test_only_the_latest_pause_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "START_UP_GC_PAUSE_S", 60)
    pause = cli_main._StartUpGCPause()
    first = pause.start(freeze=False)
    second = pause.start(freeze=False)  # a second command while the first pause holds
    assert first is not None
    assert second is not None
    pause.end(first)
    assert not gc.isenabled()
    pause.end(second)
    assert gc.isenabled()


def test_console_command_freezes_start_up_objects() -> None:
    # The process's own command (argv from sys.argv) freezes what start-up built, so exit does not walk it.
    code = (
        "import gc, sys; from kargo_actions.cli.main import main\n"
        "sys.argv = ['kargo-actions', '--version']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 1000)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-2:] == ["True", "True"]


def test_commands_skip_pydantics_plugin_lookup() -> None:
    # pydantic's plugin lookup reads every installed distribution's metadata at the first validator: the CLI
    # gives it a loader that finds no plugin, and validation works as before.
    code = (
        "import sys\nfrom kargo_actions.cli.main import main\n"
        "sys.argv = ['kargo-actions', '--version']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "from kargo_actions.model.freight import Freight\n"
        "from pydantic import ValidationError\n"
        "try:\n    Freight.model_validate({'metadata': {'name': 'x'}, 'origin': 'not an origin'})\n"
        "except ValidationError as err:\n    print(err.error_count() > 0)\n"
        "print('importlib.metadata' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-2:] == ["True", "False"]


def test_a_loaded_plugin_loader_is_left_alone() -> None:
    loader = importlib.import_module("pydantic.plugin._loader")
    cli_main._without_pydantic_plugins()
    assert sys.modules["pydantic.plugin._loader"] is loader
    _run_version()  # an in-process caller keeps pydantic's own lookup
    assert sys.modules["pydantic.plugin._loader"] is loader


COMMAND = """\
import atexit, os, sys, threading, time
from kargo_actions.cli.main import main
threading._register_atexit(lambda: sys.__stderr__.write("interpreter shutdown\\n"))
atexit.register(lambda: sys.__stderr__.write("exit handler\\n"))
if os.environ.get("BUSY_THREAD"):
    threading.Thread(target=lambda: (time.sleep(0.2), sys.__stderr__.write("thread done\\n"))).start()
sys.exit(main())
"""


def _command(
    tmp_path: Path, name: str, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    script = tmp_path / name
    script.write_text(COMMAND)
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_the_command_ends_without_the_interpreters_teardown(tmp_path: Path) -> None:
    # Started as the console script: exit handlers run, streams are flushed, the status is kept, and the
    # teardown of the interpreter (whose thread shutdown hook would print) is skipped.
    code, out, err = _command(tmp_path, "kargo-actions", "--version")
    assert (code, out, err) == (0, f"kargo-actions, version {__version__}\n", "exit handler\n")
    code, out, err = _command(tmp_path, "kargo-actions", "promote")
    assert code == 2
    assert out == ""
    assert err.startswith("error: give --stage S")
    assert err.endswith("\nexit handler\n")


@pytest.mark.parametrize(
    ("name", "env"),
    [("other-program", None), ("kargo-actions", {"BUSY_THREAD": "1"})],
    ids=["embedded", "thread"],
)
def test_other_programs_and_running_threads_get_the_normal_exit(
    tmp_path: Path, name: str, env: dict[str, str] | None
) -> None:
    code, out, err = _command(tmp_path, name, "--version", env=env)
    assert (code, out) == (0, f"kargo-actions, version {__version__}\n")
    assert "interpreter shutdown" in err
    assert "exit handler" in err
    assert ("thread done" in err) is bool(env)
