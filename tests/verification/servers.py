"""Test servers on 127.0.0.1: a scripted web metric endpoint, an OAuth2 token endpoint, an authenticating proxy."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode

import httpx

from kargo_actions.demo import serve_loopback


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # JSON-encoded unless a str
    delay: float = 0.0


@dataclass
class Script:
    """Answers per path (the last one repeats) and every request seen (method, path, headers, body)."""

    answers: dict[str, list[Answer]] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, path: str) -> Answer:
        with self.lock:
            queue = self.answers.get(path.split("?")[0])
            if not queue:
                return Answer(404, {"error": "no such path"})
            return queue.pop(0) if len(queue) > 1 else queue[0]


@contextmanager
def serve(script: Script) -> Iterator[str]:
    """The scripted metric endpoint: each request is recorded, then answered by the script (after its delay)."""

    def handle(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        with script.lock:
            script.seen.append((method, path, headers, body))
        answer = script.next(path)
        if answer.delay:
            time.sleep(answer.delay)
        data = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
        return answer.status, "application/json", data.encode()

    with serve_handler(handle) as url:
        yield url


Handle = Callable[[str, str, dict[str, str], bytes], tuple[int, str, bytes]]


@contextmanager
def serve_handler(handle: Handle) -> Iterator[str]:
    """A ThreadingHTTPServer on 127.0.0.1 answering every request with handle(method, path, headers, body)."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, kind, payload = handle(self.command, self.path, dict(self.headers), body)
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve_loopback(Handler) as url:
        yield url


@dataclass
class TokenServer:
    """An OAuth2 token endpoint (RFC 6749 4.4, client_credentials) that issues tok-1, tok-2, ...

    style: where it reads the client's credentials: "header" (HTTP Basic), "params" (form fields) or "any".
    """

    clients: dict[str, str]
    style: str = "any"
    expires_in: int | None = 3600
    token_type: str = "bearer"
    form_answer: bool = False  # answer application/x-www-form-urlencoded instead of JSON
    echo_failure: bool = False  # fail with a 500 plain-text body repeating what the client sent
    requests: list[dict[str, str]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _client(self, headers: dict[str, str], form: dict[str, str]) -> tuple[str, str] | None:
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic ") and self.style in ("header", "any"):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return unquote_plus(user), unquote_plus(password)
        if "client_id" in form and self.style in ("params", "any"):
            return form["client_id"], form.get("client_secret", "")
        return None

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        with self.lock:
            self.requests.append({**form, "authorization": headers.get("Authorization", "")})
            if self.echo_failure:
                return 500, "text/plain", f"upstream broke on {body.decode()}".encode()
            if method != "POST" or path != "/token":
                return 404, "application/json", b'{"error": "not_found"}'
            if form.get("grant_type") != "client_credentials":
                return 400, "application/json", b'{"error": "unsupported_grant_type"}'
            client = self._client(headers, form)
            if client is None or self.clients.get(client[0]) != client[1]:
                answer = {"error": "invalid_client", "error_description": "client authentication failed"}
                return 401, "application/json", json.dumps(answer).encode()
            token = f"tok-{len(self.issued) + 1}"
            self.issued.append(token)
        fields: dict[str, Any] = {"access_token": token, "token_type": self.token_type}
        if self.expires_in is not None:
            fields["expires_in"] = self.expires_in
        if "scope" in form:
            fields["scope"] = form["scope"]
        if self.form_answer:
            return 200, "application/x-www-form-urlencoded", urlencode(fields).encode()
        return 200, "application/json", json.dumps(fields).encode()

    def accepts(self, authorization: str) -> bool:
        with self.lock:
            return authorization.startswith("Bearer ") and authorization[7:] in self.issued


@dataclass
class AuthProxy:
    """In front of an upstream: forwards a request only when `accept(Authorization)`; 401 otherwise."""

    upstream: str
    accept: Callable[[str], bool]
    seen: list[str] = field(default_factory=list)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        authorization = headers.get("Authorization", "")
        self.seen.append(authorization)
        if not self.accept(authorization):
            return 401, "application/json", b'{"status": "error", "error": "unauthorized"}'
        answer = httpx.request(method, self.upstream + path, content=body or None, timeout=10)
        return answer.status_code, answer.headers.get("Content-Type", "application/json"), answer.content
