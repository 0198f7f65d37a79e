"""What argocd-update and argocd-wait share: the app selector models, the client from the environment with
Argo CD's errors as step errors, finding the apps, and the bounded wait for apps to reach a state."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import field
from typing import Literal

from pydantic import StrictStr, model_validator

from kargo_actions.argocd.application import DEGRADED, UNKNOWN, Application
from kargo_actions.argocd.client import AppRef, ArgoCDClient
from kargo_actions.argocd.errors import ArgoCDConfigError, ArgoCDError, ArgoCDUnavailableError
from kargo_actions.argocd.selector import Requirement, selector_text
from kargo_actions.model.fields import parse_go_duration
from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepFailed,
    TerminalStepError,
)
from kargo_actions.struct import struct

# How long the steps wait for apps when the step sets no retry.timeout (Kargo's default step timeout).
DEFAULT_TIMEOUT_SECONDS = 300.0
DEFAULT_POLL_SECONDS = 2.0
TIMEOUT_ENV = "KARGO_ACTIONS_ARGOCD_TIMEOUT"
POLL_ENV = "KARGO_ACTIONS_ARGOCD_POLL_INTERVAL"


class LabelSelectorRequirement(StepConfig):
    """One requirement on a label."""

    key: NonEmpty
    """The label key the requirement applies to."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """In, NotIn, Exists or DoesNotExist."""
    values: list[StrictStr] | None = None
    """The values for In and NotIn (not empty); none for Exists and DoesNotExist."""


class AppSelector(StepConfig):
    """Argo CD Applications by their labels; at least one criterion, all ANDed."""

    match_labels: dict[str, StrictStr] | None = None
    """Labels an app must have, each with exactly this value."""
    match_expressions: list[LabelSelectorRequirement] | None = None
    """Requirements an app's labels must meet."""

    @model_validator(mode="after")
    def _some_criterion(self) -> AppSelector:
        if not self.match_labels and not self.match_expressions:
            raise ValueError("a selector needs matchLabels or matchExpressions (not empty)")
        return self

    def text(self) -> str:
        """The selector as Kubernetes' label selector text; a requirement Kubernetes refuses is terminal."""
        requirements = [
            Requirement(r.key, r.operator, tuple(r.values or ())) for r in self.match_expressions or ()
        ]
        try:
            return selector_text(self.match_labels or {}, requirements)
        except ValueError as err:
            raise TerminalStepError(f"selector: {err}") from None


