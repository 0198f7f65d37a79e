"""A real git smart-HTTP server for tests: `git http-backend` behind a stdlib HTTP server with token auth."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kargo_actions.demo import GitBackendHandler


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
    class Handler(GitBackendHandler):
        root = server.root
        remote_user = "tester"

        def handle_git(self) -> None:
            path, _, query = self.path.partition("?")
            server.requests.append(f"{self.command} {path}")
            auth = self.headers.get("Authorization", "")
            server.auth_headers.append(auth)
            body = self.read_body()
            if not _authorized(auth, server.token):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.run_backend(path, query, body)

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
