"""Provider authentication: OAuth2 client credentials (web, prometheus), basicAuth (prometheus), refusals.

A real OAuth2 token endpoint (tests.verification.servers.TokenServer) and an authenticating proxy in front
of the web metric's server or of the real Prometheus, all on 127.0.0.1.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.model.analysis import AnalysisTemplate
from kargo_actions.verification.phases import Phase, RunResult
from kargo_actions.verification.providers.base import MeasureContext
from kargo_actions.verification.providers.oauth2 import TokenCache
from kargo_actions.verification.runner import RunOptions, run_analysis
from kargo_actions.verification.templates import AnalysisPlan, plan_analysis, provider_problems
from tests.verification.helpers import FakeClock, plan_of
from tests.verification.servers import Answer, AuthProxy, Script, TokenServer, serve, serve_handler
from tests.verification.test_templates import project

SECRET = "s3cret/+&="  # characters that oauth2 escapes in the Basic header


@pytest.fixture
def oauth() -> Iterator[tuple[TokenServer, str]]:
    tokens = TokenServer(clients={"kargo": SECRET}, expires_in=45)
    with serve_handler(tokens.handle) as url:
        yield tokens, url + "/token"


@pytest.fixture
def protected_web(oauth: tuple[TokenServer, str]) -> Iterator[tuple[AuthProxy, str]]:
    script = Script({"/ok": [Answer(200, {"ok": True})]})
    with serve(script) as upstream:
        proxy = AuthProxy(upstream, oauth[0].accepts)
        with serve_handler(proxy.handle) as url:
            yield proxy, url


def _oauth2(token_url: str, secret: str = SECRET, **more: Any) -> dict[str, Any]:
    return {"oauth2": {"tokenUrl": token_url, "clientId": "kargo", "clientSecret": secret, **more}}


def _web(url: str, auth: dict[str, Any], name: str = "m", **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "provider": {
            "web": {"url": url, "authentication": auth, "jsonPath": "{$.ok}", **more.pop("web", {})}
        },
        "successCondition": "result == true",
        "consecutiveErrorLimit": 0,
        **more,
    }


def _run(plan: AnalysisPlan, clock: FakeClock) -> RunResult:
    ctx = MeasureContext(tokens=TokenCache(now=lambda: clock.now))
    return run_analysis(plan, RunOptions(clock=clock, context=ctx))


def test_web_token_fetched_once_and_reused_until_it_expires(
    oauth: tuple[TokenServer, str], protected_web: tuple[AuthProxy, str]
) -> None:
    tokens, token_url = oauth
    proxy, url = protected_web
    metric = _web(url + "/ok", _oauth2(token_url, scopes=["metrics:read", "openid"]), count=4, interval="20s")
    result = _run(plan_of([metric]), FakeClock())
    assert result.phase is Phase.SUCCESSFUL, result.message
    # expires_in 45, expired 10 s early: tok-1 serves t=0 and t=20; t=40 needs tok-2, which serves t=60
    assert proxy.seen == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2", "Bearer tok-2"]
    first = tokens.requests[0]
    assert (first["grant_type"], first["scope"]) == ("client_credentials", "metrics:read openid")
    pair = base64.b64decode(first["authorization"].removeprefix("Basic ")).decode()
    assert pair == "kargo:s3cret%2F%2B%26%3D"  # id and secret query-escaped, as oauth2's Basic style
    assert "client_secret" not in first


def test_token_without_expiry_serves_the_whole_run(
    oauth: tuple[TokenServer, str], protected_web: tuple[AuthProxy, str]
) -> None:
    tokens, token_url = oauth
    tokens.expires_in = None
    proxy, url = protected_web
    metrics = [
        _web(url + "/ok", _oauth2(token_url), name="a", count=3, interval="1h"),
        _web(url + "/ok", _oauth2(token_url), name="b", count=3, interval="1h"),
    ]
    result = _run(plan_of(metrics), FakeClock())
    assert result.phase is Phase.SUCCESSFUL, result.message
    assert tokens.issued == ["tok-1"]  # the two metrics share one client, so one token
    assert proxy.seen == ["Bearer tok-1"] * 6


def test_client_credentials_in_the_form_when_basic_fails(
    oauth: tuple[TokenServer, str], protected_web: tuple[AuthProxy, str]
) -> None:
    tokens, token_url = oauth
    tokens.style = "params"
    tokens.form_answer = True  # and the answer form-encoded, as some endpoints send it
    proxy, url = protected_web
    result = _run(plan_of([_web(url + "/ok", _oauth2(token_url), count=2, interval="1m")]), FakeClock())
    assert result.phase is Phase.SUCCESSFUL, result.message
    # first fetch: Basic refused, then the form; the second fetch (t=60, tok-1 expired) goes to the form at once
    styles = ["form" if "client_secret" in r else "basic" for r in tokens.requests]
    assert styles == ["basic", "form", "form"]
    assert tokens.requests[1]["client_secret"] == SECRET
    assert proxy.seen == ["Bearer tok-1", "Bearer tok-2"]


def test_the_token_replaces_an_authorization_header(
    oauth: tuple[TokenServer, str], protected_web: tuple[AuthProxy, str]
) -> None:
    _tokens, token_url = oauth
    proxy, url = protected_web
    metric = _web(url + "/ok", _oauth2(token_url), web={"headers": [{"key": "Authorization", "value": "x"}]})
    assert _run(plan_of([metric]), FakeClock()).phase is Phase.SUCCESSFUL
    assert proxy.seen == ["Bearer tok-1"]


def test_wrong_secret_is_an_error_naming_the_token_url(
    oauth: tuple[TokenServer, str], protected_web: tuple[AuthProxy, str]
) -> None:
    tokens, token_url = oauth
    proxy, url = protected_web
    result = _run(plan_of([_web(url + "/ok", _oauth2(token_url, secret="wrong"))]), FakeClock())
    assert result.phase is Phase.ERROR
    message = result.metrics[0].measurements[-1].message
    assert message == (
        f'fetching an OAuth2 token from {token_url}: HTTP 401, "invalid_client" "client authentication failed"'
    )
    assert len(tokens.requests) == 2  # Basic, then the form: both refused
    assert proxy.seen == []  # the metric's endpoint was never called without a token


def test_without_a_token_the_endpoint_refuses(protected_web: tuple[AuthProxy, str]) -> None:
    _proxy, url = protected_web
    result = _run(plan_of([_web(url + "/ok", {})]), FakeClock())
    assert result.phase is Phase.ERROR
    assert result.metrics[0].measurements[-1].message == "received non 2xx response code: 401"


OAUTH_TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: oauth}
spec:
  args:
  - name: url
  - name: tokenUrl
  - name: clientSecret
    valueFrom:
      secretKeyRef: {name: metrics-oauth, key: secret}
  metrics:
  - name: ok
    successCondition: result == true
    consecutiveErrorLimit: 0
    provider:
      web:
        url: "{{args.url}}"
        jsonPath: "{$.ok}"
        authentication:
          oauth2: {tokenUrl: "{{args.tokenUrl}}", clientId: kargo, clientSecret: "{{args.clientSecret}}"}
"""


