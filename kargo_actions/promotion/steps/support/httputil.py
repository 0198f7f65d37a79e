"""What the http and http-download steps share: header/query models, durations, the client, the `response`
object their expressions see, and bounded body reads."""

from __future__ import annotations

import functools
import json
import os
import ssl
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field
from typing import Any, ClassVar

import certifi
import httpx
from pydantic import Field

from kargo_actions.expressions import Environment, ExpressionError, compile_expression
from kargo_actions.expressions.errors import EvalFailure
from kargo_actions.expressions.values import ExprObject
from kargo_actions.model.fields import parse_go_duration
from kargo_actions.promotion.step_api import NonEmpty, StepConfig, StepError, TerminalStepError
from kargo_actions.struct import struct

# Kargo's step schemas check durations with this unanchored pattern; the value is parsed when the step runs.
GO_DURATION_PATTERN = r"(?:\d+(ns|us|µs|ms|s|m|h))+"
MAX_REDIRECTS = 10  # as Go's http.Client


class HTTPHeader(StepConfig):
    """One request header."""

    name: NonEmpty = Field(description="The header's name.")
    value: NonEmpty = Field(description="The header's value.")


class HTTPQueryParam(StepConfig):
    """One query parameter (URL-encoded when sent)."""

    name: NonEmpty = Field(description="The parameter's name.")
    value: NonEmpty = Field(description="The parameter's value; it is URL-encoded as needed.")


def duration_seconds(text: str | None, default: float, field_name: str) -> float:
    """A Go duration from the config in seconds, `default` when unset; a bad one is a terminal error."""
    if text is None:
        return default
    try:
        return parse_go_duration(text).total_seconds()
    except ValueError as err:
        raise TerminalStepError(f"{field_name}: {err}") from err


def _tls_context() -> ssl.SSLContext:
    """The CA bundle of SSL_CERT_FILE (a company CA) or certifi's, as httpx would pick it."""
    return _load_tls_context(os.environ.get("SSL_CERT_FILE") or certifi.where())


@functools.cache
def _load_tls_context(cafile: str) -> ssl.SSLContext:
    # Loading a CA bundle takes ~30 ms: once per process and bundle, not once per request.
    return ssl.create_default_context(cafile=cafile)


def client(*, insecure: bool, timeout: float, proxy: str | None = None) -> httpx.Client:
    """A client that follows redirects as Go does (up to 10) and times out as the step asks."""
    return httpx.Client(
        verify=False if insecure else _tls_context(),
        timeout=timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        proxy=proxy,
        headers={"User-Agent": "kargo-actions"},
        trust_env=proxy is None,
    )


def request_headers(headers: Sequence[HTTPHeader]) -> list[tuple[str, str]]:
    return [(h.name, h.value) for h in headers]


def query_params(params: Sequence[HTTPQueryParam]) -> httpx.QueryParams:
    return httpx.QueryParams([(p.name, p.value) for p in params])


def transport_error(what: str, err: httpx.HTTPError, timeout: float) -> StepError | TerminalStepError:
    """A failed exchange as a step error that says what happened: retryable unless no retry can cure it."""
    if isinstance(err, httpx.TimeoutException):
        return StepError(f"{what}: no complete answer within the timeout of {timeout:g}s")
    if isinstance(err, httpx.TooManyRedirects):
        return StepError(f"{what}: more than {MAX_REDIRECTS} redirects")
    if isinstance(err, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return TerminalStepError(f"{what}: {err}")
    if "CERTIFICATE_VERIFY_FAILED" in str(err):  # no retry cures a certificate the client does not trust
        return TerminalStepError(
            f"{what}: the server's TLS certificate is not trusted ({err}); install its CA (SSL_CERT_FILE) "
            "or, for a self-signed test server, set insecureSkipTLSVerify: true"
        )
    return StepError(f"{what}: {type(err).__name__}: {err}")


def read_capped(chunks: Iterator[bytes], cap: int, what: str) -> bytes:
    """The whole body, refusing (terminally) one over `cap` bytes."""
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > cap:
            raise TerminalStepError(f"{what}: the response body is over the limit of {cap} bytes")
    return bytes(out)


def declared_too_big(response: httpx.Response, cap: int) -> bool:
    length = response.headers.get("content-length", "")
    return length.isdigit() and int(length) > cap


JSON_TYPES = frozenset({"application/json"})
YAML_TYPES = frozenset({"application/yaml", "text/yaml", "application/x-yaml"})


def parse_body(body: bytes, content_type: str) -> Any:
    """The body as Kargo's expressions see it: JSON or YAML parsed, text/plain as a string, anything else
    parsed as JSON when it is JSON, else an empty map; an empty body is an empty map."""
    media = content_type.split(";")[0].strip().lower()
    if not body:
        return {}
    text = body.decode("utf-8", errors="replace")
    if media == "text/plain":
        return text
    if media in YAML_TYPES:
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError

        try:
            return _plain(YAML(typ="safe", pure=True).load(text))
        except YAMLError as err:
            raise StepError(f"the response is not valid YAML: {err}") from err
    try:
        return json.loads(text)
    except ValueError as err:
        if media in JSON_TYPES:
            raise StepError(f"the response says it is JSON but is not: {err}") from err
        return {}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)  # dates and the like, as text


@struct(eq=False)
class ResponseValue(ExprObject):
    """`response` in the step's expressions: status, headers (name -> list of values), body, header(name)."""

    status: int
    headers: Mapping[str, list[str]] = field(default_factory=dict)
    body: Any = None
    type_name: ClassVar[str] = "response"
    field_names: ClassVar[tuple[str, ...]] = ("status", "headers", "body")
    method_names: ClassVar[tuple[str, ...]] = ("header",)

    @classmethod
    def of(cls, response: httpx.Response, body: Any) -> ResponseValue:
        headers: dict[str, list[str]] = {}
        for name, value in response.headers.multi_items():
            headers.setdefault(_canonical(name), []).append(value)
        return cls(status=response.status_code, headers=headers, body=body)

    def _field(self, name: str) -> Any:
        return {"status": self.status, "headers": dict(self.headers), "body": self.body}[name]

    def _call(self, name: str, args: Sequence[Any]) -> Any:
        if len(args) != 1 or not isinstance(args[0], str):
            raise EvalFailure("header() takes one header name")
        values = self.headers.get(_canonical(args[0]))
        return values[0] if values else ""

    def to_plain(self) -> Any:
        return {"status": self.status, "headers": dict(self.headers), "body": self.body}


def _canonical(name: str) -> str:
    """Go's canonical header key: content-type -> Content-Type."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def response_environment(response: ResponseValue) -> Environment:
    return Environment({"response": response})


def evaluate(field_name: str, text: str, env: Environment, *, plain: bool = False) -> Any:
    """An expression of the step's config over the response; a syntax error is terminal, an evaluation
    error retryable (the next response may be shaped as expected), as in Kargo."""
    try:
        compiled = compile_expression(text)
    except ExpressionError as err:
        raise TerminalStepError(
            f"{field_name}: cannot parse {text!r}: {err.message} (column {err.column})"
        ) from err
    try:
        return compiled.evaluate_plain(env) if plain else compiled.evaluate(env)
    except ExpressionError as err:
        raise StepError(f"{field_name}: {text!r}: {err.message} (column {err.column})") from err
