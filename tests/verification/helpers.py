"""A fake clock (sleep advances time) and plans built from AnalysisTemplate YAML for the runner tests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from ruamel.yaml import YAML

from kargo_actions.model.analysis import AnalysisTemplate
from kargo_actions.verification.templates import AnalysisPlan, run_metric


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.now)

    def sleep(self, seconds: float, abort: threading.Event) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def template(text: str) -> AnalysisTemplate:
    data: Any = YAML(typ="safe").load(text)
    return AnalysisTemplate.model_validate(data)


def plan_of(metrics: list[dict[str, Any]], args: dict[str, str] | None = None) -> AnalysisPlan:
    tpl = AnalysisTemplate.model_validate(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "t"},
            "spec": {"metrics": metrics},
        }
    )
    dry = {d.metric_name for d in tpl.spec.dry_run}
    return AnalysisPlan(
        stage="s",
        templates=("t",),
        metrics=tuple(run_metric("t", m, m.name in dry, m.name) for m in tpl.spec.metrics),
        args=args or {},
    )
