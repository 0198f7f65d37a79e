"""Argo Rollouts' `web` provider: one HTTP request per measurement, the JSON answer read through jsonPath.

As metricproviders/webmetric: method GET by default; body or jsonBody (not both, and not with GET);
headers; timeoutSeconds (default 10); insecure skips TLS verification; a non-2xx answer is an Error
("received non 2xx response code: N"); an answer that is not JSON is the result as a string; jsonPath
(default `{$}`) selects the value, the first match counts. `authentication.oauth2` (client credentials,
providers/oauth2.py) sends `Authorization: Bearer <token>`, over any Authorization in headers, as Argo's
oauth2 transport does; basicAuth and sigv4 are refused (Argo's web metric ignores them).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.model.analysis import Metric
from kargo_actions.verification.jsonpath import parse
from kargo_actions.verification.phases import MeasurementError
from kargo_actions.verification.providers.base import MeasureContext, Reading, go_text
from kargo_actions.verification.providers.oauth2 import ClientCredentials
from kargo_actions.verification.templates import config_problems

DEFAULT_TIMEOUT_SECONDS = 10


class WebProvider:
    """An httpx client per metric, reused by every measurement of it."""

    def __init__(self, metric: Metric, ctx: MeasureContext) -> None:
        web = metric.provider.web
        assert web is not None
        self.name = metric.name
        where = f"metric {metric.name}: provider.web"
        problems = config_problems(metric)
        if problems:
            raise InvalidInputError(
                [Problem(path=f"{where}.{c.path[4:]}", message=c.message, hint=c.hint) for c in problems]
            )
        self.ctx = ctx
        oauth = web.authentication.oauth2 if web.authentication is not None else None
        self.oauth: ClientCredentials | None = None
        if oauth is not None and oauth.token_url:
            self.oauth = ClientCredentials(
                oauth.token_url, oauth.client_id or "", oauth.client_secret or "", tuple(oauth.scopes)
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
        headers = httpx.Headers(self.headers)
        if self.oauth is not None:  # oauth2's Transport sets Authorization over the metric's own headers
            headers["Authorization"] = self.ctx.tokens.header(self.oauth, self.client)
        try:
            response = self.client.request(self.method, self.url, headers=headers, content=self.content)
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