def _secret_plan(tmp_path: Path, url: str, token_url: str, secret: str) -> tuple[AnalysisPlan, list[str]]:
    p = project(
        tmp_path,
        templates="[{name: oauth}]",
        args=f"[{{name: url, value: '{url}'}}, {{name: tokenUrl, value: '{token_url}'}}]",
        extra=OAUTH_TEMPLATE,
    )
    masked: list[str] = []
    plan = plan_analysis(p, p.stages["test"], {"KARGO_SECRET_METRICS_OAUTH__secret": secret}, masked.append)
    return plan, masked


def test_client_secret_from_a_secret_arg(
    tmp_path: Path, oauth: tuple[TokenServer, str], protected_web: tuple[AuthProxy, str]
) -> None:
    _tokens, token_url = oauth
    proxy, url = protected_web
    plan, masked = _secret_plan(tmp_path, url + "/ok", token_url, SECRET)
    assert masked == [SECRET]
    assert _run(plan, FakeClock()).phase is Phase.SUCCESSFUL
    assert proxy.seen == ["Bearer tok-1"]


def test_a_secret_echoed_by_the_token_endpoint_is_redacted(tmp_path: Path) -> None:
    tokens = TokenServer(clients={}, echo_failure=True)
    with serve_handler(tokens.handle) as token_url:
        plan, _ = _secret_plan(tmp_path, "http://127.0.0.1:9/ok", token_url + "/token", "hunter2")
        result = _run(plan, FakeClock())
    message = result.metrics[0].measurements[-1].message
    assert result.phase is Phase.ERROR
    assert message.startswith(
        f"fetching an OAuth2 token from {token_url}/token: cannot fetch token: HTTP 500"
    )
    assert "client_secret=*****" in message
    assert "hunter2" not in message


def test_a_secret_written_in_the_template_is_masked_too(tmp_path: Path) -> None:
    p = project(
        tmp_path,
        templates="[{name: oauth}]",
        args="[{name: url, value: 'http://x'}, {name: tokenUrl, value: 'http://t/token'}]",
        extra=OAUTH_TEMPLATE.replace('"{{args.clientSecret}}"', "plain-secret"),
    )
    masked: list[str] = []
    plan = plan_analysis(p, p.stages["test"], {"KARGO_SECRET_METRICS_OAUTH__secret": "unused"}, masked.append)
    assert "plain-secret" in masked
    assert plan.redact("id kargo secret plain-secret") == "id kargo secret *****"


# --- Prometheus: OAuth2 and basicAuth through an authenticating proxy in front of the real server ---


def _prom(address: str, auth: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "name": "m",
        "provider": {
            "prometheus": {"address": address, "query": "vector(1)", "authentication": auth, **more}
        },
        "successCondition": "all(result, # == 1)",
        "consecutiveErrorLimit": 0,
    }


