"""Argo Rollouts' `prometheus` provider: an instant (`/api/v1/query`) or range query per measurement.

As metricproviders/prometheus: a scalar answer is a number, a vector or a matrix a list of numbers (every
sample's value, series after series); the recorded value is `[v1,v2]` for lists. timeout (seconds,
default 30), headers and insecure are honoured; a query error is the measurement's Error.
`rangeQuery {start, end, step}` queries `/api/v1/query_range`: start and end are expr-lang expressions
giving a time (`now() - duration("1h")`, evaluated at each measurement as Argo's evaluate.EvalTime does,
with isNaN / isInf), step a Go duration. `authentication`: `basicAuth {username, password}` or `oauth2`
client credentials (providers/oauth2.py); the OAuth2 token wins over basicAuth, and custom `headers` are
set last, as Argo's round-trippers stack them (a custom Authorization header wins over both). SigV4 is
refused (templates.config_problems).
"""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from typing import Any

import httpx

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.expressions import ExpressionError
from kargo_actions.expressions.values import type_name
from kargo_actions.model.analysis import Metric
from kargo_actions.model.fields import parse_go_duration
from kargo_actions.verification.phases import MeasurementError
from kargo_actions.verification.providers.base import MeasureContext, Reading
from kargo_actions.verification.providers.oauth2 import ClientCredentials
from kargo_actions.verification.templates import config_problems

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


def _go_float(value: float) -> str:
    """A number as the Prometheus Go client sends times and steps (strconv 'f', -1: no exponent)."""
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text[:-2] if text.endswith(".0") else text


def eval_time(text: str) -> datetime:
    """Argo's evaluate.EvalTime: an expr-lang expression that must give a time."""
    from kargo_actions.expressions import Environment, evaluate
    from kargo_actions.expressions.rollouts import ROLLOUTS_FUNCTIONS

    env = Environment({}, {name: ROLLOUTS_FUNCTIONS[name] for name in ("isNaN", "isInf")})
    value = evaluate(text, env)
    if not isinstance(value, datetime):
        raise ValueError(f"expected a time, but got {type_name(value)}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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
        if prom.timeout is not None and prom.timeout < 0:
            problems.append(
                Problem(path=f"{where}.timeout", message="prometheus timeout should not be negative")
            )
        problems += [
            Problem(path=f"metric {metric.name}: provider.{c.path}", message=c.message, hint=c.hint)
            for c in config_problems(metric)
        ]
        self.range: tuple[str, str, float] | None = None
        query = prom.range_query
        if query is not None and not problems:
            start, end, step = query.start or "", query.end or "", query.step or ""
            for name, text in (("start", start), ("end", end)):
                try:
                    eval_time(text)
                except (ExpressionError, ValueError) as err:
                    message = err.message if isinstance(err, ExpressionError) else str(err)
                    problems.append(
                        Problem(
                            path=f"{where}.rangeQuery.{name}",
                            message=f"{text!r} is not a time: {message}",
                            hint='e.g. now() - duration("5m")',
                        )
                    )
            self.range = (start, end, parse_go_duration(step).total_seconds())
        if problems:
            raise InvalidInputError(problems)
        assert prom.address
        assert prom.query
        base = prom.address.rstrip("/")
        self.url = base + ("/api/v1/query_range" if self.range else "/api/v1/query")
        self.query = prom.query
        self.ctx = ctx
        auth = prom.authentication
        self.basic: tuple[str, str] | None = None
        self.oauth: ClientCredentials | None = None
        if auth is not None and auth.basic_auth is not None and auth.basic_auth.username:
            self.basic = (auth.basic_auth.username, auth.basic_auth.password or "")
        if auth is not None and auth.oauth2 is not None and auth.oauth2.token_url:
            oauth = auth.oauth2
            self.oauth = ClientCredentials(
                oauth.token_url or "", oauth.client_id or "", oauth.client_secret or "", tuple(oauth.scopes)
            )
        self.headers = [(h.key, h.value) for h in prom.headers]
        timeout = prom.timeout if prom.timeout else DEFAULT_TIMEOUT_SECONDS
        self.client = httpx.Client(timeout=timeout, verify=not prom.insecure)

    def _params(self) -> dict[str, str]:
        if self.range is None:
            return {"query": self.query}
        start_text, end_text, step = self.range
        try:
            start = eval_time(start_text)
        except (ExpressionError, ValueError) as err:
            raise MeasurementError(f"failed to parse rangeQuery.start as time: {err}") from err
        try:
            end = eval_time(end_text)
        except (ExpressionError, ValueError) as err:
            raise MeasurementError(f"failed to parse rangeQuery.end as time: {err}") from err
        return {
            "query": self.query,
            "start": _go_float(start.timestamp()),
            "end": _go_float(end.timestamp()),
            "step": _go_float(step),
        }

    def _headers(self) -> httpx.Headers:
        headers = httpx.Headers()
        if self.oauth is not None:
            headers["Authorization"] = self.ctx.tokens.header(self.oauth, self.client)
        elif self.basic is not None:
            pair = f"{self.basic[0]}:{self.basic[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        for key, value in self.headers:
            headers[key] = value
        return headers

    def measure(self) -> Reading:
        params = self._params()
        headers = self._headers()
        try:
            response = self.client.get(self.url, params=params, headers=headers)
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
