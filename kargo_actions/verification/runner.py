"""The AnalysisRun loop, as Argo Rollouts' analysis controller reconciles (analysis/analysis.go).

Each pass: if the run is terminating (abort, or a non-dry-run metric already Failed / Error / Inconclusive)
no new measurement starts; otherwise every metric that is due is measured, the due ones concurrently (one
thread each, as Argo's runMeasurements runs goroutines). A metric is due first after `initialDelay`, then
`interval` after its last measurement finished (10 s after an Error when it has no interval:
DefaultErrorRetryInterval). Then each metric is assessed (assessMetricStatus) and the run (assessRunStatus):
the worst completed phase (Successful < Running < Pending < Inconclusive < Error < Failed), Running while a
metric is incomplete; dry-run metrics are measured and reported but never make the run worse. The loop
sleeps on an injectable clock until the next metric is due. An abort ends the run as Aborted.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from kargo_actions.expressions import ExpressionError, evaluate, rollouts_environment
from kargo_actions.struct import struct
from kargo_actions.verification.phases import (
    Measurement,
    MeasurementError,
    MetricResult,
    Phase,
    RunResult,
    is_worse,
)
from kargo_actions.verification.providers import open_provider
from kargo_actions.verification.providers.base import (
    MeasureContext,
    Provider,
    Reading,
    go_text,
)
from kargo_actions.verification.templates import AnalysisPlan, RunMetric

DEFAULT_ERROR_RETRY_INTERVAL = 10.0


class Clock(Protocol):
    """Monotonic seconds for scheduling, wall time for records, and an abortable sleep."""

    def monotonic(self) -> float: ...

    def wall(self) -> datetime: ...

    def sleep(self, seconds: float, abort: threading.Event) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, abort: threading.Event) -> None:
        if seconds > 0:
            abort.wait(seconds)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def evaluate_reading(metric: RunMetric, reading: Reading, args: Mapping[str, str]) -> tuple[Phase, str]:
    """Argo Rollouts' EvaluateResult: the measurement's phase from successCondition / failureCondition."""
    success_text = metric.metric.success_condition or ""
    failure_text = metric.metric.failure_condition or ""
    if not success_text and not failure_text:
        success_text, failure_text = reading.default_success, reading.default_failure
    env = rollouts_environment(reading.result, args)

    def check(kind: str, text: str) -> bool:
        try:
            value = evaluate(text, env)
        except ExpressionError as err:
            if reading.result is None or (isinstance(reading.result, list) and not reading.result):
                raise MeasurementError(
                    f'could not evaluate {kind} "{text}": metric result is nil or empty: no data returned '
                    "from the metric provider"
                ) from err
            raise MeasurementError(f'could not evaluate {kind} "{text}": {err.message}') from err
        if not isinstance(value, bool):
            raise MeasurementError(
                f'could not evaluate {kind} "{text}": expected bool, but got {type(value).__name__}'
            )
        return value

    success = check("successCondition", success_text) if success_text else False
    failure = check("failureCondition", failure_text) if failure_text else False
    if not success_text and not failure_text:
        return Phase.SUCCESSFUL, ""
    if success_text and not failure_text:
        failure = not success
    elif failure_text and not success_text:
        success = not failure
    if failure:
        why = (
            f"successCondition {success_text!r} not met"
            if not failure_text
            else f"failureCondition {failure_text!r} met"
        )
        return Phase.FAILED, why
    if not success:
        return Phase.INCONCLUSIVE, "neither successCondition nor failureCondition met"
    return Phase.SUCCESSFUL, ""


def _limits_broken(metric: RunMetric, result: MetricResult) -> tuple[Phase | None, str]:
    """Argo's assessMetricFailureInconclusiveOrError: the last broken limit wins (Error over Inconclusive
    over Failed, as the Go code overwrites in that order)."""
    phase: Phase | None = None
    message = ""
    if metric.failure_limit >= 0 and result.failed > metric.failure_limit:
        phase, message = Phase.FAILED, f"failed ({result.failed}) > failureLimit ({metric.failure_limit})"
    if result.inconclusive > metric.inconclusive_limit:
        phase = Phase.INCONCLUSIVE
        message = f"inconclusive ({result.inconclusive}) > inconclusiveLimit ({metric.inconclusive_limit})"
    if result.consecutive_error > metric.consecutive_error_limit:
        phase = Phase.ERROR
        message = (
            f"consecutiveErrors ({result.consecutive_error}) > consecutiveErrorLimit "
            f"({metric.consecutive_error_limit})"
        )
    return phase, message


def assess_metric(metric: RunMetric, result: MetricResult, terminating: bool) -> tuple[Phase, str]:
    """Argo Rollouts' assessMetricStatus."""
    if result.phase.completed:
        return result.phase, result.message
    last = result.last
    if last is None:
        return (Phase.SUCCESSFUL, "run terminated") if terminating else (Phase.PENDING, "")
    broken, message = _limits_broken(metric, result)
    if broken is not None:
        return broken, message
    success_limit = metric.consecutive_success_limit
    if success_limit > 0 and result.consecutive_success >= success_limit:
        return Phase.SUCCESSFUL, f"consecutiveSuccessLimit ({success_limit}) reached"
    if metric.count is not None and result.count >= metric.count:
        if success_limit > 0 and metric.failure_limit >= 0:
            return Phase.INCONCLUSIVE, (
                f"consecutiveSuccessLimit ({success_limit}) not reached and failureLimit "
                f"({metric.failure_limit}) not violated"
            )
        if success_limit > 0:
            return Phase.FAILED, f"consecutiveSuccessLimit ({success_limit}) not reached"
        return Phase.SUCCESSFUL, f"count ({metric.count}) reached"
    if terminating:
        return Phase.SUCCESSFUL, "run terminated"
    return Phase.RUNNING, ""


