"""argocd-wait: wait until Argo CD Applications are healthy, synced and idle (or the states the step names)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from kargo_actions.argocd.application import DEGRADED, HEALTHY, SUSPENDED, SYNCED, UNKNOWN, Application
from kargo_actions.argocd.client import AppRef
from kargo_actions.promotion.step_api import (
    StepConfig,
    StepContext,
    StepFailed,
    StepResult,
    StepStatus,
    TerminalStepError,
    WaitingOn,
)
from kargo_actions.promotion.steps.support.argocd_common import (
    DEFAULT_POLL_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    POLL_ENV,
    TIMEOUT_ENV,
    AppTarget,
    argocd_client,
    env_seconds,
    find_apps,
    ref_of,
)

Condition = Literal["health", "sync", "operation", "suspended", "degraded"]
DEFAULT_WAIT_FOR: tuple[Condition, ...] = ("health", "sync", "operation")
_HEALTH_OF: dict[str, str] = {"health": HEALTHY, "suspended": SUSPENDED, "degraded": DEGRADED}
# Kargo's output key: each app's (namespace/name) health at the last look, for the Degraded rule on the next.
HEALTH_STATUS = "healthStatus"


class AppWait(AppTarget):
    """An Application (or the apps a selector matches) and what to wait for."""

    wait_for: list[Condition] | None = Field(default=None, min_length=1)
    """health, sync, operation, suspended, degraded; the health ones are ORed, the rest ANDed.
    Default: health, sync, operation."""

    @field_validator("wait_for")
    @classmethod
    def _unique(cls, value: list[Condition] | None) -> list[Condition] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("waitFor lists a condition twice")
        return value


class ArgoCDWaitConfig(StepConfig):
    """Kargo's ArgoCDWaitConfig."""

    apps: list[AppWait] = Field(min_length=1)
    """The apps to wait for."""


class ArgoCDWait:
    """Kargo's argocd-wait: one look at each app per run; Running (the engine looks again, or the promotion
    stops with --no-wait) until every app meets its conditions. No authorized-stage annotation is needed,
    nothing is changed. With `health` asked, an app that turns Degraded from a health that was neither
    Degraded nor Unknown at the previous look fails the step at once; the timeout (retry.timeout, else
    KARGO_ACTIONS_ARGOCD_TIMEOUT, else 5m) is the engine's, counted from the step's first look."""

    name: ClassVar[str] = "argocd-wait"
    config_model: ClassVar[type[StepConfig]] = ArgoCDWaitConfig
    may_wait: ClassVar[bool] = True  # reports Running while it waits: a promotion can stop here
    work_dir_free: ClassVar[bool] = True
    probe_safe: ClassVar[bool] = True  # reads only: reconcile may look before it claims
    outputs: ClassVar[dict[str, str]] = {
        HEALTH_STATUS: "Internal (Kargo's): each app's health at the last look, by namespace/name, so the "
        "next look (in this run or a resumed one) can tell an app that turned Degraded.",
    }

    def default_timeout(self, env: Mapping[str, str]) -> timedelta:
        """How long the engine lets the step wait when it sets no retry.timeout: KARGO_ACTIONS_ARGOCD_TIMEOUT,
        else 5m (Kargo's default for the step). A bad value counts as unset here: `run` refuses it."""
        try:
            return timedelta(seconds=env_seconds(env, TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS))
        except TerminalStepError:
            return timedelta(seconds=DEFAULT_TIMEOUT_SECONDS)

    def run(self, ctx: StepContext, config: ArgoCDWaitConfig) -> StepResult:
        poll = env_seconds(ctx.env, POLL_ENV, DEFAULT_POLL_SECONDS)
        env_seconds(ctx.env, TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS)  # refuse a bad value at the first look
        previous = _previous_health(ctx)
        health = dict(previous)
        looks: list[tuple[AppRef, Application, tuple[Condition, ...]]] = []
        with argocd_client(ctx) as client:
            for entry in config.apps:
                for app in find_apps(client, entry):
                    looks.append((ref_of(app, entry), app, tuple(entry.wait_for or DEFAULT_WAIT_FOR)))
            base_url = client.connection.base_url
        pending: list[tuple[AppRef, Application, tuple[Condition, ...]]] = []
        for ref, app, wait_for in looks:
            key = _key(ref, app)
            now = app.status.health.status
            if now:
                health[key] = now
            if (
                "health" in wait_for
                and now == DEGRADED
                and previous.get(key, "") not in ("", DEGRADED, UNKNOWN)
            ):
                raise StepFailed(
                    f"application {ref} turned Degraded while waiting: "
                    f"{app.status.health.message or 'no message'}; Argo CD says: {app.state_summary()} "
                    f"(it was {previous[key]} at the previous look)"
                )
            if not _met(app, wait_for):
                pending.append((ref, app, wait_for))
        outputs = {HEALTH_STATUS: health}
        if pending:
            return StepResult(
                status=StepStatus.RUNNING,
                message=" | ".join(
                    f"{ref}: waiting for {_describe(w)}; Argo CD says: {app.state_summary()}"
                    for ref, app, w in pending
                ),
                outputs=outputs,
                retry_after=poll,
                waiting=WaitingOn(
                    kind="argocd",
                    description=_waiting_for(pending),
                    url=_app_url(base_url, pending[0][0], pending[0][1]),
                ),
            )
        return StepResult(message="; ".join(f"{ref}: {_describe(w)}" for ref, _, w in looks), outputs=outputs)


