"""A classic Helm chart repository for tests: serves index.yaml files over HTTP, counts requests, answers 304."""

from __future__ import annotations

import base64
import gzip
import hashlib
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LAST_MODIFIED = "Tue, 01 Oct 2024 00:00:00 GMT"


@dataclass
class ChartRepoServer:
    """files: URL path -> body; `requests` logs (path, status); gzip when the client accepts it."""

    files: dict[str, bytes] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)  # forced answers, e.g. {"/private/index.yaml": 401}
    requests: list[tuple[str, int]] = field(default_factory=list)
    request_headers: list[dict[str, str]] = field(default_factory=list)
    # path prefix -> (user, password): Basic auth as ChartMuseum, Nexus or Artifactory ask for it
    basic: dict[str, tuple[str, str]] = field(default_factory=dict)
    port: int = 0
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def count(self, path: str, status: int | None = None) -> int:
        return sum(1 for p, s in self.requests if p == path and (status is None or s == status))


def make_index(charts: dict[str, list[str]], *, list_indent: int = 0) -> bytes:
    """An index.yaml as helm writes it (entries sorted, list items at the key's indent unless told otherwise)."""
    lines = ["apiVersion: v1", "entries:"]
    pad = " " * list_indent
    for name in sorted(charts):
        lines.append(f"  {name}:")
        for version in charts[name]:
            digest = hashlib.sha256(f"{name}-{version}".encode()).hexdigest()
            lines += [
                f"  {pad}- apiVersion: v2",
                f"  {pad}  appVersion: {version}",
                f'  {pad}  created: "2024-10-01T00:00:00Z"',
                "  " + pad + "  dependencies:",
                f"  {pad}  - name: common",
                f"  {pad}    version: 9.9.9",
                f"  {pad}  description: A chart called {name}",
                f"  {pad}  digest: {digest}",
                f"  {pad}  name: {name}",
                f"  {pad}  urls:",
                f"  {pad}  - https://charts.example.com/{name}-{version}.tgz",
                f"  {pad}  version: {version}",
            ]
    lines.append('generated: "2024-10-01T00:00:00Z"')
    return ("\n".join(lines) + "\n").encode()


def _handler(server: ChartRepoServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            server.requests.append((self.path, status))
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            server.request_headers.append(dict(self.headers.items()))
            if self.path in server.status:
                self._answer(server.status[self.path], b"nope")
                return
            for prefix, (user, password) in server.basic.items():
                expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                if self.path.startswith(prefix) and self.headers.get("Authorization") != expected:
                    self._answer(401, b"unauthorized", {"WWW-Authenticate": 'Basic realm="charts"'})
                    return
            body = server.files.get(self.path)
            if body is None:
                self._answer(404, b"not found")
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self._answer(304, headers={"ETag": etag})
                return
            headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED, "Content-Type": "application/x-yaml"}
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                body = gzip.compress(body, compresslevel=1)
                headers["Content-Encoding"] = "gzip"
            self._answer(200, body, headers)

    return Handler


@contextmanager
def serve_charts(
    files: dict[str, bytes] | None = None, *, tls: tuple[Path, Path] | None = None
) -> Iterator[ChartRepoServer]:
    """Start the repository on a free port of 127.0.0.1 (HTTPS with tls=(cert, key)); stop it on exit."""
    server = ChartRepoServer(files=dict(files or {}))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        server.scheme = "https"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
