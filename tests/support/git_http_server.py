"""A real git smart-HTTP server for tests: `git http-backend` behind a stdlib HTTP server with token auth."""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GIT_HTTP_BACKEND = "http-backend"


@dataclass
class GitHttpServer:
    """Serves every repository under `root` at http://127.0.0.1:port/<name>; counts requests by path."""

    root: Path
    token: str | None
    port: int = 0
    scheme: str = "http"
    requests: list[str] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def repo_url(self, name: str) -> str:
        return f"{self.url}/{name}"

    def reset_counts(self) -> None:
        self.requests.clear()
        self.auth_headers.clear()


def _authorized(header: str, token: str | None) -> bool:
    if token is None:
        return True
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() == token
    if scheme.lower() == "basic":
        try:
            _, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except ValueError:
            return False
        return password == token
    return False


def _handler(server: GitHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            path, _, query = self.path.partition("?")
            server.requests.append(f"{self.command} {path}")
            auth = self.headers.get("Authorization", "")
            server.auth_headers.append(auth)
            body = self._read_body()
            if not _authorized(auth, server.token):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REMOTE_USER": "tester",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "GIT_CONFIG_NOSYSTEM": "1",
                "HOME": str(server.root),
            }
            result = subprocess.run(
                ["git", GIT_HTTP_BACKEND], input=body, env=env, capture_output=True, check=False
            )
            head, _, payload = result.stdout.partition(b"\r\n\r\n")
            status = 200
            headers: list[tuple[str, str]] = []
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def _tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@contextmanager
def serve_git(
    root: Path, token: str | None = None, *, tls: tuple[Path, Path] | None = None
) -> Iterator[GitHttpServer]:
    """Start the server on a free port of 127.0.0.1 (HTTPS with tls=(cert, key)); stop it on exit."""
    server = GitHttpServer(root=root, token=token)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    if tls is not None:
        httpd.socket = _tls_context(*tls).wrap_socket(httpd.socket, server_side=True)
        server.scheme = "https"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    """Run git in `cwd` and return its stdout (raises with stderr on failure)."""
    result = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.decode()}")
    return result.stdout.decode()


def make_bare_repo(root: Path, name: str) -> Path:
    """An empty bare repository under root that allows blob-filtered clones."""
    path = root / name
    path.mkdir(parents=True)
    git(path, "init", "--bare", "-q", "-b", "main")
    git(path, "config", "uploadpack.allowFilter", "true")
    git(path, "config", "uploadpack.allowAnySHA1InWant", "true")
    git(path, "config", "http.receivepack", "true")
    return path


def fast_import(repo: Path, stream: str | bytes) -> None:
    """Feed a `git fast-import` stream into repo (fast way to build big histories)."""
    data = stream.encode() if isinstance(stream, str) else stream
    git(repo, "fast-import", "--quiet", "--force", input=data)


def copy_repo(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst)
