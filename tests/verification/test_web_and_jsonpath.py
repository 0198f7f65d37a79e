"""The web provider against a real HTTP server on 127.0.0.1, and the JSONPath subset."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.model.analysis import Metric
from kargo_actions.verification.jsonpath import JsonPathError, parse
from kargo_actions.verification.phases import Phase
from kargo_actions.verification.providers.base import MeasureContext
from kargo_actions.verification.providers.web import WebProvider
from kargo_actions.verification.runner import RunOptions, run_analysis
from tests.verification.helpers import FakeClock, plan_of
from tests.verification.servers import Answer, Script, serve

DOC = {
    "a": {"b": 1, "c": [10, 20, 30]},
    "items": [{"name": "x", "v": 1, "ok": True}, {"name": "y", "v": 5}, {"name": "z", "v": 9, "ok": False}],
    "dotted.key": "d",
}

JSONPATH_CASES: list[tuple[str, list[Any]]] = [
    ("{$.a.b}", [1]),
    ("{.a.b}", [1]),
    ("{$}", [DOC]),
    ("{$.a.c[0]}", [10]),
    ("{$.a.c[-1]}", [30]),
    ("{$.a.c[0:2]}", [10, 20]),
    ("{$.a.c[*]}", [10, 20, 30]),
    ("{$.items[*].name}", ["x", "y", "z"]),
    ("{$.items[0,2].v}", [1, 9]),
    ("{$['dotted.key']}", ["d"]),
    ("{$.items[?(@.v > 4)].name}", ["y", "z"]),
    ("{$.items[?(@.name == 'y')].v}", [5]),
    ("{$.items[?(@.ok)].name}", ["x", "z"]),
    ("{..v}", [1, 5, 9]),
    ("{$.missing}", []),
    ("{$.a.b.c}", []),
]


@pytest.mark.parametrize(("path", "expected"), JSONPATH_CASES)
def test_jsonpath(path: str, expected: list[Any]) -> None:
    assert parse(path).find(DOC) == expected


@pytest.mark.parametrize(
    "path", ["$.a.b", "{$.a}{$.b}", "{range .items[*]}{.name}{end}", "{$.a[x]}", "{$.a[}"]
)
def test_jsonpath_errors(path: str) -> None:
    with pytest.raises(JsonPathError):
        parse(path)


def _metric(url: str, **web: Any) -> dict[str, Any]:
    return {"name": "m", "provider": {"web": {"url": url, **web}}}


# (answers, web fields, successCondition, run phase, measured value, message part)
WEB_CASES: list[tuple[list[Answer], dict[str, Any], str, Phase, str, str]] = [
    (
        [Answer(body={"base_experience": 112})],
        {"jsonPath": "{$.base_experience}"},
        "result < 200",
        Phase.SUCCESSFUL,
        "112",
        "",
    ),
    (
        [Answer(body={"base_experience": 267})],
        {"jsonPath": "{$.base_experience}"},
        "result < 200",
        Phase.FAILED,
        "267",
        "failed (1)",
    ),
    (
        [Answer(body={"ok": True, "rate": 0.97})],
        {},
        "result.ok && result.rate >= 0.95",
        Phase.SUCCESSFUL,
        '{"ok":true,"rate":0.97}',
        "",
    ),
    ([Answer(body="It worked!")], {}, "result == 'It worked!'", Phase.SUCCESSFUL, "It worked!", ""),
    ([Answer(status=503, body={})], {}, "true", Phase.ERROR, "", "received non 2xx response code: 503"),
    ([Answer(body={"a": 1})], {"jsonPath": "{$.b}"}, "true", Phase.ERROR, "", "produced no value"),
    ([Answer(body={"v": 1}, delay=1.5)], {"timeoutSeconds": 1}, "true", Phase.ERROR, "", "timed out"),
]


@pytest.mark.parametrize(("answers", "web", "condition", "phase", "value", "message"), WEB_CASES)
def test_web_provider(
    answers: list[Answer], web: dict[str, Any], condition: str, phase: Phase, value: str, message: str
) -> None:
    script = Script(answers={"/m": answers})
    with serve(script) as url:
        metric = {**_metric(url + "/m", **web), "successCondition": condition, "consecutiveErrorLimit": 0}
        result = run_analysis(plan_of([metric]), RunOptions(clock=FakeClock()))
    assert result.phase is phase, result.message
    last = result.metrics[0].measurements[-1]
    assert last.value == value
    assert message in (last.message + result.message)


def test_web_provider_sends_method_headers_and_json_body() -> None:
    script = Script(answers={"/hook": [Answer(body={"ok": True})]})
    with serve(script) as url:
        metric = Metric.model_validate(
            _metric(
                url + "/hook",
                method="POST",
                headers=[{"key": "Authorization", "value": "Bearer t0k"}],
                jsonBody={"stage": "dev"},
            )
        )
        provider = WebProvider(metric, MeasureContext())
        try:
            reading = provider.measure()
        finally:
            provider.close()
    assert reading.result == {"ok": True}
    method, path, headers, body = script.seen[0]
    assert (method, path, json.loads(body)) == ("POST", "/hook", {"stage": "dev"})
    assert headers["Authorization"] == "Bearer t0k"
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("web", "message"),
    [
        ({"body": "x", "jsonBody": {"a": 1}, "method": "POST"}, "either body or jsonBody"),
        ({"body": "x"}, "only be used with POST or PUT"),
        ({"authentication": {"oauth2": {"tokenUrl": "https://idp/t"}}}, "OAuth2 setup: clientId"),
        ({"jsonPath": "$.x"}, "one expression in braces"),
    ],
)
def test_web_provider_config_errors(web: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        WebProvider(Metric.model_validate(_metric("http://127.0.0.1:9/x", **web)), MeasureContext())
