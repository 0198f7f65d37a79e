"""The Argo CD REST client: where the server is and how to reach it (from the environment), the requests a
promotion needs (get, list, patch, sync), retries of 5xx with backoff, and errors that say what to fix."""

from __future__ import annotations

import functools
import json
import os
import random
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from typing import Any
from urllib.parse import quote, urlsplit

import certifi
import httpx

from kargo_actions.argocd.application import Application
from kargo_actions.argocd.errors import (
    ArgoCDAuthError,
    ArgoCDBusyError,
    ArgoCDConfigError,
    ArgoCDError,
    ArgoCDNotFoundError,
    ArgoCDUnavailableError,
)
from kargo_actions.errors import Problem
from kargo_actions.github.output import mask_secret
from kargo_actions.struct import struct

SERVER_ENV = "ARGOCD_SERVER"
TOKEN_ENV = "ARGOCD_AUTH_TOKEN"  # noqa: S105 (the variable's name, not a token)
INSECURE_ENV = "ARGOCD_INSECURE"
PLAINTEXT_ENV = "ARGOCD_PLAINTEXT"
# The argocd CLI's own variable for its global flags; --insecure and --plaintext are honoured from it too.
OPTS_ENV = "ARGOCD_OPTS"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
# Argo CD's API answers 429 under load and 502/503/504 behind ingresses while it restarts.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@struct
class ClientOptions:
    """How long one request may take and how 5xx answers and dropped connections are retried."""

    timeout: float = 30.0
    attempts: int = 4  # the first try and 3 retries
    backoff: float = 0.5  # before the first retry; doubles each time, with jitter
    backoff_max: float = 8.0


@struct
class Connection:
    """Where Argo CD's API is and the token to show it; built from the environment by `from_env`."""

    base_url: str
    token: str = field(repr=False)
    insecure: bool = False
    ca_file: str | None = None  # SSL_CERT_FILE: a CA bundle to trust instead of certifi's

    @property
    def server(self) -> str:
        return self.base_url

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Connection:
        """ARGOCD_SERVER (host[:port] or a URL; https unless http:// or ARGOCD_PLAINTEXT), ARGOCD_AUTH_TOKEN,
        ARGOCD_INSECURE (accept any TLS certificate); --insecure / --plaintext in ARGOCD_OPTS count too.

        The token is masked in GitHub Actions logs (::add-mask::) as soon as it is read.
        """
        problems: list[Problem] = []
        server = env.get(SERVER_ENV, "").strip()
        token = env.get(TOKEN_ENV, "").strip()
        opts = env.get(OPTS_ENV, "").split()
        insecure = _flag(env, INSECURE_ENV, problems) or "--insecure" in opts
        plaintext = _flag(env, PLAINTEXT_ENV, problems) or "--plaintext" in opts
        hint = (
            "map it from a GitHub secret in the workflow: env: {NAME: ${{ secrets.NAME }}} (docs/argocd.md)"
        )
        if not server:
            problems.append(
                Problem(path=SERVER_ENV, message="is not set: the Argo CD API server is unknown", hint=hint)
            )
        if not token:
            problems.append(Problem(path=TOKEN_ENV, message="is not set: Argo CD needs a token", hint=hint))
        base_url = ""
        if server:
            try:
                base_url = _base_url(server, plaintext=plaintext)
            except ValueError as err:
                problems.append(Problem(path=SERVER_ENV, message=str(err)))
        if problems:
            raise ArgoCDConfigError(problems)
        mask_secret(token, env)
        ca_file = env.get("SSL_CERT_FILE", "").strip() or None
        return cls(base_url=base_url, token=token, insecure=insecure, ca_file=ca_file)


def _flag(env: Mapping[str, str], name: str, problems: list[Problem]) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw not in _FALSE:
        problems.append(Problem(path=name, message=f"{raw!r} is not a boolean", hint="use true or false"))
    return False


def _base_url(server: str, *, plaintext: bool) -> str:
    if "://" not in server:
        server = ("http://" if plaintext else "https://") + server
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{server!r} is not an Argo CD server: give host[:port] or an http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{server!r}: a server address has no query or fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


@struct
class AppRef:
    """An Application by name, in a namespace (None: the namespace Argo CD's API server runs in)."""

    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def query(self) -> dict[str, str]:
        return {"appNamespace": self.namespace} if self.namespace else {}


Sleep = Callable[[float], None]


