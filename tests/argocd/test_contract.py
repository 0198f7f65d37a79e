"""The swagger.json checker itself: right exchanges pass, each kind of wrong one is caught."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.argocd_contract import ArgoCDContract, Exchange, contract
from tests.support.argocd_server import TOKEN, application, serve_argocd

JSON = {"Content-Type": "application/json"}
APP = application("guestbook")


def _exchange(
    method: str = "GET",
    path: str = "/api/v1/applications/guestbook",
    query: str = "",
    request: Any = None,
    status: int = 200,
    response: Any = APP,
    headers: dict[str, str] | None = None,
) -> Exchange:
    body = b"" if request is None else json.dumps(request).encode()
    return Exchange(method, path, query, body, status, json.dumps(response).encode(), headers or JSON)


@pytest.fixture(scope="module")
def checker() -> ArgoCDContract:
    return contract()


@pytest.mark.parametrize(
    "exchange",
    [
        _exchange(),
        _exchange(query="appNamespace=team-a"),
        _exchange(path="/api/v1/applications", query="selector=env%3Ddev", response={"items": [APP]}),
        _exchange(
            "PATCH",
            request={
                "name": "guestbook",
                "patchType": "merge",
                "patch": '{"spec":{"source":{"targetRevision":"v2"}}}',
            },
        ),
        _exchange(
            "POST",
            "/api/v1/applications/guestbook/sync",
            request={"name": "guestbook", "revisions": ["a", "b"], "sourcePositions": ["1", "2"]},
        ),
        _exchange(status=404, response={"error": "not found", "code": 5, "message": "not found"}),
    ],
)
def test_exchanges_that_keep_to_the_contract_pass(checker: ArgoCDContract, exchange: Exchange) -> None:
    assert checker.problems(exchange) == []


@pytest.mark.parametrize(
    ("exchange", "expected"),
    [
        (_exchange(path="/api/v1/applicationz/guestbook"), "no such operation"),
        (_exchange("PATCH", path="/api/v1/applications"), "no such operation"),
        (
            _exchange(query="namespace=x"),
            "query parameter 'namespace' is not one of ApplicationService_Get's",
        ),
        (_exchange(query="refresh=a&refresh=b"), "given more than once"),
        (_exchange(response={**APP, "metadata": {"name": 5}}), "metadata/name: 5 is not of type 'string'"),
        (_exchange(response={**APP, "spec": {"sorce": {}}}), "'sorce' was unexpected"),
        (
            _exchange(response={**APP, "status": {"reconciledAt": "yesterday"}}),
            "status/reconciledAt: 'yesterday' is not a 'date-time'",
        ),
        (_exchange(headers={"Content-Type": "text/html"}), "is not application/json"),
        (_exchange(status=500, response={"error": 1}), "error: 1 is not of type 'string'"),
        (
            _exchange(
                "POST",
                "/api/v1/applications/guestbook/sync",
                request={"name": "guestbook", "revisions": ["a"], "sourcePositions": [1]},
            ),
            "request: sourcePositions/0: 1 is not of type 'string'",
        ),
        (
            _exchange(
                "PATCH", request={"name": "guestbook", "patchType": "merge", "patch": '{"spec":{"srcs":[]}}'}
            ),
            "merge patch: spec: Additional properties are not allowed ('srcs' was unexpected)",
        ),
        (_exchange("PATCH", request={"name": "g", "patchType": "strategic", "patch": "{}"}), "patchType"),
        (_exchange(request={"x": 1}), "a body was sent to an operation that takes none"),
        (_exchange("POST", "/api/v1/applications/guestbook/sync", status=201), "success status 201"),
    ],
)
def test_wrong_exchanges_are_caught(checker: ArgoCDContract, exchange: Exchange, expected: str) -> None:
    problems = checker.problems(exchange)
    assert any(expected in p for p in problems), problems


def test_the_server_fails_a_test_whose_answer_breaks_the_contract() -> None:
    # a deliberately wrong Application (a field Argo CD does not have) served to a real request
    served = serve_argocd()
    server = served.__enter__()
    server.add({**application("guestbook"), "bogus": 1})
    answer = httpx.get(
        f"{server.url}/api/v1/applications/guestbook", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 200
    with pytest.raises(AssertionError, match="'bogus' was unexpected"):
        served.__exit__(None, None, None)
