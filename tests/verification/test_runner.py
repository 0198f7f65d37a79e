"""The AnalysisRun loop on an injected clock with scripted readings: Argo Rollouts' limits and phases."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from kargo_actions.verification.phases import MeasurementError, Phase
from kargo_actions.verification.providers.base import MeasureContext, Provider, Reading
from kargo_actions.verification.runner import RunOptions, run_analysis
from kargo_actions.verification.templates import RunMetric
from tests.verification.helpers import FakeClock, plan_of

ERR = object()  # a scripted measurement error


class Scripted:
    """Readings in order (the last repeats); ERR raises a MeasurementError."""

    def __init__(self, values: list[Any]) -> None:
        self.values = list(values)
        self.calls = 0

    def measure(self) -> Reading:
        self.calls += 1
        value = self.values.pop(0) if len(self.values) > 1 else self.values[0]
        if value is ERR:
            raise MeasurementError("boom")
        return Reading(result=value, value=str(value))

    def close(self) -> None:
        pass


def run(metric: dict[str, Any], values: list[Any], clock: FakeClock | None = None) -> tuple[Any, Scripted]:
    provider = Scripted(values)
    metric = {"provider": {"web": {"url": "http://unused"}}, **metric}

    def opener(m: RunMetric, ctx: MeasureContext) -> Provider:
        return provider

    result = run_analysis(plan_of([metric]), RunOptions(clock=clock or FakeClock(), open_provider=opener))
    return result, provider


# (metric fields, readings, run phase, measurements taken, message part)
CASES: list[tuple[dict[str, Any], list[Any], Phase, int, str]] = [
    (
        {"name": "m", "successCondition": "result < 200"},
        [112],
        Phase.SUCCESSFUL,
        1,
        "",
    ),  # count 1 without interval
    (
        {"name": "m", "successCondition": "result < 200"},
        [250],
        Phase.FAILED,
        1,
        "failed (1) > failureLimit (0)",
    ),
    (  # kargo-advanced's pokemon-xp: 3 failures allowed in 5
        {"name": "m", "interval": "5s", "count": 5, "failureLimit": 3, "successCondition": "result < 200"},
        [250, 250, 250, 100, 100],
        Phase.SUCCESSFUL,
        5,
        "",
    ),
    (
        {"name": "m", "interval": "5s", "count": 5, "failureLimit": 3, "successCondition": "result < 200"},
        [250],
        Phase.FAILED,
        4,  # the 4th failure ends the run before the 5th measurement
        "failed (4) > failureLimit (3)",
    ),
    (
        {
            "name": "m",
            "interval": "1s",
            "count": 3,
            "successCondition": "result > 5",
            "failureCondition": "result < 0",
        },
        [3],
        Phase.INCONCLUSIVE,
        1,
        "inconclusive (1) > inconclusiveLimit (0)",
    ),
    (
        {
            "name": "m",
            "interval": "1s",
            "count": 3,
            "inconclusiveLimit": 1,
            "successCondition": "result > 5",
            "failureCondition": "result < 0",
        },
        [3, 9, 9],
        Phase.SUCCESSFUL,
        3,
        "",
    ),
    (
        {"name": "m", "successCondition": "result > 0"},
        [ERR],
        Phase.ERROR,
        5,
        "consecutiveErrors (5) > consecutiveErrorLimit (4)",
    ),
    (
        {"name": "m", "consecutiveErrorLimit": 1, "successCondition": "result > 0"},
        [ERR],
        Phase.ERROR,
        2,
        "(2) > consecutiveErrorLimit (1)",
    ),
    (
        {"name": "m", "successCondition": "result > 0"},
        [ERR, ERR, 1],
        Phase.SUCCESSFUL,
        3,
        "",
    ),  # errors then a success
    (  # consecutiveSuccessLimit reached before count
        {
            "name": "m",
            "interval": "1s",
            "count": 6,
            "consecutiveSuccessLimit": 2,
            "failureLimit": 3,
            "successCondition": "result > 0",
        },
        [0, 1, 1],
        Phase.SUCCESSFUL,
        3,
        "",
    ),
    (  # count reached without the consecutive successes, failureLimit not broken: Inconclusive
        {
            "name": "m",
            "interval": "1s",
            "count": 3,
            "consecutiveSuccessLimit": 2,
            "failureLimit": 1,
            "successCondition": "result > 0",
        },
        [1, 0, 1],
        Phase.INCONCLUSIVE,
        3,
        "",
    ),
    (  # failureLimit -1 (disabled): count reached without the consecutive successes is Failed
        {
            "name": "m",
            "interval": "1s",
            "count": 3,
            "consecutiveSuccessLimit": 2,
            "failureLimit": -1,
            "successCondition": "result > 0",
        },
        [1, 0, 1],
        Phase.FAILED,
        3,
        "",
    ),
    ({"name": "m"}, ["anything"], Phase.SUCCESSFUL, 1, ""),  # no conditions: success unless an error
    ({"name": "m", "failureCondition": "result == 'bad'"}, ["good"], Phase.SUCCESSFUL, 1, ""),
    ({"name": "m", "successCondition": "result"}, ["text"], Phase.ERROR, 5, "expected bool"),
]


@pytest.mark.parametrize(("metric", "values", "phase", "taken", "message"), CASES)
def test_limits_and_phases(
    metric: dict[str, Any], values: list[Any], phase: Phase, taken: int, message: str
) -> None:
    result, provider = run(metric, values)
    assert result.phase is phase, result.message
    assert provider.calls == taken
    assert message in result.message


def test_schedule_follows_initial_delay_interval_and_error_retry() -> None:
    clock = FakeClock()
    run(
        {"name": "m", "initialDelay": "30s", "interval": "5s", "count": 3, "successCondition": "result > 0"},
        [1],
        clock,
    )
    assert clock.sleeps == [30.0, 5.0, 5.0]
    clock = FakeClock()
    run({"name": "m", "successCondition": "result > 0"}, [ERR, ERR, 1], clock)
    assert clock.sleeps == [10.0, 10.0]  # DefaultErrorRetryInterval when the metric has no interval


def test_dry_run_metric_does_not_fail_the_run_and_metrics_run_concurrently() -> None:
    plan = plan_of(
        [
            {"name": "ok", "provider": {"web": {"url": "http://a"}}, "successCondition": "result > 0"},
            {"name": "bad", "provider": {"web": {"url": "http://b"}}, "successCondition": "result > 0"},
        ]
    )
    plan = plan.__class__(
        stage=plan.stage,
        templates=plan.templates,
        metrics=(plan.metrics[0], plan.metrics[1].__class__(**{**plan.metrics[1].__dict__, "dry_run": True})),
        args=plan.args,
    )
    barrier = threading.Barrier(2, timeout=5)

    class Together(Scripted):
        def measure(self) -> Reading:
            barrier.wait()  # both measurements must be in flight at once, or this times out
            return super().measure()

    providers = {"ok": Together([1]), "bad": Together([-1])}
    result = run_analysis(plan, RunOptions(clock=FakeClock(), open_provider=lambda m, ctx: providers[m.name]))
    assert result.phase is Phase.SUCCESSFUL
    assert [(m.name, m.phase, m.dry_run) for m in result.metrics] == [
        ("ok", Phase.SUCCESSFUL, False),
        ("bad", Phase.FAILED, True),
    ]


def test_a_failing_metric_terminates_the_others() -> None:
    plan = plan_of(
        [
            {"name": "slow", "provider": {"web": {"url": "http://a"}}, "interval": "10s", "count": 10},
            {"name": "bad", "provider": {"web": {"url": "http://b"}}, "successCondition": "result > 0"},
        ]
    )
    providers = {"slow": Scripted([1]), "bad": Scripted([-1])}
    result = run_analysis(plan, RunOptions(clock=FakeClock(), open_provider=lambda m, ctx: providers[m.name]))
    assert result.phase is Phase.FAILED
    assert providers["slow"].calls == 1  # Argo: a terminating run takes no new measurements
    assert result.metrics[0].phase is Phase.SUCCESSFUL  # "run terminated"


def test_abort_ends_the_run_aborted() -> None:
    abort = threading.Event()

    class Aborting(FakeClock):
        def sleep(self, seconds: float, event: threading.Event) -> None:
            super().sleep(seconds, event)
            abort.set()

    provider = Scripted([1])
    plan = plan_of([{"name": "m", "provider": {"web": {"url": "http://a"}}, "interval": "5s", "count": 5}])
    result = run_analysis(
        plan, RunOptions(clock=Aborting(), abort=abort, open_provider=lambda m, ctx: provider)
    )
    assert result.phase is Phase.ABORTED
    assert provider.calls == 1
    # as Argo assesses a terminated metric: Successful, "run terminated"; the run itself is Aborted
    assert (result.metrics[0].phase, result.metrics[0].message) == (Phase.SUCCESSFUL, "run terminated")


def test_abort_does_not_wait_for_a_measurement_in_flight() -> None:
    abort = threading.Event()
    release = threading.Event()

    class Stuck(Scripted):
        def measure(self) -> Reading:
            release.wait(10)  # a request that would hang until its timeout
            return super().measure()

    provider = Stuck([1])
    plan = plan_of([{"name": "m", "provider": {"web": {"url": "http://a"}}}])
    threading.Timer(0.2, abort.set).start()
    started = time.monotonic()
    try:
        result = run_analysis(
            plan, RunOptions(clock=FakeClock(), abort=abort, open_provider=lambda m, ctx: provider)
        )
    finally:
        release.set()
    assert result.phase is Phase.ABORTED
    assert time.monotonic() - started < 2
