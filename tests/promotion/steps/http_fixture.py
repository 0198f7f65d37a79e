"""A small HTTP server of the tests' own on 127.0.0.1 for the http and http-download steps."""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FILE_BYTES = bytes(range(256)) * 40  # 10240 bytes


class Server:
    """Routes: /echo (the request as JSON), /status/<code>, /slow, /poll/<name>, /redirect/<n>, /file, /yaml,
    /text, /notjson, /big. `hits` counts requests per path."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.tls = tls
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str = "application/json", **extra: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Request-Count", str(owner.count(self.path)))
                for k, v in extra.items():
                    self.send_header(k.replace("_", "-"), v)
                self.end_headers()
                if self.command != "HEAD":
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that gave up
                        self.wfile.write(body)

            def _route(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                owner.hit(url.path)
                parts = url.path.strip("/").split("/")
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if parts[0] == "echo":
                    echo = {
                        "method": self.command,
                        "query": urllib.parse.parse_qs(url.query),
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body.decode(),
                    }
                    self._send(200, json.dumps(echo).encode())
                elif parts[0] == "status":
                    code = int(parts[1])
                    self._send(code, json.dumps({"message": f"status {code}", "code": code}).encode())
                elif parts[0] == "slow":
                    time.sleep(1)
                    self._send(200, b"{}")
                elif parts[0] == "poll":
                    done = owner.count(url.path) >= 3
                    state = "done" if done else "pending"
                    self._send(200, json.dumps({"state": state, "version": "1.2.3"}).encode())
                elif parts[0] == "redirect":
                    left = int(parts[1])
                    target = f"/redirect/{left - 1}" if left > 1 else "/file"
                    self._send(302, b"", Location=target)
                elif parts[0] == "file":
                    self._send(200, FILE_BYTES, "application/octet-stream")
                elif parts[0] == "yaml":
                    self._send(
                        200, b"version: '2.0'\nfeatures:\n- name: a\n  enabled: true\n", "application/yaml"
                    )
                elif parts[0] == "text":
                    self._send(200, b"plain words", "text/plain; charset=utf-8")
                elif parts[0] == "notjson":
                    self._send(200, b"<html>hi</html>", "text/html")
                elif parts[0] == "big":
                    size = int(urllib.parse.parse_qs(url.query).get("size", ["5000"])[0])
                    self._send(200, b"x" * size, "application/octet-stream")
                else:
                    self._send(404, b'{"message": "no such route"}')

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _route

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:  # HTTPS with a self-signed certificate (cert file, key file)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def hit(self, path: str) -> None:
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1

    def count(self, path: str) -> int:
        path = urllib.parse.urlsplit(path).path
        with self.lock:
            return self.hits.get(path, 0)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def serve(tls: tuple[Path, Path] | None = None) -> Iterator[Server]:
    """Body of the test files' `http_server` fixture: a server for one test, stopped after it."""
    server = Server(tls)
    try:
        yield server
    finally:
        server.stop()
