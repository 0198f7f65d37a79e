"""Argo Rollouts' `prometheus` provider: an instant query (`/api/v1/query`) per measurement.

As metricproviders/prometheus: a scalar answer is a number, a vector (or matrix) a list of numbers (every
sample's value); the recorded value is `[v1,v2]` for lists. timeout (seconds, default 30), headers and
insecure are honoured; a query error is the measurement's Error. rangeQuery and authentication (SigV4,
OAuth2) are not supported here.
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.model.analysis import Metric
from kargo_actions.verification.providers.base import MeasureContext, MeasurementError, Reading

DEFAULT_TIMEOUT_SECONDS = 30


def _number(text: Any) -> float:
    value = float(text)  # Prometheus sends "NaN", "+Inf", "-Inf" and decimals as strings
    return value


def _text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


class PrometheusProvider:
    def __init__(self, metric: Metric, ctx: MeasureContext) -> None:
        prom = metric.provider.prometheus
        assert prom is not None
        where = f"metric {metric.name}: provider.prometheus"
        problems = []
        if not prom.address:
            problems.append(Problem(path=f"{where}.address", message="an address is required"))
        if not prom.query:
            problems.append(Problem(path=f"{where}.query", message="a query is required"))
        if prom.range_query:
            problems.append(Problem(path=f"{where}.rangeQuery", message="rangeQuery is not supported here"))
        if prom.authentication:
            problems.append(
                Problem(
                    path=f"{where}.authentication",
                    message="SigV4/OAuth2 authentication is not supported by kargo-actions",
                    hint="pass a token in headers from a secret arg",
                )
            )
        if prom.timeout is not None and prom.timeout < 0:
            problems.append(
                Problem(path=f"{where}.timeout", message="prometheus timeout should not be negative")
            )
        if problems:
            raise InvalidInputError(problems)
        assert prom.address
        assert prom.query
        self.url = prom.address.rstrip("/") + "/api/v1/query"
        self.query = prom.query
        timeout = prom.timeout if prom.timeout else DEFAULT_TIMEOUT_SECONDS
        self.client = httpx.Client(
            timeout=timeout, verify=not prom.insecure, headers={h.key: h.value for h in prom.headers}
        )

    def measure(self) -> Reading:
        try:
            response = self.client.get(self.url, params={"query": self.query})
        except httpx.HTTPError as err:
            raise MeasurementError(f"querying {self.url}: {err or type(err).__name__}") from err
        try:
            body = response.json()
        except ValueError:
            raise MeasurementError(
                f"querying {self.url}: HTTP {response.status_code}, not a Prometheus answer"
            ) from None
        if body.get("status") != "success":
            raise MeasurementError(
                f"{body.get('errorType') or 'error'}: {body.get('error') or f'HTTP {response.status_code}'}"
            )
        data = body.get("data") or {}
        kind = data.get("resultType")
        result: Any = data.get("result") or []
        if kind == "scalar":
            value = _number(result[1])
            return Reading(result=value, value=_text(value))
        if kind == "vector":
            values = [_number(sample["value"][1]) for sample in result or []]
        elif kind == "matrix":
            values = [_number(point[1]) for series in result or [] for point in series.get("values", [])]
        else:
            raise MeasurementError("Prometheus metric type not supported")
        return Reading(result=values, value="[" + ",".join(_text(v) for v in values) + "]")

    def close(self) -> None:
        self.client.close()
