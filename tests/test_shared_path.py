"""Tests that need ../shared: skipped where it is absent, a failure under CI=true unless the run says it has none."""

from __future__ import annotations

import pytest

from tests.conftest import shared_path

MISSING = "no-such-folder-in-shared"


def test_absent_shared_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="is absent"):
        shared_path(MISSING)


def test_absent_shared_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("KARGO_ACTIONS_SHARED", raising=False)
    with pytest.raises(pytest.fail.Exception, match="CI must have shared/"):
        shared_path(MISSING)


def test_a_ci_run_that_declares_it_has_none_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("KARGO_ACTIONS_SHARED", "absent")
    with pytest.raises(pytest.skip.Exception, match="is absent"):
        shared_path(MISSING)