def _key(ref: AppRef, app: Application) -> str:
    """An app's key in the healthStatus output: namespace/name as the server says (Kargo's)."""
    return app.qualified_name if app.metadata.namespace else str(ref)


def _previous_health(ctx: StepContext) -> dict[str, str]:
    """The health each app had at the step's previous look (its own outputs, kept across runs)."""
    mine: Any = ctx.outputs.get(ctx.alias) if ctx.alias else None
    seen = mine.get(HEALTH_STATUS) if isinstance(mine, Mapping) else None
    if not isinstance(seen, Mapping):
        return {}
    return {str(k): v for k, v in seen.items() if isinstance(v, str)}


def _met(app: Application, wait_for: tuple[Condition, ...]) -> bool:
    healths = {_HEALTH_OF[c] for c in wait_for if c in _HEALTH_OF}
    if healths and app.status.health.status not in healths:
        return False
    if "sync" in wait_for and app.status.sync.status != SYNCED:
        return False
    if "operation" in wait_for:
        state = app.status.operation_state
        if app.operation is not None or (state is not None and bool(state.phase) and not state.completed):
            return False
    return True


def _waiting_for(pending: list[tuple[AppRef, Application, tuple[Condition, ...]]]) -> str:
    """What a stopped promotion waits for, e.g. `Argo CD Application argocd/gb to be Healthy, Synced, ...`."""
    noun = "Application" if len(pending) == 1 else "Applications"
    return f"Argo CD {noun} " + "; ".join(f"{ref} to be {_describe(w)}" for ref, _, w in pending)


def _app_url(base_url: str, ref: AppRef, app: Application) -> str:
    """The app's page in Argo CD's UI (served by the API server: /applications/NAMESPACE/NAME)."""
    namespace = app.metadata.namespace or ref.namespace
    return f"{base_url.rstrip('/')}/applications/" + (f"{namespace}/" if namespace else "") + app.name


def _describe(wait_for: tuple[Condition, ...]) -> str:
    healths = [_HEALTH_OF[c] for c in wait_for if c in _HEALTH_OF]
    parts = [" or ".join(healths)] if healths else []
    parts += ["Synced" for c in wait_for if c == "sync"]
    parts += ["no operation running" for c in wait_for if c == "operation"]
    return ", ".join(parts)
