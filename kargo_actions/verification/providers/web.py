"""Argo Rollouts' `web` provider: one HTTP request per measurement, the JSON answer read through jsonPath.

As metricproviders/webmetric: method GET by default; body or jsonBody (not both, and not with GET);
headers; timeoutSeconds (default 10); insecure skips TLS verification; a non-2xx answer is an Error
("received non 2xx response code: N"); an answer that is not JSON is the result as a string; jsonPath
(default `{$}`) selects the value, the first match counts.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.model.analysis import Metric
from kargo_actions.verification.jsonpath import parse
from kargo_actions.verification.providers.base import MeasureContext, MeasurementError, Reading, go_text

DEFAULT_TIMEOUT_SECONDS = 10


class WebProvider:
    """An httpx client per metric, reused by every measurement of it."""

    def __init__(self, metric: Metric, ctx: MeasureContext) -> None:
        web = metric.provider.web
        assert web is not None
        self.name = metric.name
        where = f"metric {metric.name}: provider.web"
        if web.authentication:
            raise InvalidInputError(
                [
                    Problem(
                        path=f"{where}.authentication",
                        message="OAuth2 authentication is not supported by kargo-actions",
                        hint="pass a token in headers from a secret arg: {key: Authorization, value: "
                        "'Bearer {{args.token}}'}",
                    )
                ]
            )
        self.method = (web.method or "GET").upper()
        if web.body and web.json_body is not None:
            raise InvalidInputError(
                [Problem(path=where, message="use either body or jsonBody; both cannot exist")]
            )
        if (web.body or web.json_body is not None) and self.method == "GET":
            raise InvalidInputError(
                [Problem(path=where, message="body/jsonBody can only be used with POST or PUT methods")]
            )
        self.url = web.url
        self.path = parse(web.json_path or "{$}")
        self.headers = {h.key: h.value for h in web.headers}
        self.content: bytes | None = None
        if web.body:
            self.content = web.body.encode()
        elif web.json_body is not None:
            self.content = json.dumps(web.json_body).encode()
            self.headers["Content-Type"] = "application/json"
        timeout = (
            web.timeout_seconds
            if web.timeout_seconds and web.timeout_seconds > 0
            else DEFAULT_TIMEOUT_SECONDS
        )
        self.client = httpx.Client(timeout=timeout, verify=not web.insecure, follow_redirects=True)

    def measure(self) -> Reading:
        try:
            response = self.client.request(self.method, self.url, headers=self.headers, content=self.content)
        except httpx.TimeoutException as err:
            raise MeasurementError(f"{self.method} {self.url}: timed out ({type(err).__name__})") from err
        except httpx.HTTPError as err:
            raise MeasurementError(f"{self.method} {self.url}: {err}") from err
        if not 200 <= response.status_code < 300:
            raise MeasurementError(f"received non 2xx response code: {response.status_code}")
        text = response.text
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError:
            return Reading(result=text, value=text)
        found = self.path.find(data)
        if not found:
            raise MeasurementError(f"result of web metric produced no value (jsonPath {self.path.text})")
        return Reading(result=found[0], value=go_text(found[0]))

    def close(self) -> None:
        self.client.close()
