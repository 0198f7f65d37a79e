"""The CLI's start-up: the cyclic garbage collector is held while a command imports, then given back."""

from __future__ import annotations

import gc
import time

import pytest

from kargo_actions.cli import main as cli_main


def _run_version() -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(["--version"])
    assert exit_info.value.code == 0


def _wait_enabled(seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if gc.isenabled():
            return True
        time.sleep(0.01)
    return gc.isenabled()


def test_collector_paused_during_start_up_then_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "START_UP_GC_PAUSE_S", 0.2)
    assert gc.isenabled()
    _run_version()
    assert not gc.isenabled()  # held while the command ran
    assert _wait_enabled(5.0)  # and given back by the timer


def test_collector_left_off_when_the_caller_turned_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "START_UP_GC_PAUSE_S", 0.05)
    gc.disable()
    try:
        _run_version()
        time.sleep(0.3)
        assert not gc.isenabled()  # no timer turned it on behind the caller's back
    finally:
        gc.enable()
