"""http: config table, and run table against a real HTTP server of the tests' own on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.engine import EngineOptions
from kargo_actions.promotion.single import run_single_step
from kargo_actions.promotion.step_api import (
    PathEscapeError,
    StepConfigError,
    StepError,
    StepFailed,
    StepStatus,
    TerminalStepError,
    validate_config,
)
from kargo_actions.promotion.steps.http import HTTP, HTTPConfig
from tests.discovery.registry_server import self_signed
from tests.promotion.steps.conftest import context
from tests.promotion.steps.http_fixture import Server, serve


@pytest.fixture
def http_server() -> Iterator[Server]:
    yield from serve()


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"url": "http://x"}, []),
        ({"url": "http://x", "method": "POST", "body": "{}", "timeout": "5s", "pollInterval": "1m30s"}, []),
        ({"url": "http://x", "body": "", "bodyFromFile": "b.json"}, []),
        ({"url": "http://x", "responseContentType": "application/yaml"}, []),
        ({}, ["config.url: required field is missing"]),
        ({"url": ""}, ["config.url: must not be empty"]),
        (
            {"url": "http://x", "method": "get"},
            ["config.method: String should match pattern '^(DELETE|GET|HEAD|PATCH|POST|PUT)$'"],
        ),
        (
            {"url": "http://x", "body": "a", "bodyFromFile": "b"},
            ["config: body and bodyFromFile are mutually exclusive: give one of them"],
        ),
        ({"url": "http://x", "bodyFromFile": ""}, ["config.bodyFromFile: must not be empty"]),
        (
            {"url": "http://x", "headers": [{"name": "A"}]},
            ["config.headers[0].value: required field is missing"],
        ),
        (
            {"url": "http://x", "outputs": [{"name": "a", "expression": "x"}]},
            ["config.outputs[0].expression: unknown field (did you mean 'fromExpression'?)"],
        ),
        (
            {"url": "http://x", "timeout": "soon"},
            ["config.timeout: String should match pattern '(?:\\d+(ns|us|µs|ms|s|m|h))+'"],
        ),
        (
            {"url": "http://x", "proxy": "socks5://p"},
            ["config.proxy: String should match pattern '^https?://.*$'"],
        ),
        (
            {"url": "http://x", "insecureSkipTlsVerify": True},
            ["config.insecureSkipTlsVerify: unknown field (did you mean 'insecureSkipTLSVerify'?)"],
        ),
    ],
)
def test_config(config: dict[str, Any], problems: list[str]) -> None:
    if not problems:
        assert isinstance(validate_config("http", HTTPConfig, config), HTTPConfig)
        return
    with pytest.raises(StepConfigError) as caught:
        validate_config("http", HTTPConfig, config)
    assert caught.value.lines() == problems


def _run(tmp_path: Path, config: dict[str, Any]) -> Any:
    return HTTP().run(context(tmp_path / "work"), validate_config("http", HTTPConfig, config))


# (path, extra config, expected status, expected outputs)
RUNS: list[tuple[str, dict[str, Any], StepStatus, dict[str, Any]]] = [
    (
        "/echo",
        {
            "method": "POST",
            "headers": [
                {"name": "X-Token", "value": "t1"},
                {"name": "Content-Type", "value": "application/json"},
            ],
            "queryParams": [{"name": "q", "value": "a b&c"}],
            "body": '{"hello": 1}',
            "outputs": [
                {"name": "method", "fromExpression": "response.body.method"},
                {"name": "token", "fromExpression": "response.body.headers['x-token']"},
                {"name": "query", "fromExpression": "response.body.query.q[0]"},
                {"name": "body", "fromExpression": "response.body.body"},
                {"name": "status", "fromExpression": "response.status"},
                {"name": "ctype", "fromExpression": "response.header('content-type')"},
                {"name": "count", "fromExpression": "response.headers['X-Request-Count'][0]"},
            ],
        },
        StepStatus.SUCCEEDED,
        {
            "method": "POST",
            "token": "t1",
            "query": "a b&c",
            "body": '{"hello": 1}',
            "status": 200,
            "ctype": "application/json",
            "count": "1",
        },
    ),
    (
        "/yaml",
        {"outputs": [{"name": "v", "fromExpression": "response.body.version"}]},
        StepStatus.SUCCEEDED,
        {"v": "2.0"},
    ),
    (
        "/text",
        {"outputs": [{"name": "t", "fromExpression": "response.body"}]},
        StepStatus.SUCCEEDED,
        {"t": "plain words"},
    ),
    (
        "/notjson",
        {"outputs": [{"name": "b", "fromExpression": "response.body"}]},
        StepStatus.SUCCEEDED,
        {"b": {}},
    ),
    (
        "/text",
        {"responseContentType": "application/json", "successExpression": "true"},
        StepStatus.ERRORED,
        {},
    ),
    (
        "/status/404",
        {"successExpression": "response.status == 200", "outputs": [{"name": "x", "fromExpression": "1"}]},
        StepStatus.RUNNING,
        {},
    ),
    ("/status/201", {"successExpression": "response.status == 201"}, StepStatus.SUCCEEDED, {}),
    ("/status/500", {}, StepStatus.ERRORED, {}),
    ("/status/404", {"failureExpression": "response.status == 404"}, StepStatus.FAILED, {}),
    (
        "/status/200",
        {"successExpression": "true", "failureExpression": "response.body.code == 200"},
        StepStatus.FAILED,
        {},
    ),
    (
        "/redirect/3",
        {"method": "GET", "outputs": [{"name": "s", "fromExpression": "response.status"}]},
        StepStatus.SUCCEEDED,
        {"s": 200},
    ),
    ("/redirect/12", {}, StepStatus.ERRORED, {}),
]


@pytest.mark.parametrize(("path", "extra", "status", "outputs"), RUNS)
def test_run(
    tmp_path: Path,
    http_server: Server,
    path: str,
    extra: dict[str, Any],
    status: StepStatus,
    outputs: dict[str, Any],
) -> None:
    config = {"url": http_server.url + path, **extra}
    if status is StepStatus.ERRORED:
        with pytest.raises(StepError) as caught:
            _run(tmp_path, config)
        assert not isinstance(caught.value, StepFailed)
        return
    if status is StepStatus.FAILED:
        with pytest.raises(StepFailed, match=r"HTTP \(\d+\) response met failure criteria"):
            _run(tmp_path, config)
        return
    result = _run(tmp_path, config)
    assert result.status is status
    assert dict(result.outputs) == outputs


def test_error_expression_gives_the_failure_message(tmp_path: Path, http_server: Server) -> None:
    config = {
        "url": http_server.url + "/status/403",
        "failureExpression": "response.status >= 400",
        "errorExpression": "response.body?.error ?? response.body?.message",
    }
    with pytest.raises(StepFailed) as caught:
        _run(tmp_path, config)
    assert str(caught.value) == "HTTP (403) response met failure criteria: 'status 403'"
    # An errorExpression that gives no string leaves the default message.
    with pytest.raises(StepFailed) as caught:
        _run(tmp_path, {**config, "errorExpression": "response.body.code"})
    assert str(caught.value) == "HTTP (403) response met failure criteria"


def test_body_from_file_is_sent_and_confined(tmp_path: Path, http_server: Server) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "payload.json").write_text('{"from": "file"}')
    config = {
        "url": http_server.url + "/echo",
        "method": "PUT",
        "bodyFromFile": "payload.json",
        "outputs": [{"name": "body", "fromExpression": "response.body.body"}],
    }
    assert _run(tmp_path, config).outputs == {"body": '{"from": "file"}'}
    with pytest.raises(TerminalStepError, match=r"'missing\.json' does not exist"):
        _run(tmp_path, {**config, "bodyFromFile": "missing.json"})
    with pytest.raises(PathEscapeError):
        _run(tmp_path, {**config, "bodyFromFile": "../outside.json"})


def test_timeout_is_a_retryable_error(tmp_path: Path, http_server: Server) -> None:
    with pytest.raises(StepError, match=r"no complete answer within the timeout of 0\.2s") as caught:
        _run(tmp_path, {"url": http_server.url + "/slow", "timeout": "200ms"})
    assert not isinstance(caught.value, TerminalStepError)


def test_a_response_over_the_cap_is_refused(tmp_path: Path, http_server: Server) -> None:
    ctx = context(tmp_path / "work", env={"KARGO_ACTIONS_HTTP_MAX_RESPONSE_BYTES": "1000"})
    config = validate_config("http", HTTPConfig, {"url": http_server.url + "/big"})
    with pytest.raises(TerminalStepError, match="over the limit of 1000 bytes"):
        HTTP().run(ctx, config)


def test_bad_expressions(tmp_path: Path, http_server: Server) -> None:
    url = http_server.url + "/echo"
    with pytest.raises(TerminalStepError, match="successExpression: cannot parse"):
        _run(tmp_path, {"url": url, "successExpression": "response.status =="})
    with pytest.raises(StepError, match="must give true or false"):
        _run(tmp_path, {"url": url, "successExpression": "response.status"})


def test_unreachable_server_is_a_retryable_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StepError, match="ConnectError") as caught:
        _run(tmp_path, {"url": f"http://127.0.0.1:{port}/"})
    assert not isinstance(caught.value, TerminalStepError)


def test_engine_polls_until_success(tmp_path: Path, http_server: Server) -> None:
    config = {
        "url": http_server.url + "/poll/a",
        "successExpression": "response.body.state == 'done'",
        "failureExpression": "response.body.state == 'failed'",
        "pollInterval": "20ms",
        "outputs": [{"name": "version", "fromExpression": "response.body.version"}],
    }
    result = run_single_step(
        "http", config, work_dir=tmp_path / "work", options=EngineOptions(poll_interval=60)
    )
    step = result.steps[0]
    assert (step.status, step.attempts, dict(step.outputs)) == (StepStatus.SUCCEEDED, 3, {"version": "1.2.3"})
    assert http_server.count("/poll/a") == 3


def test_self_signed_tls_needs_insecure_skip_tls_verify(tmp_path: Path) -> None:
    cert, key, _ = self_signed(tmp_path / "tls")
    for server in serve((cert, key)):
        config = {
            "url": server.url + "/echo",
            "outputs": [{"name": "m", "fromExpression": "response.body.method"}],
        }
        with pytest.raises(
            TerminalStepError, match=r"TLS certificate is not trusted .*insecureSkipTLSVerify"
        ):
            _run(tmp_path, config)
        assert _run(tmp_path, {**config, "insecureSkipTLSVerify": True}).outputs == {"m": "GET"}