def test_prometheus_oauth2_instant_and_range(prometheus: str, oauth: tuple[TokenServer, str]) -> None:
    tokens, token_url = oauth
    proxy = AuthProxy(prometheus, tokens.accepts)
    with serve_handler(proxy.handle) as address:
        ranged = {"rangeQuery": {"start": 'now() - duration("1m")', "end": "now()", "step": "30s"}}
        metrics = [
            _prom(address, _oauth2(token_url)),
            {**_prom(address, _oauth2(token_url), **ranged), "name": "r"},
        ]
        result = _run(plan_of(metrics), FakeClock())
    assert result.phase is Phase.SUCCESSFUL, result.message
    assert [m.measurements[-1].value for m in result.metrics] == ["[1]", "[1,1,1]"]
    assert proxy.seen == ["Bearer tok-1", "Bearer tok-1"]
    assert tokens.issued == ["tok-1"]


@pytest.mark.parametrize(
    ("auth", "headers", "phase", "seen"),
    [
        ({"basicAuth": {"username": "grafana", "password": "p:w"}}, [], Phase.SUCCESSFUL, "Basic Z3JhZmFuYTpwOnc="),
        ({"basicAuth": {"username": "grafana", "password": "no"}}, [], Phase.ERROR, "Basic Z3JhZmFuYTpubw=="),
        # custom headers go last, as Argo's headers round-tripper sets them after basic auth
        ({"basicAuth": {"username": "grafana", "password": "no"}}, [{"key": "Authorization", "value": "Basic Z3JhZmFuYTpwOnc="}], Phase.SUCCESSFUL, "Basic Z3JhZmFuYTpwOnc="),
    ],
)  # fmt: skip
def test_prometheus_basic_auth(
    prometheus: str,
    auth: dict[str, Any],
    headers: list[dict[str, str]],
    phase: Phase,
    seen: str,
) -> None:
    good = "Basic " + base64.b64encode(b"grafana:p:w").decode()
    proxy = AuthProxy(prometheus, lambda header: header == good)
    with serve_handler(proxy.handle) as address:
        result = _run(plan_of([_prom(address, auth, headers=headers)]), FakeClock())
    assert result.phase is phase, result.message
    assert proxy.seen == [seen]
    if phase is Phase.ERROR:
        assert "unauthorized" in result.metrics[0].measurements[-1].message


# --- refused settings: when the manifests load and when the run is planned ---

REFUSED = [
    ("web", {"sigv4": {"region": "eu-west-1"}}, "authentication.sigv4", "AWS SigV4 signing"),
    ("prometheus", {"sigv4": {"region": "eu-west-1", "roleArn": "arn:aws:iam::1:role/r"}}, "authentication.sigv4", "not supported by kargo-actions"),
    ("web", {"basicAuth": {"username": "u", "password": "p"}}, "authentication.basicAuth", "the web provider takes no basicAuth"),
    ("prometheus", {"basicAuth": {"username": "u"}}, "authentication.basicAuth.password", "basic auth setup: password"),
    ("web", {"oauth2": {"tokenUrl": "https://idp/token", "clientId": "c"}}, "authentication.oauth2.clientSecret", "OAuth2 setup: clientSecret"),
    ("prometheus", {"oauth2": {"clientId": "c", "clientSecret": "s"}}, "authentication.oauth2.tokenUrl", "OAuth2 setup: tokenUrl"),
    ("web", {"oauth2": {"tokenUrl": "idp/token", "clientId": "c", "clientSecret": "s"}}, "authentication.oauth2.tokenUrl", "not an http(s) URL"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "auth", "path", "message"), REFUSED)
def test_refused_authentication(kind: str, auth: dict[str, Any], path: str, message: str) -> None:
    config: dict[str, Any] = (
        {"url": "http://app/x"} if kind == "web" else {"address": "http://prom:9090", "query": "up"}
    )
    metric = {"name": "m", "provider": {kind: {**config, "authentication": auth}}}
    problems = provider_problems(template_of([metric]))
    assert [p.path for p in problems] == [f"spec.metrics[0].provider.{kind}.{path}"]
    assert message in problems[0].message
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        plan_of([metric])


def test_empty_sigv4_is_no_sigv4() -> None:
    metric = {"name": "m", "provider": {"web": {"url": "http://app/x", "authentication": {"sigv4": {}}}}}
    assert provider_problems(template_of([metric])) == []


def template_of(metrics: list[dict[str, Any]]) -> AnalysisTemplate:
    return AnalysisTemplate.model_validate(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "t"},
            "spec": {"metrics": metrics},
        }
    )


def test_sigv4_is_refused_when_the_manifests_load(tmp_path: Path) -> None:
    sigv4 = """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: amp}
spec:
  metrics:
  - name: errors
    provider:
      prometheus:
        address: https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1
        query: sum(errors)
        authentication:
          sigv4: {region: eu-west-1}
"""
    with pytest.raises(InvalidInputError) as caught:
        project(tmp_path, templates="[{name: amp}]", args="[]", extra=sigv4)
    [problem] = caught.value.problems
    assert problem.file is not None
    assert problem.file.endswith("stage.yaml")
    assert "AnalysisTemplate amp: metric 'errors': AWS SigV4 signing" in problem.message
    assert "signing proxy" in (problem.hint or "")
