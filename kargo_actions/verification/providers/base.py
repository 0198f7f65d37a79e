"""What every metric provider is: opened once per metric, asked for one Reading per measurement, closed."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kargo_actions.model.freight import Freight
    from kargo_actions.verification.providers.oauth2 import TokenCache
    from kargo_actions.verification.templates import RunMetric


class MeasurementError(Exception):
    """A measurement could not be taken (its phase is Error, with this message)."""


@dataclass(frozen=True)
class Reading:
    """What a provider measured: the value the conditions see (`result`) and its text for the record."""

    result: Any
    value: str
    # Conditions used when the metric sets neither (a provider whose result is not a pass/fail by itself).
    default_success: str = ""
    default_failure: str = ""


def _token_cache() -> TokenCache:
    from kargo_actions.verification.providers.oauth2 import TokenCache

    return TokenCache()


@dataclass(frozen=True)
class MeasureContext:
    """What providers may need besides the metric: the Freight being verified, the environment, the abort."""

    freight: Freight | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    abort: threading.Event = field(default_factory=threading.Event)
    sleep: Callable[[float], None] | None = None  # for providers that poll (GitHub checks); None: abort.wait
    tokens: TokenCache = field(default_factory=_token_cache)  # OAuth2 tokens, shared by the run's metrics


class Provider(Protocol):
    """One metric's provider: `measure` is called once per measurement, `close` once at the end."""

    def measure(self) -> Reading: ...

    def close(self) -> None: ...


def go_text(value: Any) -> str:
    """A value as Argo records it (Go's json.Marshal: compact, no spaces)."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def open_provider(metric: RunMetric, ctx: MeasureContext) -> Provider:
    """The provider of a metric (web, prometheus or the GitHub checks plugin), ready to measure."""
    if metric.provider == "web":
        from kargo_actions.verification.providers.web import WebProvider

        return WebProvider(metric.metric, ctx)
    if metric.provider == "prometheus":
        from kargo_actions.verification.providers.prometheus import PrometheusProvider

        return PrometheusProvider(metric.metric, ctx)
    from kargo_actions.verification.providers.github_checks import GitHubChecksProvider

    return GitHubChecksProvider(metric.metric, ctx)