class AppTarget(StepConfig):
    """Base of an app entry: by name or by selector (exactly one), in a namespace."""

    name: NonEmpty | None = None
    """The Application's name; not together with `selector`."""
    namespace: NonEmpty | None = None
    """The Application's namespace. Left out: for `name`, the namespace Argo CD's API server runs in (usually
    argocd); for `selector`, every namespace Argo CD manages apps in."""
    selector: AppSelector | None = None
    """A label selector matching one or more Applications; not together with `name`."""

    @model_validator(mode="after")
    def _name_or_selector(self) -> AppTarget:
        if (self.name is None) == (self.selector is None):
            raise ValueError("give exactly one of name and selector")
        return self

    def describe(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        if self.name is not None:
            return f"application {self.name}{where}"
        return f"applications matching {self.selector.text() if self.selector else ''!r}{where}"


@contextmanager
def argocd_client(ctx: StepContext) -> Iterator[ArgoCDClient]:
    """The client for ARGOCD_SERVER with ARGOCD_AUTH_TOKEN; its waits between retries end on abort."""
    try:
        client = ArgoCDClient.from_env(ctx.env, sleep=ctx.sleep)
    except ArgoCDConfigError as err:
        raise TerminalStepError(f"Argo CD connection: {err}; see docs/argocd.md") from None
    with client, argocd_errors():
        yield client


@contextmanager
def argocd_errors() -> Iterator[None]:
    """Argo CD's failures as step errors: an unavailable server Errored (retryable), refusals terminal."""
    try:
        yield
    except ArgoCDUnavailableError as err:
        raise StepError(str(err)) from None
    except ArgoCDError as err:
        raise TerminalStepError(str(err)) from None


def find_apps(client: ArgoCDClient, target: AppTarget) -> list[Application]:
    """The apps an entry names: one by name (404 if absent), or every one its selector matches (at least one)."""
    if target.name is not None:
        return [client.get_application(AppRef(target.name, target.namespace))]
    assert target.selector is not None  # the model requires one of them
    apps = client.list_applications(target.selector.text(), target.namespace)
    if not apps:
        raise TerminalStepError(f"no {target.describe()} (or none the token may see)")
    return apps


def ref_of(app: Application, target: AppTarget) -> AppRef:
    """How to ask for an app again: in the entry's namespace, or for a selector's match, in its own."""
    if target.name is not None:
        return AppRef(app.name, target.namespace)
    return AppRef(app.name, target.namespace or app.metadata.namespace or None)


@struct
class WaitSettings:
    """How long the step waits for apps (until `deadline`, a time.monotonic()) and how often it looks."""

    deadline: float
    poll: float
    timeout: str  # for messages: where the limit came from


def wait_settings(ctx: StepContext) -> WaitSettings:
    """retry.timeout when the step sets one, else KARGO_ACTIONS_ARGOCD_TIMEOUT, else 5m; the poll interval from
    KARGO_ACTIONS_ARGOCD_POLL_INTERVAL, else 2s."""
    poll = env_seconds(ctx.env, POLL_ENV, DEFAULT_POLL_SECONDS)
    if ctx.deadline is not None:
        return WaitSettings(ctx.deadline, poll, "the step's retry.timeout")
    timeout = env_seconds(ctx.env, TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS)
    source = TIMEOUT_ENV if ctx.env.get(TIMEOUT_ENV, "").strip() else "the default timeout"
    return WaitSettings(time.monotonic() + timeout, poll, f"{source} of {timeout:g}s")


def env_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """The Go duration in the environment variable `name` in seconds, else `default`; a bad one is terminal."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        seconds = parse_go_duration(raw).total_seconds()
    except ValueError as err:
        raise TerminalStepError(f"{name}: {err} (a Go duration such as 5m or 30s)") from None
    if seconds <= 0:
        raise TerminalStepError(f"{name}: {raw!r} must be a positive duration")
    return seconds


@struct(frozen=False)
class Watched:
    """An app being waited for: how to read it, what the last read said, and what it was seen to be."""

    ref: AppRef
    app: Application
    done: bool = False
    health_seen: set[str] = field(default_factory=set)

    def observe(self, app: Application) -> None:
        self.app = app
        self.health_seen.add(app.status.health.status or UNKNOWN)

    def degraded_from_a_good_state(self) -> bool:
        """Kargo's degradation rule: Degraded now, after a state that was neither Degraded nor Unknown."""
        return self.app.status.health.status == DEGRADED and bool(self.health_seen - {DEGRADED, UNKNOWN, ""})


def wait_until(
    ctx: StepContext,
    client: ArgoCDClient,
    watched: Sequence[Watched],
    check: Callable[[Watched], bool],
    *,
    settings: WaitSettings,
    waiting_for: Callable[[Watched], str],
) -> None:
    """Read every app not yet done until `check` (which may raise to fail) holds for all of them.

    Past the deadline: StepFailed naming each app still waited for, what for, and what Argo CD last said.
    """
    while True:
        for item in watched:
            if not item.done:
                item.done = check(item)
        pending = [w for w in watched if not w.done]
        if not pending:
            return
        if time.monotonic() + settings.poll > settings.deadline:
            lines = [
                f"{w.ref}: waited for {waiting_for(w)}; Argo CD says: {w.app.state_summary()}"
                for w in pending
            ]
            raise StepFailed(f"timed out ({settings.timeout}): " + " | ".join(lines))
        ctx.sleep(settings.poll)
        ctx.check_abort()
        for item in pending:
            item.observe(client.get_application(item.ref))
