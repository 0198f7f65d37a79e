"""The contract check itself: it must catch answers that break GitHub's OpenAPI description."""

from __future__ import annotations

import json
import re

from tests.support.github_contract import GitHubContract
from tests.support.github_server import ROUTES, Exchange

STATUS = {
    "url": "u",
    "avatar_url": None,
    "id": 1,
    "node_id": "n",
    "state": "success",
    "description": None,
    "target_url": None,
    "context": "kargo/gate",
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
    "creator": None,
}


def _exchange(path: str, status: int, body: object, method: str = "POST", request: object = None) -> Exchange:
    return Exchange(
        method=method,
        path=path,
        query="",
        request_headers={"content-type": "application/json"},
        request_body=json.dumps(request if request is not None else {"state": "success"}).encode(),
        status=status,
        response_headers={"Content-Type": "application/json; charset=utf-8"},
        response_body=json.dumps(body).encode(),
    )


def test_a_valid_answer_passes(github_contract: GitHubContract) -> None:
    assert github_contract.problems(_exchange("/repos/o/r/statuses/abc", 201, STATUS)) == []


def test_a_missing_required_field_is_caught(github_contract: GitHubContract) -> None:
    broken = {k: v for k, v in STATUS.items() if k != "context"}
    [problem] = github_contract.problems(_exchange("/repos/o/r/statuses/abc", 201, broken))
    assert "POST /repos/o/r/statuses/abc -> 201: response" in problem
    assert "context" in problem


def test_a_wrong_type_is_caught(github_contract: GitHubContract) -> None:
    assert github_contract.problems(_exchange("/repos/o/r/statuses/abc", 201, {**STATUS, "id": "one"}))


def test_an_invalid_request_is_caught(github_contract: GitHubContract) -> None:
    problems = github_contract.problems(
        _exchange("/repos/o/r/statuses/abc", 201, STATUS, request={"state": "great"})
    )
    assert any("request" in p for p in problems)


def test_an_undocumented_path_is_caught(github_contract: GitHubContract) -> None:
    assert github_contract.problems(_exchange("/repos/o/r/kargo-only", 200, {}, method="GET"))


def test_generic_errors_must_have_githubs_error_shape(github_contract: GitHubContract) -> None:
    ok = _exchange("/repos/o/r/statuses/abc", 401, {"message": "Bad credentials", "documentation_url": "d"})
    assert github_contract.problems(ok) == []
    bad = _exchange("/repos/o/r/statuses/abc", 401, {"message": 401})
    assert github_contract.problems(bad)


def test_every_route_of_the_server_is_a_documented_github_operation(github_contract: GitHubContract) -> None:
    routes = {f"{r.method} {re.sub(r'{[^}]+}', '{}', r.template)}" for r in ROUTES}
    assert len(routes) == len(ROUTES) >= 40
    assert sorted(routes - github_contract.operations) == []
