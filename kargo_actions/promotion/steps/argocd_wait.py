"""argocd-wait: wait until Argo CD Applications are healthy, synced and idle (or the states the step names)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from kargo_actions.argocd.application import DEGRADED, HEALTHY, SUSPENDED, SYNCED
from kargo_actions.promotion.steps.argocd_common import (
    AppTarget,
    Watched,
    argocd_client,
    find_apps,
    ref_of,
    wait_settings,
    wait_until,
)
from kargo_actions.promotion.steps.base import StepConfig, StepContext, StepFailed, StepResult

Condition = Literal["health", "sync", "operation", "suspended", "degraded"]
DEFAULT_WAIT_FOR: tuple[Condition, ...] = ("health", "sync", "operation")
_HEALTH_OF: dict[str, str] = {"health": HEALTHY, "suspended": SUSPENDED, "degraded": DEGRADED}


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
    """Kargo's argocd-wait: read each app until it meets its conditions (no authorized-stage annotation is
    needed, nothing is changed). With `health` asked, an app that turns Degraded from a state that was neither
    Degraded nor Unknown fails the step at once; the timeout (retry.timeout, default 5m) fails it too."""

    name: ClassVar[str] = "argocd-wait"
    config_model: ClassVar[type[StepConfig]] = ArgoCDWaitConfig
    work_dir_free: ClassVar[bool] = True
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, ctx: StepContext, config: ArgoCDWaitConfig) -> StepResult:
        settings = wait_settings(ctx)
        with argocd_client(ctx) as client:
            watched: list[Watched] = []
            wants: dict[str, tuple[Condition, ...]] = {}
            for entry in config.apps:
                for app in find_apps(client, entry):
                    item = Watched(ref_of(app, entry), app)
                    item.observe(app)
                    watched.append(item)
                    wants[str(item.ref)] = tuple(entry.wait_for or DEFAULT_WAIT_FOR)
            wait_until(
                ctx,
                client,
                watched,
                lambda w: _met(w, wants[str(w.ref)]),
                settings=settings,
                waiting_for=lambda w: _describe(wants[str(w.ref)]),
            )
        return StepResult(message="; ".join(f"{w.ref}: {_describe(wants[str(w.ref)])}" for w in watched))


def _met(watched: Watched, wait_for: tuple[Condition, ...]) -> bool:
    app = watched.app
    if "health" in wait_for and watched.degraded_from_a_good_state():
        raise StepFailed(
            f"application {watched.ref} turned Degraded while waiting: "
            f"{app.status.health.message or 'no message'}; Argo CD says: {app.state_summary()}"
        )
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


def _describe(wait_for: tuple[Condition, ...]) -> str:
    healths = [_HEALTH_OF[c] for c in wait_for if c in _HEALTH_OF]
    parts = [" or ".join(healths)] if healths else []
    parts += ["Synced" for c in wait_for if c == "sync"]
    parts += ["no operation running" for c in wait_for if c == "operation"]
    return ", ".join(parts)
