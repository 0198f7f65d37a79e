"""Metric providers: one module per provider behind the Provider protocol (base.py), listed in PROVIDERS and
imported only when a metric uses it (as promotion steps are in promotion/registry.py)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from kargo_actions.verification.phases import MeasurementError
from kargo_actions.verification.providers.base import MeasureContext, Provider, Reading

if TYPE_CHECKING:
    from kargo_actions.model.analysis import Metric
    from kargo_actions.verification.templates import RunMetric

__all__ = ["PROVIDERS", "MeasureContext", "MeasurementError", "Provider", "Reading", "open_provider"]

# One line per provider: the runner's name for it (templates.provider_kind) -> "module:Class" in this package.
PROVIDERS: dict[str, str] = {
    "web": "web:WebProvider",
    "prometheus": "prometheus:PrometheusProvider",
    "github-checks": "github_checks:GitHubChecksProvider",
}

ProviderFactory = Callable[["Metric", MeasureContext], Provider]


def provider_factory(kind: str) -> ProviderFactory:
    """The class of a provider named in PROVIDERS, its module imported now."""
    module, _, name = PROVIDERS[kind].partition(":")
    factory: ProviderFactory = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    return factory


def open_provider(metric: RunMetric, ctx: MeasureContext) -> Provider:
    """The provider of a metric (its kind checked when the manifests loaded), ready to measure."""
    return provider_factory(metric.provider)(metric.metric, ctx)