class ArgoCDClient:
    """Argo CD's applications API over one HTTP connection pool; use as a context manager."""

    def __init__(
        self,
        connection: Connection,
        *,
        options: ClientOptions | None = None,
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.connection = connection
        self.options = options or ClientOptions()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=connection.base_url,
            headers={
                "Authorization": f"Bearer {connection.token}",
                "Accept": "application/json",
                "User-Agent": "kargo-actions",
            },
            timeout=self.options.timeout,
            verify=False if connection.insecure else _tls_context(connection.ca_file or certifi.where()),
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        options: ClientOptions | None = None,
        sleep: Sleep = time.sleep,
    ) -> ArgoCDClient:
        return cls(Connection.from_env(os.environ if env is None else env), options=options, sleep=sleep)

    def __enter__(self) -> ArgoCDClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get_application(self, app: AppRef) -> Application:
        """GET /api/v1/applications/{name}: the app with its status."""
        data = self._call("GET", _app_path(app), app=app, action="get", params=app.query())
        return _application(data, app.name)

    def list_applications(self, selector: str, namespace: str | None = None) -> list[Application]:
        """GET /api/v1/applications?selector=...: the apps whose labels match a Kubernetes label selector."""
        params = {"selector": selector, **({"appNamespace": namespace} if namespace else {})}
        data = self._call("GET", "/api/v1/applications", app=None, action="get", params=params)
        items = (data.get("items") or []) if isinstance(data, dict) else []
        return [_application(item, f"selector {selector}") for item in items]

    def patch_application(self, app: AppRef, patch: Mapping[str, Any]) -> Application:
        """PATCH /api/v1/applications/{name} with a JSON merge patch."""
        body: dict[str, Any] = {
            "name": app.name,
            "patch": json.dumps(patch, separators=(",", ":")),
            "patchType": "merge",
        }
        if app.namespace:
            body["appNamespace"] = app.namespace
        return _application(
            self._call("PATCH", _app_path(app), app=app, action="update", body=body), app.name
        )

    def sync_application(
        self,
        app: AppRef,
        *,
        revision: str | None = None,
        revisions: Sequence[str] = (),
        source_positions: Sequence[int] = (),
        infos: Mapping[str, str] | None = None,
        prune: bool = False,
    ) -> Application:
        """POST /api/v1/applications/{name}/sync: start a sync (to `revision`, or per source to `revisions`
        at the 1-based `source_positions` of a multi-source app); the app comes back with its operation."""
        body: dict[str, Any] = {"name": app.name, "prune": prune}
        if app.namespace:
            body["appNamespace"] = app.namespace
        if revision:
            body["revision"] = revision
        if revisions:
            body["revisions"] = list(revisions)
            # int64 is a string on Argo CD's JSON wire (protobuf's JSON mapping)
            body["sourcePositions"] = [str(p) for p in source_positions]
        if infos:
            body["infos"] = [{"name": k, "value": v} for k, v in infos.items()]
        return _application(
            self._call("POST", _app_path(app) + "/sync", app=app, action="sync", body=body), app.name
        )

    def managed_resources(self, app: AppRef) -> list[dict[str, Any]]:
        """GET /api/v1/applications/{name}/managed-resources: each resource's live and target state (the
        app's current target: its revision in git), as Argo CD's ResourceDiff items."""
        data = self._call(
            "GET", _app_path(app) + "/managed-resources", app=app, action="get", params=app.query()
        )
        items = data.get("items") if isinstance(data, dict) else None
        return [i for i in items or [] if isinstance(i, dict)]

    def server_side_diff(self, app: AppRef, target_manifests: Sequence[str]) -> list[dict[str, Any]]:
        """GET /api/v1/applications/{name}/server-side-diff: live against the given target manifests (JSON or
        YAML texts, e.g. a pull request's rendered files), as Argo CD's ResourceDiff items."""
        params = httpx.QueryParams(
            [*app.query().items(), *(("targetManifests", m) for m in target_manifests)]
        )
        data = self._call("GET", _app_path(app) + "/server-side-diff", app=app, action="get", params=params)
        items = data.get("items") if isinstance(data, dict) else None
        return [i for i in items or [] if isinstance(i, dict)]

    def _call(
        self,
        method: str,
        path: str,
        *,
        app: AppRef | None,
        action: str,
        params: Mapping[str, str] | httpx.QueryParams | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        what = f"{method} {self.connection.base_url}{path}"
        delay = self.options.backoff
        for attempt in range(1, self.options.attempts + 1):
            last = attempt == self.options.attempts
            try:
                response = self._http.request(method, path, params=params, json=body)
            except httpx.TimeoutException as err:
                if last:
                    raise ArgoCDUnavailableError(
                        f"{what}: Argo CD gave no answer within {self.options.timeout:g}s "
                        f"({self.options.attempts} tries)"
                    ) from err
            except httpx.HTTPError as err:
                if "CERTIFICATE_VERIFY_FAILED" in str(err):
                    raise ArgoCDError(
                        f"{what}: Argo CD's TLS certificate is not trusted ({err}); install its CA "
                        f"(SSL_CERT_FILE) or, for a self-signed certificate, set {INSECURE_ENV}=true"
                    ) from err
                if last:
                    raise ArgoCDUnavailableError(
                        f"{what}: cannot reach Argo CD ({type(err).__name__}: {err}) after {attempt} tries; "
                        f"check {SERVER_ENV}"
                    ) from err
            else:
                if response.status_code < 300:
                    return _json(response, what)
                if response.status_code not in _RETRY_STATUSES or last:
                    raise _status_error(response, what, app, action, self.connection, attempt)
            # full jitter keeps parallel promotions from retrying in step
            self._sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 (jitter, not a secret)
            delay = min(delay * 2, self.options.backoff_max)
        raise AssertionError("unreachable")  # pragma: no cover


@functools.cache
def _tls_context(cafile: str) -> ssl.SSLContext:
    # loading a CA bundle takes ~30 ms: once per process
    return ssl.create_default_context(cafile=cafile)


def _app_path(app: AppRef) -> str:
    return f"/api/v1/applications/{quote(app.name, safe='')}"


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError as err:
        raise ArgoCDError(
            f"{what}: the answer is not JSON ({response.headers.get('content-type', 'no content type')}); "
            f"is {SERVER_ENV} the Argo CD API server (not its UI behind a login page)?"
        ) from err


def _server_message(response: httpx.Response) -> str:
    """The `message` of Argo CD's error body (runtimeError), else the start of the body."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if isinstance(data, dict):
        return str(data.get("message") or data.get("error") or "").strip()
    return ""


def _status_error(
    response: httpx.Response, what: str, app: AppRef | None, action: str, conn: Connection, attempts: int
) -> ArgoCDError | ArgoCDUnavailableError:
    status = response.status_code
    said = _server_message(response)
    detail = f" (Argo CD: {said})" if said else ""
    subject = f"application {app}" if app is not None else "applications"
    if status == 401:
        return ArgoCDAuthError(
            f"{what}: 401 Unauthorized{detail}: Argo CD at {conn.server} did not accept {TOKEN_ENV} (missing, "
            f"expired or revoked); create one with `argocd account generate-token --account <account>` and "
            f"store it as the secret mapped to {TOKEN_ENV}"
        )
    if status == 403:
        project = "<project>"
        return ArgoCDAuthError(
            f"{what}: 403 Forbidden{detail}: the account of {TOKEN_ENV} may not {action} {subject}; grant it "
            f"`p, role:<role>, applications, {action}, {project}/{app.name if app else '*'}, allow` in "
            f"argocd-rbac-cm (Argo CD also answers 403 for an application that does not exist)"
        )
    if status == 404:
        where = f"namespace {app.namespace}" if app and app.namespace else "the API server's namespace"
        return ArgoCDNotFoundError(
            f"{what}: 404 Not Found{detail}: Argo CD at {conn.server} has no {subject} in {where}; check the "
            f"name and namespace in the step's config"
        )
    if status in _RETRY_STATUSES:
        return ArgoCDUnavailableError(f"{what}: {status}{detail} after {attempts} tries")
    if "another operation is already in progress" in said:
        # started between our look at the app and the sync: over once that operation ends
        return ArgoCDBusyError(f"{what}: {status}{detail}: {subject} is busy; try again when it is done")
    return ArgoCDError(f"{what}: {status}{detail}")


def _application(data: Any, which: str) -> Application:
    """An Application from Argo CD's answer; an answer that is not one is Argo CD's failure, said plainly."""
    from pydantic import ValidationError

    from kargo_actions.model.messages import one_line

    try:
        return Application.model_validate(data)
    except ValidationError as err:
        raise ArgoCDError(
            f"Argo CD answered with something that is not an Application for {which}: {one_line(err, Application)}"
        ) from None
