"""http: sends one HTTP request and decides success, failure or "poll again" from expressions over the response."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import httpx
from pydantic import Field, StrictBool, model_validator

from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepFailed,
    StepResult,
    StepStatus,
    TerminalStepError,
    WaitingOn,
)
from kargo_actions.promotion.steps.support.httputil import (
    GO_DURATION_PATTERN,
    HTTPHeader,
    HTTPQueryParam,
    ResponseValue,
    client,
    declared_too_big,
    duration_seconds,
    evaluate,
    parse_body,
    query_params,
    read_capped,
    request_headers,
    response_environment,
    transport_error,
)

DEFAULT_TIMEOUT = 10.0  # seconds, as Kargo
DEFAULT_POLL_INTERVAL = 30.0
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
MAX_RESPONSE_ENV = "KARGO_ACTIONS_HTTP_MAX_RESPONSE_BYTES"


class HTTPOutput(StepConfig):
    """One output taken from a successful response."""

    name: NonEmpty = Field(description="The output's name (`outputs.<alias>.<name>`).")
    from_expression: NonEmpty = Field(
        description="An expression over `response` (no `${{ }}`) whose value becomes the output."
    )


class HTTPConfig(StepConfig):
    """Kargo's HTTPConfig."""

    method: Annotated[str, Field(pattern=r"^(DELETE|GET|HEAD|PATCH|POST|PUT)$")] | None = Field(
        default=None, description="The request method: GET (the default), POST, PUT, PATCH, DELETE or HEAD."
    )
    url: NonEmpty = Field(description="Where to send the request.")
    headers: list[HTTPHeader] = Field(default_factory=list, description="Request headers, in order.")
    query_params: list[HTTPQueryParam] = Field(
        default_factory=list, description="Query parameters added to the URL."
    )
    body: str | None = Field(default=None, description="The request body, as text.")
    body_from_file: NonEmpty | None = Field(
        default=None,
        description="A file in the work dir whose content is the request body; not together with `body`.",
    )
    insecure_skip_tls_verify: StrictBool = Field(
        default=False,
        alias="insecureSkipTLSVerify",
        description="Accept any TLS certificate (not recommended).",
    )
    proxy: Annotated[str, Field(pattern=r"^https?://.*$")] | None = Field(
        default=None,
        description="An http(s) proxy URL for this request; unset, the HTTP(S)_PROXY variables apply.",
    )
    timeout: Annotated[str, Field(pattern=GO_DURATION_PATTERN)] | None = Field(
        default=None, description="How long one request may take (Go duration); default 10s."
    )
    poll_interval: Annotated[str, Field(pattern=GO_DURATION_PATTERN)] | None = Field(
        default=None,
        description="How long to wait before asking again while neither expression decides (Go duration); "
        "default 30s.",
    )
    response_content_type: (
        Annotated[str, Field(pattern=r"^(application/json|application/yaml|text/plain)$")] | None
    ) = Field(
        default=None,
        description="Parse the response as this type (application/json, application/yaml or text/plain) "
        "instead of its Content-Type.",
    )
    outputs: list[HTTPOutput] = Field(
        default_factory=list, description="Outputs taken from the response once it counts as a success."
    )
    success_expression: str | None = Field(
        default=None, description="An expression over `response` that is true when the request succeeded."
    )
    failure_expression: str | None = Field(
        default=None,
        description="An expression over `response` that is true when the request failed for good; "
        "it wins over successExpression.",
    )
    error_expression: str | None = Field(
        default=None,
        description="An expression over `response` giving the message to report when failureExpression "
        "holds.",
    )

    @model_validator(mode="after")
    def _one_body(self) -> HTTPConfig:
        if self.body and self.body_from_file:
            raise ValueError("body and bodyFromFile are mutually exclusive: give one of them")
        return self


