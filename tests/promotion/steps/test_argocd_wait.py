"""argocd-wait against the Argo CD test server (every exchange checked against swagger.json)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.steps.argocd_wait import ArgoCDWait, ArgoCDWaitConfig
from kargo_actions.promotion.steps.base import StepContext, StepFailed, TerminalStepError, validate_config
from tests.promotion.steps.conftest import context
from tests.support.argocd_server import ArgoCDServer, Outcome, SyncScript, application, serve_argocd


@pytest.fixture
def server() -> Iterator[ArgoCDServer]:
    with serve_argocd() as s:
        yield s


def _ctx(tmp_path: Path, server: ArgoCDServer, timeout: str = "2s") -> StepContext:
    env = {
        **server.env(),
        "KARGO_ACTIONS_ARGOCD_POLL_INTERVAL": "10ms",
        "KARGO_ACTIONS_ARGOCD_TIMEOUT": timeout,
    }
    return context(tmp_path / "work", env=env)


def _run(ctx: StepContext, config: dict[str, Any]) -> str:
    step = ArgoCDWait()
    return step.run(ctx, validate_config(step.name, ArgoCDWaitConfig, config)).message


def _syncing(server: ArgoCDServer, name: str, script: SyncScript, **app: Any) -> None:
    server.add(application(name, **app), script)
    server.sync(server.apps[(app.get("namespace", "argocd"), name)], {"revision": "b" * 40})


@pytest.mark.parametrize(
    ("outcome", "wait_for", "message"),
    [
        (Outcome.SUCCEED, None, "Healthy, Synced, no operation running"),
        (Outcome.OUT_OF_SYNC, ["operation"], "no operation running"),
        (Outcome.DEGRADE, ["degraded", "suspended"], "Degraded or Suspended"),
        (Outcome.PROGRESS, ["sync", "operation"], "Synced, no operation running"),
    ],
)
def test_waits_until_the_conditions_hold(
    tmp_path: Path, server: ArgoCDServer, outcome: Outcome, wait_for: list[str] | None, message: str
) -> None:
    _syncing(server, "gb", SyncScript(outcome=outcome, polls=2))
    entry: dict[str, Any] = {"name": "gb", **({"waitFor": wait_for} if wait_for else {})}
    assert _run(_ctx(tmp_path, server), {"apps": [entry]}) == f"gb: {message}"
    assert len(server.calls("GET")) >= 2  # it read again: the operation ran for 2 reads


def test_selector_waits_for_every_match(tmp_path: Path, server: ArgoCDServer) -> None:
    _syncing(server, "gb-a", SyncScript(polls=1), namespace="team", labels={"tier": "web"})
    _syncing(server, "gb-b", SyncScript(polls=4), namespace="team", labels={"tier": "web"})
    config = {"apps": [{"selector": {"matchLabels": {"tier": "web"}}, "namespace": "team"}]}
    message = _run(_ctx(tmp_path, server), config)
    assert message.count("Healthy, Synced") == 2
    assert server.app("gb-b", "team")["status"]["health"]["status"] == "Healthy"


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (
            Outcome.DEGRADE,
            'turned Degraded while waiting: Deployment "guestbook" exceeded its progress deadline',
        ),
        (Outcome.HANG, "timed out (KARGO_ACTIONS_ARGOCD_TIMEOUT of 0.2s): argocd/gb: waited for Healthy"),
    ],
)
def test_failures(tmp_path: Path, server: ArgoCDServer, outcome: Outcome, expected: str) -> None:
    _syncing(server, "gb", SyncScript(outcome=outcome, polls=2), namespace="argocd")
    with pytest.raises(StepFailed) as caught:
        _run(_ctx(tmp_path, server, timeout="200ms"), {"apps": [{"name": "gb", "namespace": "argocd"}]})
    assert expected in str(caught.value)
    assert server.calls("PATCH") == []  # argocd-wait changes nothing
    assert server.calls("POST") == []


def test_a_selector_without_namespace_finds_apps_in_every_namespace(
    tmp_path: Path, server: ArgoCDServer
) -> None:
    server.add(application("gb", namespace="argocd", labels={"tier": "web"}))
    server.add(application("gb", namespace="team", labels={"tier": "web"}))
    message = _run(_ctx(tmp_path, server), {"apps": [{"selector": {"matchLabels": {"tier": "web"}}}]})
    assert (
        message
        == "argocd/gb: Healthy, Synced, no operation running; team/gb: Healthy, Synced, no operation running"
    )


def test_needs_no_authorization_annotation_but_a_match(tmp_path: Path, server: ArgoCDServer) -> None:
    server.add(application("gb", labels={"tier": "web"}))
    assert _run(_ctx(tmp_path, server), {"apps": [{"name": "gb", "waitFor": ["health"]}]}) == "gb: Healthy"
    with pytest.raises(TerminalStepError, match="no applications matching 'tier=db'"):
        _run(_ctx(tmp_path, server), {"apps": [{"selector": {"matchLabels": {"tier": "db"}}}]})
    with pytest.raises(TerminalStepError, match="values must not be empty for In and NotIn"):
        _run(
            _ctx(tmp_path, server),
            {"apps": [{"selector": {"matchExpressions": [{"key": "t", "operator": "In"}]}}]},
        )