def _count(result: MetricResult, m: Measurement) -> MetricResult:
    """Argo's counters after one completed measurement (runMeasurements)."""
    changes: dict[str, Any] = {"measurements": (*result.measurements, m)}
    if m.phase is Phase.ERROR:
        changes.update(
            error=result.error + 1, consecutive_error=result.consecutive_error + 1, consecutive_success=0
        )
    else:
        changes.update(count=result.count + 1, consecutive_error=0)
        if m.phase is Phase.SUCCESSFUL:
            changes.update(
                successful=result.successful + 1, consecutive_success=result.consecutive_success + 1
            )
        elif m.phase is Phase.FAILED:
            changes.update(failed=result.failed + 1, consecutive_success=0)
        else:
            changes.update(inconclusive=result.inconclusive + 1, consecutive_success=0)
    return replace(result, **changes)


@struct
class RunOptions:
    """How a run measures: the clock, the abort Event, a callback per measurement, the provider factory."""

    clock: Clock = field(default_factory=SystemClock)
    abort: threading.Event | None = None
    on_measurement: Callable[[RunMetric, Measurement], None] | None = None
    open_provider: Callable[[RunMetric, MeasureContext], Provider] = open_provider
    context: MeasureContext | None = None


class AnalysisRunner:
    """Runs one AnalysisPlan to its end (or abort) and returns the RunResult."""

    def __init__(self, plan: AnalysisPlan, options: RunOptions | None = None) -> None:
        self.plan = plan
        self.options = options or RunOptions()
        self.clock = self.options.clock
        self.abort = self.options.abort or threading.Event()
        ctx = self.options.context or MeasureContext()
        self.ctx = replace(ctx, abort=self.abort)
        self.results: dict[str, MetricResult] = {
            m.name: MetricResult(name=m.name, dry_run=m.dry_run, template=m.template) for m in plan.metrics
        }

    def run(self) -> RunResult:
        started_wall = stamp(self.clock.wall())
        providers: dict[str, Provider] = {}
        try:
            for metric in self.plan.metrics:  # config problems surface before any measurement
                providers[metric.name] = self.options.open_provider(metric, self.ctx)
            return self._loop(providers, started_wall)
        finally:
            for provider in providers.values():
                provider.close()

    def _terminating(self) -> bool:
        if self.abort.is_set():
            return True
        return any(
            not r.dry_run and r.phase in (Phase.FAILED, Phase.ERROR, Phase.INCONCLUSIVE)
            for r in self.results.values()
        )

    def _due(self, metric: RunMetric, now: float, start: float) -> float | None:
        """When the metric's next measurement is due (monotonic), None when it takes no more."""
        result = self.results[metric.name]
        if result.phase.completed:
            return None
        last = result.last
        if last is None:
            return start + metric.initial_delay
        if metric.count is not None and result.count >= metric.count:
            return None
        interval = metric.interval if metric.interval is not None else DEFAULT_ERROR_RETRY_INTERVAL
        return last.finished_at + interval

    def _measure(self, metric: RunMetric, provider: Provider) -> Measurement:
        clock = self.clock
        started, started_wall = clock.monotonic(), stamp(clock.wall())
        try:
            reading = provider.measure()
            phase, why = evaluate_reading(metric, reading, self.plan.args)
            value, message, result = reading.value, why, reading.result
        except MeasurementError as err:
            phase, value, message, result = Phase.ERROR, "", str(err), None
        except Exception as err:  # a provider bug must not kill the run: it is this measurement's Error
            phase, value, message, result = Phase.ERROR, "", f"{type(err).__name__}: {err}", None
        return Measurement(
            phase=phase,
            value=self.plan.redact(value),
            message=self.plan.redact(message),
            started_at=started,
            finished_at=clock.monotonic(),
            started=started_wall,
            finished=stamp(clock.wall()),
            result=result,
        )

    def _measure_all(
        self, due: Sequence[RunMetric], providers: Mapping[str, Provider]
    ) -> list[tuple[RunMetric, Measurement]]:
        if not due:
            return []
        done: queue.Queue[tuple[RunMetric, Measurement]] = queue.Queue()
        for metric in due:
            # daemon threads: an abort does not wait for a slow request to time out
            threading.Thread(
                target=lambda m=metric: done.put((m, self._measure(m, providers[m.name]))),
                name=f"metric-{metric.name}",
                daemon=True,
            ).start()
        out: list[tuple[RunMetric, Measurement]] = []
        while len(out) < len(due) and not self.abort.is_set():
            try:
                out.append(done.get(timeout=0.05))
            except queue.Empty:
                continue
        order = {m.name: i for i, m in enumerate(due)}
        return sorted(out, key=lambda pair: order[pair[0].name])

    def _loop(self, providers: Mapping[str, Provider], started_wall: str) -> RunResult:
        start = self.clock.monotonic()
        while True:
            terminating = self._terminating()
            now = self.clock.monotonic()
            if not terminating:
                due = [
                    m for m in self.plan.metrics if (at := self._due(m, now, start)) is not None and at <= now
                ]
                for metric, measurement in self._measure_all(due, providers):
                    self.results[metric.name] = _count(self.results[metric.name], measurement)
                    if self.options.on_measurement is not None:
                        self.options.on_measurement(metric, measurement)
            terminating = self._terminating()
            phase, message = self._assess(terminating)
            if phase.completed:
                return self._finish(phase, message, started_wall)
            now = self.clock.monotonic()
            next_at = [at for m in self.plan.metrics if (at := self._due(m, now, start)) is not None]
            if not next_at:  # nothing left to measure, yet incomplete: cannot happen, but never spin
                return self._finish(Phase.ERROR, "no metric can take a measurement", started_wall)
            self.clock.sleep(max(0.0, min(next_at) - now), self.abort)

    def _assess(self, terminating: bool) -> tuple[Phase, str]:
        """Argo Rollouts' assessRunStatus (metric phases updated as it goes)."""
        worst: Phase | None = None
        worst_message = ""
        complete = True
        for metric in self.plan.metrics:
            result = self.results[metric.name]
            phase, why = assess_metric(metric, result, terminating)
            if phase is not result.phase:
                last = result.last
                detail = (
                    why if not last or not last.message else f"{why}: {last.message}" if why else last.message
                )
                result = replace(result, phase=phase, message=detail)
                self.results[metric.name] = result
            if not phase.completed:
                complete = False
                continue
            broken, limit_message = _limits_broken(metric, result)
            if metric.dry_run:
                worst = worst or Phase.SUCCESSFUL
                continue
            if worst is None or is_worse(worst, phase):
                worst = phase
                worst_message = ""
                if broken is not None:
                    worst_message = f'Metric "{metric.name}" assessed {phase} due to {limit_message}'
                    last = result.last
                    if last is not None:
                        if last.value:
                            worst_message += f"; last value {last.value}"
                        if last.message:
                            worst_message += f': "{last.message}"'
        if self.abort.is_set():
            return Phase.ABORTED, "verification aborted"
        if terminating:
            return worst or Phase.SUCCESSFUL, worst_message
        if not complete or worst is None:
            return Phase.RUNNING, ""
        return worst, worst_message

    def _finish(self, phase: Phase, message: str, started_wall: str) -> RunResult:
        if phase is Phase.ABORTED:  # unfinished metrics end as the run does
            for name, result in self.results.items():
                if not result.phase.completed:
                    self.results[name] = replace(result, phase=Phase.ABORTED, message="run aborted")
        return RunResult(
            phase=phase,
            message=message,
            metrics=tuple(self.results[m.name] for m in self.plan.metrics),
            started=started_wall,
            finished=stamp(self.clock.wall()),
        )


def run_analysis(plan: AnalysisPlan, options: RunOptions | None = None) -> RunResult:
    """Run the plan's AnalysisRun to its end; SIGTERM-driven aborts come in through options.abort."""
    return AnalysisRunner(plan, options).run()


__all__ = [
    "AnalysisRunner",
    "Clock",
    "RunOptions",
    "SystemClock",
    "assess_metric",
    "evaluate_reading",
    "go_text",
    "run_analysis",
]