class HTTP:
    """Send the request; Kargo's rules decide the status:

    failureExpression true -> Failed (terminal, message from errorExpression when it gives a string);
    successExpression true -> Succeeded with outputs; neither expression set -> 2xx Succeeded, else Errored
    (retried per the step's retry policy); otherwise Running, asked again after pollInterval.
    """

    name: ClassVar[str] = "http"
    config_model: ClassVar[type[StepConfig]] = HTTPConfig
    may_wait: ClassVar[bool] = True  # reports Running while it waits: a promotion can stop here
    work_dir_free: ClassVar[bool] = True
    work_dir_fields: ClassVar[tuple[str, ...]] = ("bodyFromFile",)
    outputs: ClassVar[dict[str, str]] = {
        "<name>": "one per `outputs` entry: the value of its fromExpression over the response"
    }

    def probe_safe(self, config: HTTPConfig) -> bool:
        """A GET or HEAD only reads: reconcile may look before it claims the promotion."""
        return (config.method or "GET").upper() in ("GET", "HEAD")

    def run(self, ctx: StepContext, config: HTTPConfig) -> StepResult:
        timeout = duration_seconds(config.timeout, DEFAULT_TIMEOUT, "timeout")
        poll = duration_seconds(config.poll_interval, DEFAULT_POLL_INTERVAL, "pollInterval")
        method = config.method or "GET"
        body = self._body(ctx, config)
        cap = _cap(ctx)
        what = f"{method} {config.url}"
        ctx.check_abort()
        try:
            with (
                client(insecure=config.insecure_skip_tls_verify, timeout=timeout, proxy=config.proxy) as http,
                http.stream(
                    method,
                    config.url,
                    params=query_params(config.query_params),
                    headers=request_headers(config.headers),
                    content=body,
                ) as response,
            ):
                if declared_too_big(response, cap):
                    raise TerminalStepError(f"{what}: the response body is over the limit of {cap} bytes")
                raw = read_capped(response.iter_bytes(), cap, what)
        except httpx.HTTPError as err:
            raise transport_error(what, err, timeout) from err
        media = config.response_content_type or response.headers.get("content-type", "")
        value = ResponseValue.of(response, parse_body(raw, media))
        return self._decide(config, value, poll)

    def _body(self, ctx: StepContext, config: HTTPConfig) -> bytes | None:
        if config.body_from_file:
            path = ctx.path(config.body_from_file, field_name="bodyFromFile")
            try:
                return path.read_bytes()
            except FileNotFoundError:
                raise TerminalStepError(
                    f"bodyFromFile: {config.body_from_file!r} does not exist in the work dir"
                ) from None
            except OSError as err:
                raise StepError(
                    f"bodyFromFile: cannot read {config.body_from_file!r}: {err.strerror}"
                ) from err
        return config.body.encode() if config.body else None

    def _decide(self, config: HTTPConfig, value: ResponseValue, poll: float) -> StepResult:
        env = response_environment(value)
        success = _criterion("successExpression", config.success_expression, env)
        failure = _criterion("failureExpression", config.failure_expression, env)
        if failure:
            message = f"HTTP ({value.status}) response met failure criteria"
            if config.error_expression:
                detail = _error_message(config.error_expression, env)
                if detail:
                    message += f": {detail!r}"
            raise StepFailed(message)
        if success or (success is None and failure is None and 200 <= value.status < 300):
            outputs = {
                o.name: evaluate(f"outputs[{o.name}]", o.from_expression, env, plain=True)
                for o in config.outputs
            }
            return StepResult(message=f"HTTP ({value.status})", outputs=outputs)
        if success is None and failure is None:
            raise StepError(f"HTTP ({value.status}) response is not a success (2xx)")
        return StepResult(
            status=StepStatus.RUNNING,
            message=f"HTTP ({value.status}): neither success nor failure criteria met yet; asking again",
            retry_after=poll,
            waiting=WaitingOn(
                kind="http",
                description=f"{config.method or 'GET'} {config.url} to meet its success criteria",
                url=config.url,
            ),
        )


def _criterion(field_name: str, text: str | None, env: Any) -> bool | None:
    if not text:
        return None
    result = evaluate(field_name, text, env)
    if not isinstance(result, bool):
        raise StepError(f"{field_name} {text!r} must give true or false, got {type(result).__name__}")
    return result


def _error_message(text: str, env: Any) -> str:
    """errorExpression's string, or "" when it fails to evaluate or gives no string (Kargo's fallback)."""
    try:
        result = evaluate("errorExpression", text, env)
    except TerminalStepError:
        raise
    except StepError:
        return ""
    return result if isinstance(result, str) else ""


def _cap(ctx: StepContext) -> int:
    raw = ctx.env.get(MAX_RESPONSE_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else MAX_RESPONSE_BYTES
