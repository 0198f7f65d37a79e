"""The start of a promotion is pushed while its local steps run (promotion/claim.py), on kargo-simple's dev
Stage against the git HTTP server: clone, edit and commit go on meanwhile, the config push waits for the
start to land, and a start that loses its race is done again without a second config push."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.ledger import Ledger
from tests.conftest import shared_path
from tests.discovery.registry_server import Registry
from tests.e2e.pipeline import Pipeline, build_pipeline
from tests.support.git_http_server import GitHttpServer, git


@pytest.fixture
def simple(tmp_path: Path, git_server: GitHttpServer, registry: tuple[Registry, dict[str, str]]) -> Pipeline:
    reg, digests = registry
    p = build_pipeline(
        shared_path("kargo-examples/kargo-simple"),
        tmp_path,
        git_server,
        reg,
        digests,
        name="kargo-simple",
        repo_urls=("https://github.com/akuity/kargo-simple.git",),
        image="ghcr.io/akuity/guestbook",
    )
    p.record_discovered("v0.0.1", "2026-01-01T00:00:01Z")
    p.record_discovered("v0.0.2", "2026-01-01T00:00:02Z")
    return p


@pytest.fixture
def work_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where promotions make their work dirs, so a test can watch the steps' files appear."""
    where = tmp_path / "work-dirs"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def _first_push_does(monkeypatch: pytest.MonkeyPatch, before: Any) -> None:
    """Run `before()` on the push thread just before the first ledger push of the test (the start's)."""
    real = Ledger._push
    calls: list[int] = []

    def push(self: Ledger, base: str | None, commit: str, tags: Any) -> bool:
        calls.append(1)
        if len(calls) == 1:
            before()
        return real(self, base, commit, tags)

    monkeypatch.setattr(Ledger, "_push", push)


def test_local_steps_run_while_the_start_is_pushed_and_the_config_push_waits(
    simple: Pipeline, work_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = simple
    main_before = p.remote_log("main")
    seen: dict[str, Any] = {}

    def before() -> None:
        # Hold the start's push until the clone has written its checkout: proof that it ran meanwhile.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not list(work_dirs.glob("kargo-promote-*/src/env")):
            time.sleep(0.02)
        seen["cloned"] = bool(list(work_dirs.glob("kargo-promote-*/src/env")))
        time.sleep(0.3)  # time enough for the edit and the commit; the config push must still wait
        seen["main"] = p.remote_log("main")

    _first_push_does(monkeypatch, before)
    code, out, err = p.run("promote", "--stage", "dev", "--freight", "v0-0-2", "-q")
    assert code == 0, err + out
    assert seen == {"cloned": True, "main": main_before}  # cloned meanwhile; nothing pushed before the start
    assert len(p.remote_log("main")) == len(main_before) + 1
    [record] = p.json("history", "--stage", "dev")
    assert record["phase"] == "Succeeded"
    assert [s["status"] for s in record["steps"]][:4] == ["Succeeded"] * 4


def test_a_start_that_loses_its_race_is_done_again_with_one_config_push(
    simple: Pipeline, work_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = simple
    main_before = p.remote_log("main")
    ledger_before = p.remote_log("kargo/ledger")

    def before() -> None:  # another writer lands first: the start's push is refused (compare-and-swap)
        p.record_discovered("v0.0.3", "2026-01-01T00:00:03Z")

    _first_push_does(monkeypatch, before)
    code, out, err = p.run("promote", "--stage", "dev", "--freight", "v0-0-2", "-q")
    assert code == 0, err + out
    assert len(p.remote_log("main")) == len(main_before) + 1  # the config was pushed once
    [record] = p.json("history", "--stage", "dev")  # the lost start left no record
    assert record["phase"] == "Succeeded"
    ledger = p.remote_log("kargo/ledger")
    assert len(ledger) == len(ledger_before) + 3  # the other writer's Freight, the start, the end
    assert "v0-0-3" in {f["alias"] for f in p.json("freight", "list")}
    assert list(work_dirs.iterdir()) == []


def test_a_start_the_remote_refuses_pushes_nothing_of_the_steps(simple: Pipeline, work_dirs: Path) -> None:
    p = simple
    hook = p.server.root / p.remote_name / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\ngrep -q refs/heads/kargo/ledger && { echo 'ledger is read-only' >&2; exit 1; }\nexit 0\n"
    )
    hook.chmod(0o755)
    main_before = p.remote_log("main")
    ledger_before = p.remote_log("kargo/ledger")
    code, _out, err = p.run("promote", "--stage", "dev", "--freight", "v0-0-2", "-q")
    assert code == 1, err
    assert "push of ledger branch kargo/ledger" in err
    assert "ledger is read-only" in err
    assert p.remote_log("main") == main_before
    assert p.remote_log("kargo/ledger") == ledger_before
    assert git(p.repo, "log", "--format=%s", "-1", "kargo/ledger").strip() == ledger_before[0]
    assert list(work_dirs.iterdir()) == []
