"""GitHub's official OpenAPI description (npm @octokit/openapi) as a checker of recorded exchanges."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.support.github_server import Exchange

OCTOKIT_OPENAPI_VERSION = "23.0.2"
REPO_ROOT = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = REPO_ROOT / "scripts" / "fetch-github-openapi.sh"
# GitHub answers these on every operation, though the description lists them on few
GENERIC_ERRORS = {401, 403, 404, 405, 409, 422, 429, 500, 502, 503, 504}


def spec_path() -> Path:
    """Where scripts/fetch-github-openapi.sh puts api.github.com.json (KARGO_ACTIONS_GITHUB_OPENAPI wins)."""
    override = os.environ.get("KARGO_ACTIONS_GITHUB_OPENAPI")
    if override:
        return Path(override)
    return (
        REPO_ROOT / ".venv" / "cache" / f"octokit-openapi-{OCTOKIT_OPENAPI_VERSION}" / "api.github.com.json"
    )


def ensure_spec() -> Path | None:
    """The description on disk, fetched with npm when missing; None when it cannot be had."""
    path = spec_path()
    if not path.exists() and FETCH_SCRIPT.exists():
        subprocess.run(["bash", str(FETCH_SCRIPT), str(path)], check=False, capture_output=True)
    return path if path.exists() else None


@dataclass  # openapi-core's Request protocol wants settable members
class _Request:
    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters


@dataclass(frozen=True)
class _Response:
    status_code: int
    content_type: str
    headers: Headers
    data: bytes | None


# parameters GitHub takes with slashes in them (`heads/main`, `promote/dev`), which OpenAPI path
# templates cannot express: encoded before matching, as one segment
_SLASHED = [
    re.compile(r"^(/repos/[^/]+/[^/]+/git/(?:ref|refs|matching-refs)/)(.+)$"),
    re.compile(r"^(/repos/[^/]+/[^/]+/rules/branches/)(.+)$"),
    re.compile(r"^(/repos/[^/]+/[^/]+/commits/)(.+)(/(?:status|statuses|check-runs|check-suites))$"),
]


def _path_for_matching(path: str) -> str:
    for pattern in _SLASHED:
        match = pattern.match(path)
        if match:
            groups = list(match.groups())
            groups[1] = groups[1].replace("/", "%2F")
            return "".join(groups)
    return path


class GitHubContract:
    """Validates request/response pairs against api.github.com.json."""

    def __init__(self, path: Path) -> None:
        document = json.loads(path.read_text())
        _nullable_enums_allow_null(document)
        self._api = OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))
        self._basic_error = OAS30Validator(document["components"]["schemas"]["basic-error"])
        # "METHOD /path/{}/with/{}" of every operation GitHub documents
        self.operations = frozenset(
            f"{method.upper()} {re.sub(r'{[^}]+}', '{}', path)}"
            for path, item in document["paths"].items()
            for method in item
            if method in ("get", "post", "put", "patch", "delete")
        )

    def problems(self, exchange: Exchange) -> list[str]:
        """What is wrong with one exchange (empty when both sides keep to GitHub's contract)."""
        where = f"{exchange.method} {exchange.path} -> {exchange.status}"
        query = ImmutableMultiDict(_parse_query(exchange.query))
        request = _Request(
            host_url="https://api.github.com",
            path=_path_for_matching(exchange.path),
            method=exchange.method.lower(),
            body=exchange.request_body or None,
            content_type=exchange.request_headers.get("content-type", "application/json").lower(),
            parameters=RequestParameters(query=query, header=Headers(exchange.request_headers)),
        )
        response = _Response(
            status_code=exchange.status,
            content_type=exchange.response_headers.get("Content-Type", "").lower(),
            headers=Headers(exchange.response_headers),
            data=exchange.response_body or None,
        )
        found: list[str] = []
        if exchange.status < 400:
            # a request the server refused need not be valid; an accepted one must be
            try:
                self._api.validate_request(request)
            except Exception as err:
                found.append(f"{where}: request: {_describe(err)}")
        if (
            exchange.status == 304
            and exchange.method == "GET"
            and "if-none-match" in exchange.request_headers
        ):
            # GitHub answers a conditional GET with 304 wherever it sent an ETag ("Use conditional
            # requests" in its REST best practices), though the description lists 304 on few operations
            return found
        try:
            self._api.validate_response(request, response)
        except ResponseNotFound as err:
            if exchange.status not in GENERIC_ERRORS:
                found.append(f"{where}: response: {_describe(err)}")
            else:
                found += [
                    f"{where}: error body: {e.message}"
                    for e in self._basic_error.iter_errors(_json(exchange))
                ]
        except Exception as err:
            found.append(f"{where}: response: {_describe(err)}")
        return found


def _nullable_enums_allow_null(node: Any) -> None:
    """List null in the enum of every `nullable: true` schema (e.g. a check run's `conclusion`, null while
    it runs). GitHub sends null there; OpenAPI 3.0.3, as openapi-core reads it, allows null in an enum only
    when the enum lists it."""
    if isinstance(node, dict):
        if node.get("nullable") is True and isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        for value in node.values():
            _nullable_enums_allow_null(value)
    elif isinstance(node, list):
        for value in node:
            _nullable_enums_allow_null(value)


def _json(exchange: Exchange) -> Any:
    try:
        return json.loads(exchange.response_body)
    except ValueError:
        return None


def _parse_query(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query, keep_blank_values=True)


def _short(text: object, limit: int = 300) -> str:
    value = str(text)
    return value if len(value) <= limit else value[:limit] + " ..."


def _describe(err: BaseException) -> str:
    parts = [f"{type(err).__name__}: {_short(err)}"]
    for inner in getattr(err, "schema_errors", None) or []:
        parts.append(f"  {'/'.join(str(p) for p in inner.path)}: {_short(inner.message)}")
    cause = err.__cause__
    while cause is not None:
        parts.append(f"  caused by {type(cause).__name__}: {_short(cause)}")
        for inner in getattr(cause, "schema_errors", None) or []:
            parts.append(f"    {'/'.join(str(p) for p in inner.path)}: {_short(inner.message)}")
        cause = cause.__cause__
    return "\n".join(parts)
