"""An Argo CD API server for tests: Applications in memory, on 127.0.0.1, in a thread.

It answers the operations a promotion uses (list, get, patch, sync, and the diffs a promotion PR shows:
managed-resources, server-side-diff) as Argo CD does: bearer tokens,
grpc-gateway error bodies (runtimeError), namespaces (appNamespace), label selectors. A sync starts an
operation that each later read of the app moves on: Running for `SyncScript.polls` reads, then the scripted
outcome (Succeeded and Healthy after `health_polls` more reads, or a failed operation, a Degraded app, an app
that stays OutOfSync or Progressing, an operation that never ends). Tests can also script answers by status
(401/403/404/5xx). Every exchange is checked against swagger.json (tests/support/argocd_contract.py); what
does not fit is in `problems`, which the `serve_argocd` context manager asserts empty on exit.
"""

from __future__ import annotations

import copy
import enum
import json
import re
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.argocd_contract import ArgoCDContract, Exchange, contract

DEFAULT_NAMESPACE = "argocd"
TOKEN = "argocd-test-token"
# grpc codes in Argo CD's error bodies, by HTTP status (grpc-gateway's mapping)
_GRPC_CODE = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 502: 14, 503: 14, 504: 4}


class Outcome(enum.StrEnum):
    """How a sync ends."""

    SUCCEED = "succeed"  # Succeeded, Synced, then Healthy
    FAIL = "fail"  # the operation fails
    DEGRADE = "degrade"  # Succeeded and Synced, then Degraded
    OUT_OF_SYNC = "out-of-sync"  # Succeeded, but the app stays OutOfSync
    PROGRESS = "progress"  # Succeeded and Synced, health stays Progressing
    HANG = "hang"  # the operation stays Running


@dataclass
class SyncScript:
    outcome: Outcome = Outcome.SUCCEED
    polls: int = 2  # reads of the app while the operation runs
    health_polls: int = 1  # reads after it succeeded before the app is Healthy
    automated: bool = False  # an automated sync policy: a change of the spec starts a sync at once


@dataclass
class ScriptedAnswer:
    """Answer `status` to the next `times` requests whose method and path match."""

    status: int
    times: int = 1
    method: str = ""
    path_contains: str = ""
    message: str = ""


@dataclass
class _App:
    data: dict[str, Any]
    script: SyncScript = field(default_factory=SyncScript)
    # the objects the app manages as they run in the cluster, and as its target in git has them now
    live: list[dict[str, Any]] = field(default_factory=list)
    target: list[dict[str, Any]] | None = None  # None: the same as live (Synced)
    ticks: int = 0
    healthy_after: int | None = None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def application(
    name: str,
    *,
    repo_url: str = "https://github.com/example/repo.git",
    target_revision: str = "main",
    namespace: str = DEFAULT_NAMESPACE,
    sources: list[dict[str, Any]] | None = None,
    authorized_stage: str | None = None,
    labels: dict[str, str] | None = None,
    project: str = "default",
    revision: str = "0" * 40,
) -> dict[str, Any]:
    """An Application as Argo CD stores it: one source (or `sources`), Synced and Healthy at `revision`."""
    annotations = {"kargo.akuity.io/authorized-stage": authorized_stage} if authorized_stage else {}
    spec: dict[str, Any] = {
        "project": project,
        "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
    }
    sync: dict[str, Any] = {"status": "Synced"}
    if sources is not None:
        spec["sources"] = sources
        sync["revisions"] = [revision for _ in sources]
    else:
        spec["source"] = {"repoURL": repo_url, "path": ".", "targetRevision": target_revision}
        sync["revision"] = revision
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels or {},
            "annotations": annotations,
            "resourceVersion": "1",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": spec,
        "status": {"sync": sync, "health": {"status": "Healthy"}, "reconciledAt": "2026-01-01T00:00:00Z"},
    }


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


_REQUIREMENT = re.compile(
    r"^\s*(?:(?P<not>!)\s*(?P<absent>[^\s=!,()]+)|(?P<key>[^\s=!,()]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[^\s,()]*)|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?)\s*$"
)


