"""Metric providers: one module per provider behind the Provider protocol (base.py), chosen by `open_provider`."""

from __future__ import annotations

from kargo_actions.verification.providers.base import (
    MeasureContext,
    MeasurementError,
    Provider,
    Reading,
    open_provider,
)

__all__ = ["MeasureContext", "MeasurementError", "Provider", "Reading", "open_provider"]
