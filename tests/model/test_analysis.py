"""Argo Rollouts AnalysisTemplate model: providers, args, limits that may be templated."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kargo_actions.model.analysis import AnalysisTemplate


def template(**spec: Any) -> AnalysisTemplate:
    return AnalysisTemplate.model_validate(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "t"},
            "spec": spec,
        }
    )


WEB = {"name": "up", "provider": {"web": {"url": "http://127.0.0.1:1/{{args.path}}", "jsonPath": "{$.ok}"}}}


def test_web_metric_and_args() -> None:
    t = template(args=[{"name": "path"}, {"name": "token", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                       {"name": "n", "value": "3"}],
                 metrics=[{**WEB, "count": "{{args.n}}", "interval": "5s", "failureLimit": 1}])  # fmt: skip
    assert t.spec.required_args == ["path"]
    metric = t.spec.metrics[0]
    assert metric.provider.kinds == ["web"]
    assert metric.provider.web is not None
    assert metric.provider.web.json_path == "{$.ok}"
    assert (metric.count, metric.failure_limit, metric.interval) == ("{{args.n}}", 1, "5s")


def test_other_providers_load_as_raw_data() -> None:
    t = template(metrics=[{"name": "j", "provider": {"job": {"spec": {"template": {}}}}}])
    assert t.spec.metrics[0].provider.kinds == ["job"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"metrics": []}, "needs at least one metric"),
        ({"metrics": [WEB, WEB]}, "metric names must be unique: up repeated"),
        ({"metrics": [{"name": "x", "provider": {}}]}, "exactly one provider"),
        ({"metrics": [{**WEB, "interval": "5 seconds"}]}, "invalid duration"),
    ],
)
def test_template_rules(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        template(**spec)