def label_selector_matches(selector: str, labels: dict[str, str]) -> bool:
    """Kubernetes' label selector text (k=v, k!=v, k in (a,b), k notin (a,b), k, !k), requirements ANDed."""
    parts = re.split(r",(?![^()]*\))", selector) if selector.strip() else []
    for part in parts:
        m = _REQUIREMENT.match(part)
        if m is None:
            raise ValueError(f"unable to parse requirement: {part!r}")
        if m["absent"]:
            ok = m["absent"] not in labels
        elif m["op"]:
            equal = labels.get(m["key"]) == m["value"]
            ok = equal if m["op"] in ("=", "==") else not equal
        elif m["set"]:
            values = {v.strip() for v in m["values"].split(",") if v.strip()}
            inside = m["key"] in labels and labels[m["key"]] in values
            ok = inside if m["set"] == "in" else not inside
        else:
            ok = m["key"] in labels
        if not ok:
            return False
    return True


class ArgoCDServer(ThreadingHTTPServer):
    """The server; `url` is its base URL (plain http) and `apps` its Applications by (namespace, name)."""

    daemon_threads = True

    def __init__(self, checker: ArgoCDContract | None, token: str = TOKEN) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.checker = checker
        self.token = token
        self.username = "kargo-actions"
        self.apps: dict[tuple[str, str], _App] = {}
        self.scripted: list[ScriptedAnswer] = []
        self.forbidden: set[tuple[str, str]] = set()  # (action, app name) the token may not do
        self.exchanges: list[Exchange] = []
        self.problems: list[str] = []
        # resolves a source's targetRevision to a commit when a sync names no revision
        self.resolve: Callable[[str, str], str] = lambda _repo, rev: rev
        self.lock = threading.Lock()
        self.scheme = "http"
        self.ca_file = ""  # with TLS: the self-signed certificate, to trust through SSL_CERT_FILE

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def env(self) -> dict[str, str]:
        """The environment that points kargo-actions at this server."""
        return {"ARGOCD_SERVER": self.url, "ARGOCD_AUTH_TOKEN": self.token}

    def add(self, app: dict[str, Any], script: SyncScript | None = None) -> None:
        meta = app["metadata"]
        with self.lock:
            self.apps[(meta["namespace"], meta["name"])] = _App(copy.deepcopy(app), script or SyncScript())

    def app(self, name: str, namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.apps[(namespace, name)].data)

    def set_resources(
        self,
        name: str,
        live: list[dict[str, Any]],
        target: list[dict[str, Any]] | None = None,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        """The app's managed objects in the cluster (`live`) and in its current target (`target`)."""
        with self.lock:
            app = self.apps[(namespace, name)]
            app.live, app.target = copy.deepcopy(live), copy.deepcopy(target)

    def script(self, answer: ScriptedAnswer) -> None:
        with self.lock:
            self.scripted.append(answer)

    def calls(self, method: str = "", path_contains: str = "") -> list[Exchange]:
        with self.lock:
            return [
                e for e in self.exchanges if (not method or e.method == method) and path_contains in e.path
            ]

    # --- operations, called under the lock ---

    def advance(self, app: _App) -> None:
        """One read of the app: a running operation moves on by one poll."""
        status = app.data["status"]
        state = status.get("operationState")
        if state and state["phase"] == "Running":
            app.ticks += 1
            if app.ticks >= app.script.polls and app.script.outcome is not Outcome.HANG:
                self._finish(app)
        elif app.healthy_after is not None:
            app.healthy_after -= 1
            if app.healthy_after <= 0:
                status["health"] = {"status": "Healthy"}
                app.healthy_after = None

    def _finish(self, app: _App) -> None:
        data, outcome = app.data, app.script.outcome
        status, state = data["status"], data["status"]["operationState"]
        data.pop("operation", None)
        state["finishedAt"] = _now()
        revisions = state["operation"]["sync"]
        multi = "sources" in data["spec"]
        if outcome is Outcome.FAIL:
            state["phase"] = "Failed"
            state["message"] = (
                'one or more objects failed to apply, reason: Deployment "guestbook" is invalid'
            )
            status["sync"]["status"] = "OutOfSync"
            status["conditions"] = [
                {"type": "SyncError", "message": "Failed sync attempt: one or more objects failed to apply"}
            ]
            return
        state["phase"] = "Succeeded"
        state["message"] = "successfully synced (all tasks run)"
        state["syncResult"] = (
            {"revisions": revisions["revisions"]} if multi else {"revision": revisions["revision"]}
        )
        if outcome is Outcome.OUT_OF_SYNC:
            status["sync"]["status"] = "OutOfSync"
            status["health"] = {"status": "Healthy"}
            return
        status["sync"] = {"status": "Synced", **state["syncResult"]}
        status["conditions"] = []
        if outcome is Outcome.DEGRADE:
            status["health"] = {
                "status": "Degraded",
                "message": 'Deployment "guestbook" exceeded its progress deadline',
            }
            return
        status["health"] = {"status": "Progressing", "message": "Waiting for rollout to finish"}
        if outcome is Outcome.SUCCEED:
            app.healthy_after = app.script.health_polls
            if app.healthy_after <= 0:
                status["health"] = {"status": "Healthy"}
                app.healthy_after = None

    def sync(self, app: _App, body: dict[str, Any], *, automated: bool = False) -> tuple[int, Any]:
        data = app.data
        state = data["status"].get("operationState")
        if data.get("operation") or (state and state["phase"] == "Running"):
            return 400, "another operation is already in progress"
        sources = data["spec"].get("sources") or [data["spec"]["source"]]
        multi = "sources" in data["spec"]
        if multi:
            revisions = [self.resolve(s["repoURL"], s.get("targetRevision", "HEAD")) for s in sources]
            for position, revision in zip(
                body.get("sourcePositions", []), body.get("revisions", []), strict=True
            ):
                index = int(position) - 1
                if not 0 <= index < len(sources):
                    return 400, f"source position {position} is out of range"
                revisions[index] = revision
            sync_op: dict[str, Any] = {"revisions": revisions}
        else:
            source = sources[0]
            sync_op = {
                "revision": body.get("revision")
                or self.resolve(source["repoURL"], source.get("targetRevision", "HEAD"))
            }
        sync_op["prune"] = bool(body.get("prune"))
        operation = {
            "sync": sync_op,
            "initiatedBy": {"automated": True} if automated else {"username": self.username},
            "info": body.get("infos", []),
        }
        data["operation"] = operation
        data["status"]["operationState"] = {
            "operation": copy.deepcopy(operation),
            "phase": "Running",
            "message": "waiting for completion of hook and 1 more resources",
            "startedAt": _now(),
        }
        app.ticks = 0
        app.healthy_after = None
        _bump(data)
        return 200, copy.deepcopy(data)


def _bump(data: dict[str, Any]) -> None:
    meta = data["metadata"]
    meta["resourceVersion"] = str(int(meta.get("resourceVersion", "0")) + 1)


class _Handler(BaseHTTPRequestHandler):
    server: ArgoCDServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload = self._answer(parts.path, parts.query, body)
        raw = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(raw))}
        # recorded before the answer leaves, so a test that has its answer sees the exchange
        exchange = Exchange(self.command, parts.path, parts.query, body, status, raw, headers)
        server = self.server
        problems = server.checker.problems(exchange) if server.checker is not None else []
        with server.lock:
            server.exchanges.append(exchange)
            server.problems += problems
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def _answer(self, path: str, query: str, body: bytes) -> tuple[int, Any]:
        server = self.server
        with server.lock:
            for answer in server.scripted:
                if (
                    answer.times > 0
                    and self.command.startswith(answer.method)
                    and answer.path_contains in path
                ):
                    answer.times -= 1
                    return _error(answer.status, answer.message or f"scripted {answer.status}")
            if self.headers.get("Authorization") != f"Bearer {server.token}":
                return _error(401, "invalid session: token is invalid")
            try:
                return self._route(path, parse_qs(query), body)
            except (ValueError, KeyError, TypeError) as err:
                return _error(400, f"bad request: {err}")

    def _route(self, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        server = self.server
        asked = query.get("appNamespace", [""])[0]
        namespace = asked or DEFAULT_NAMESPACE
        if path == "/api/v1/applications" and self.command == "GET":
            # no appNamespace: every namespace Argo CD manages apps in
            selector = query.get("selector", [""])[0]
            items = []
            for (ns, _name), app in sorted(server.apps.items()):
                labels = app.data["metadata"].get("labels", {})
                if (not asked or ns == asked) and label_selector_matches(selector, labels):
                    if ("get", app.data["metadata"]["name"]) in server.forbidden:
                        continue  # Argo CD leaves out what the token may not see
                    server.advance(app)
                    items.append(copy.deepcopy(app.data))
            return 200, {"metadata": {"resourceVersion": "1"}, "items": items}
        diff = re.fullmatch(r"/api/v1/applications/([^/]+)/(managed-resources|server-side-diff)", path)
        if diff is not None and self.command == "GET":
            if ("get", unquote(diff[1])) in server.forbidden:
                return _error(403, f"permission denied: applications, get, default/{diff[1]}")
            found = server.apps.get((namespace, unquote(diff[1])))
            if found is None:
                return _error(404, f'applications.argoproj.io "{diff[1]}" not found')
            if diff[2] == "managed-resources":
                return 200, {"items": resource_diffs(found.live, found.target)}
            wanted = [json.loads(m) for m in query.get("targetManifests", [])]
            return 200, {"items": resource_diffs(found.live, wanted, only_target=True), "modified": True}
        m = re.fullmatch(r"/api/v1/applications/([^/]+)(/sync)?", path)
        if m is None:
            return _error(404, f"no route for {self.command} {path}")
        name, sync = unquote(m[1]), bool(m[2])
        request: dict[str, Any] = json.loads(body) if body else {}
        if request.get("appNamespace"):
            namespace = request["appNamespace"]
        action = {"GET": "get", "PATCH": "update", "POST": "sync"}.get(self.command, "")
        if (sync and self.command != "POST") or (not sync and self.command not in ("GET", "PATCH")):
            return _error(404, f"no route for {self.command} {path}")
        if (action, name) in server.forbidden:
            return _error(
                403,
                f"permission denied: applications, {action}, default/{name}, sub: {server.username}",
            )
        app = server.apps.get((namespace, name))
        if app is None:
            return _error(404, f'applications.argoproj.io "{name}" not found')
        if self.command == "GET":
            server.advance(app)
            return 200, copy.deepcopy(app.data)
        if self.command == "PATCH":
            if request.get("patchType") != "merge":
                return _error(400, f"patch type {request.get('patchType')!r} is not supported here")
            patched = merge_patch(app.data, json.loads(request["patch"]))
            changed = patched["spec"] != app.data["spec"]
            if changed:
                patched["status"]["sync"]["status"] = "OutOfSync"
            app.data = patched
            _bump(app.data)
            answer = copy.deepcopy(app.data)
            if changed and app.script.automated:
                server.sync(app, {}, automated=True)  # the controller notices the change right away
            return 200, answer
        status, result = server.sync(app, request)
        return (status, result) if status == 200 else _error(status, str(result))


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj.get("kind", ""), obj.get("metadata", {}).get("name", "")


def resource_diffs(
    live: list[dict[str, Any]], target: list[dict[str, Any]] | None, *, only_target: bool = False
) -> list[dict[str, Any]]:
    """Argo CD's ResourceDiff items: each object with its live and target states as JSON strings (null where
    one side has none); `only_target`: only the objects of `target` (server-side-diff's answer)."""
    live_by = {_key(o): o for o in live}
    target_by = {_key(o): o for o in (live if target is None else target)}
    keys = list(target_by) if only_target else list(dict.fromkeys([*live_by, *target_by]))
    items = []
    for key in keys:
        now, want = live_by.get(key), target_by.get(key)
        obj = want or now or {}
        group = obj.get("apiVersion", "v1").rpartition("/")[0]
        items.append(
            {
                "group": group,
                "kind": key[0],
                "name": key[1],
                "namespace": obj.get("metadata", {}).get("namespace", ""),
                "liveState": json.dumps(now) if now else "null",
                "normalizedLiveState": json.dumps(now) if now else "null",
                "targetState": json.dumps(want) if want else "null",
                "predictedLiveState": json.dumps(want) if want else "null",
                "modified": now != want,
            }
        )
    return items


def _error(status: int, message: str) -> tuple[int, Any]:
    return status, {"error": message, "code": _GRPC_CODE.get(status, 2), "message": message}


@contextmanager
def serve_argocd(*, check: bool = True, tls_dir: Path | None = None) -> Iterator[ArgoCDServer]:
    """A running server, checked against swagger.json; on exit, stopped, and asserted to have seen only
    exchanges that keep to the contract. With `tls_dir`: https with a self-signed certificate for
    127.0.0.1 (`server.ca_file`), as a real Argo CD server has by default."""
    server = ArgoCDServer(contract() if check else None)
    if tls_dir is not None:
        from tests.discovery.registry_server import self_signed

        cert, key, _ = self_signed(tls_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.scheme, server.ca_file = "https", str(cert)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert server.problems == [], "\n".join(server.problems)
