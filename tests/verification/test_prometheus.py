"""The prometheus provider (instant and range queries) against a real Prometheus scraping a prometheus-client exporter."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.verification.phases import Phase
from kargo_actions.verification.providers.prometheus import _go_float, eval_time
from kargo_actions.verification.runner import RunOptions, run_analysis
from kargo_actions.verification.templates import provider_problems, substitute
from tests.verification.helpers import FakeClock, plan_of, template

CASES = [
    ("app_success_rate", "result[0] >= 0.95", Phase.SUCCESSFUL, "[0.97]"),
    ("app_success_rate", "result[0] >= 0.99", Phase.FAILED, "[0.97]"),
    ("scalar(app_success_rate)", "result >= 0.95", Phase.SUCCESSFUL, "0.97"),
    ("sort(app_requests_total)", "len(result) == 2 && result[0] == 5", Phase.SUCCESSFUL, "[5,95]"),
    (
        "sum(app_requests_total{code='500'}) / sum(app_requests_total)",
        "result[0] <= 0.05",
        Phase.SUCCESSFUL,
        "[0.05]",
    ),
    ("no_such_metric", "result[0] > 0", Phase.ERROR, ""),  # Argo keeps no value on an Error
    ("sum(", "true", Phase.ERROR, ""),  # a query error is the measurement's Error
]


@pytest.mark.parametrize(("query", "condition", "phase", "value"), CASES)
def test_prometheus_provider(prometheus: str, query: str, condition: str, phase: Phase, value: str) -> None:
    metric = {
        "name": "m",
        "provider": {"prometheus": {"address": prometheus, "query": query}},
        "successCondition": condition,
        "consecutiveErrorLimit": 0,
    }
    result = run_analysis(plan_of([metric]), RunOptions(clock=FakeClock()))
    assert result.phase is phase, result.message
    last = result.metrics[0].measurements[-1]
    assert last.value == value
    if query == "no_such_metric":
        assert "metric result is nil or empty" in last.message
    if query == "sum(":
        assert "bad_data" in last.message


def _range_metric(address: str, query: str, condition: str, **range_query: str) -> dict[str, Any]:
    return {
        "name": "m",
        "provider": {"prometheus": {"address": address, "query": query, "rangeQuery": range_query}},
        "successCondition": condition,
        "consecutiveErrorLimit": 0,
    }


NOW, HOUR_AGO = "now()", 'now() - duration("1h")'
RANGE_CASES = [
    # vector(1) has a value at every step: start, start + step, ... up to end (both ends count).
    ("vector(1)", 'now() - duration("30s")', NOW, "10s", "len(result) == 4 && all(result, # == 1)", Phase.SUCCESSFUL),
    ("vector(1)", 'now() - duration("{{args.lookback}}")', NOW, "15s", "len(result) == 5", Phase.SUCCESSFUL),
    # time() at each step: the values are the step timestamps, `step` apart.
    ("time()", 'now() - duration("20s")', NOW, "5s", "len(result) == 5 && result[1] - result[0] == 5", Phase.SUCCESSFUL),
    ("app_success_rate", 'now() - duration("1m")', NOW, "1s", "len(result) >= 1 && all(result, # == 0.97)", Phase.SUCCESSFUL),
    ("app_success_rate", 'now() - duration("1m")', NOW, "1s", "all(result, # > 0.99)", Phase.FAILED),
    # two series: every sample of the first, then every sample of the second (Argo flattens the matrix)
    ("app_requests_total", 'now() - duration("1m")', NOW, "1s", "result[0] == 95 && result[len(result) - 1] == 5", Phase.SUCCESSFUL),
    ("vector(1)", NOW, HOUR_AGO, "1m", "true", Phase.ERROR),  # Prometheus: end before start is bad_data
    ("vector(1)", 'now() - duration("1h")', NOW, "1ms", "true", Phase.ERROR),  # too many points per series
]  # fmt: skip


@pytest.mark.parametrize(("query", "start", "end", "step", "condition", "phase"), RANGE_CASES)
def test_prometheus_range_query(
    prometheus: str, query: str, start: str, end: str, step: str, condition: str, phase: Phase
) -> None:
    metric = substitute(
        _range_metric(prometheus, query, condition, start=start, end=end, step=step), {"lookback": "1m"}, "m"
    )
    result = run_analysis(plan_of([metric]), RunOptions(clock=FakeClock()))
    assert result.phase is phase, result.message
    last = result.metrics[0].measurements[-1]
    if phase is Phase.ERROR:
        assert "bad_data" in last.message
        assert last.value == ""
    else:
        assert last.value.startswith("[")
        assert last.value.count(",") + 1 == len(last.result)


def test_range_query_instant_and_range_differ(prometheus: str) -> None:
    """The same query read instantly gives one value; as a range, one per step."""
    instant = {
        "name": "m",
        "provider": {"prometheus": {"address": prometheus, "query": "vector(1)"}},
        "successCondition": "len(result) == 1",
    }
    ranged = _range_metric(
        prometheus, "vector(1)", "len(result) == 7", start='now() - duration("1m")', end=NOW, step="10s"
    )
    result = run_analysis(plan_of([instant, {**ranged, "name": "r"}]), RunOptions(clock=FakeClock()))
    assert result.phase is Phase.SUCCESSFUL, result.message
    assert [m.measurements[-1].value for m in result.metrics] == ["[1]", "[1,1,1,1,1,1,1]"]


@pytest.mark.parametrize(
    ("range_query", "message"),
    [
        ({"start": NOW, "end": NOW}, "rangeQuery needs step"),
        ({"end": NOW, "step": "1m"}, "rangeQuery needs start"),
        ({"start": NOW, "end": NOW, "step": "0s"}, "must be more than 0"),
        ({"start": NOW, "end": NOW, "step": "soon"}, "invalid duration"),
        ({"start": "now() -", "end": NOW, "step": "1m"}, "cannot parse"),
        ({"start": "1 + 1", "end": NOW, "step": "1m"}, "is not a time: expected a time, but got int"),
        ({"start": NOW, "end": 'duration("1h")', "step": "1m"}, "is not a time"),
    ],
)
def test_range_query_config_is_refused_before_the_run(range_query: dict[str, str], message: str) -> None:
    metric = _range_metric("http://127.0.0.1:9", "up", "true", **range_query)
    with pytest.raises(InvalidInputError, match=message) as caught:
        run_analysis(plan_of([metric]), RunOptions(clock=FakeClock()))
    assert "rangeQuery" in str(caught.value)


def test_range_query_problems_found_when_manifests_load() -> None:
    tpl = template(
        """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: latency}
spec:
  args: [{name: lookback}]
  metrics:
  - name: p99
    provider:
      prometheus:
        address: http://prometheus:9090
        query: up
        rangeQuery: {start: 'now() - duration("{{args.lookback}}")', end: 'now(', step: 1m}
"""
    )
    problems = provider_problems(tpl)
    # start waits for its arg; end cannot parse whatever the args are
    assert [p.path for p in problems] == ["spec.metrics[0].provider.prometheus.rangeQuery.end"]
    assert "AnalysisTemplate latency: metric 'p99': cannot parse 'now('" in problems[0].message


def test_time_expressions() -> None:
    assert eval_time('date("2024-01-01T00:00:00Z") + duration("90s")').timestamp() == 1704067290
    assert abs(eval_time('now() - duration("1h")').timestamp() - (time.time() - 3600)) < 5
    assert _go_float(1704067290.0) == "1704067290"
    assert _go_float(1704067290.25) == "1704067290.25"
    assert _go_float(15.0) == "15"
    assert _go_float(0.001) == "0.001"
