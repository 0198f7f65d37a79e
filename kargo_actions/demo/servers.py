"""The demo's local servers: Debian's docker-registry with demo images pushed by skopeo, a git smart-HTTP
server (git http-backend) and a stand-in for the deployed service's health endpoint, all on free ports of
127.0.0.1. The test suite's git and HTTP servers are built on the same handlers.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kargo_actions.struct import struct

TOOLS = ("docker-registry", "skopeo", "git")
DEMO_IMAGE = "demo/web"


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@struct(frozen=False)
class LocalRegistry:
    """Debian's docker-registry on 127.0.0.1:<free port>, storage in a temp directory, no auth."""

    host: str
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_registry(workdir: Path) -> LocalRegistry:
    workdir.mkdir(parents=True, exist_ok=True)
    host = f"127.0.0.1:{free_port()}"
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage: {{filesystem: {{rootdirectory: {workdir / 'data'}}}}}\n"
        f"http: {{addr: '{host}', secret: demo}}\n"
        "log: {level: error, accesslog: {disabled: true}}\n"
    )
    log = (workdir / "registry.log").open("wb")
    # Its own session: Ctrl-C at the terminal reaches the demo alone, which stops the servers in order.
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=log, stderr=log, start_new_session=True
    )
    log.close()
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"http://{host}/v2/", timeout=1):
                return LocalRegistry(host, proc)
        except (urllib.error.URLError, OSError) as err:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log_text = (workdir / "registry.log").read_text()
                raise RuntimeError(f"docker-registry did not start: {log_text}") from err
            time.sleep(0.05)


def _blob(root: Path, data: bytes) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = root / "blobs" / "sha256" / digest.removeprefix("sha256:")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def build_image(root: Path, tag: str, created: str) -> None:
    """A one-layer OCI image layout under `root`, tagged `tag`, with a build date (for NewestBuild)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        content = f"demo web {tag}\n".encode()
        info = tarfile.TarInfo("version.txt")
        info.size, info.mtime = len(content), 0
        tar.addfile(info, io.BytesIO(content))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {"Labels": {"org.opencontainers.image.version": tag}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            **_blob(root, json.dumps(config, sort_keys=True).encode()),
        },
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_blob(root, layer)}],
        "annotations": {"org.opencontainers.image.created": created},
    }
    top = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        **_blob(root, json.dumps(manifest, sort_keys=True).encode()),
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))


def push_image(layouts: Path, registry: LocalRegistry, tag: str, created: str) -> None:
    """Build the demo image `tag` and push it with skopeo (plain HTTP to the local registry)."""
    layout = layouts / tag
    build_image(layout, tag, created)
    subprocess.run(
        [
            "skopeo", "copy", "--quiet", "--dest-tls-verify=false",
            f"oci:{layout}:{tag}", f"docker://{registry.host}/{DEMO_IMAGE}:{tag}",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "HOME": str(layouts)},  # skopeo writes nothing to the user's home
    )  # fmt: skip


class GitBackendHandler(BaseHTTPRequestHandler):
    """git's smart HTTP protocol for every repository under `root`, through `git http-backend` (CGI).

    `remote_user` is what git sees as the pusher (http-backend allows receive-pack only with one).
    Subclasses set `root` (and may check auth before calling `run_backend`).
    """

    protocol_version = "HTTP/1.1"
    root: Path = Path()
    remote_user = "demo"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.handle_git()

    def do_POST(self) -> None:
        self.handle_git()

    def handle_git(self) -> None:
        path, _, query = self.path.partition("?")
        self.run_backend(path, query, self.read_body())

    def read_body(self) -> bytes:
        """The request body; git sends pushes over 1 MiB chunked."""
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

    def run_backend(self, path: str, query: str, body: bytes) -> None:
        """Answer the request with what `git http-backend` says for it."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": self.remote_user,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(self.root),
        }
        done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
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


def _git_handler(root: Path) -> type[BaseHTTPRequestHandler]:
    return type("DemoGitHandler", (GitBackendHandler,), {"root": root})


@contextmanager
def serve_loopback(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server for `handler` on 127.0.0.1:<free port>; yields its base URL, stops on exit."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def serve_git(root: Path) -> contextlib.AbstractContextManager[str]:
    """Serve the bare repositories under `root` over smart HTTP on 127.0.0.1:<free port>; yields the base URL."""
    return serve_loopback(_git_handler(root))


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_config_repo(root: Path) -> None:
    """The demo's config repository (one Kustomize overlay per Stage), bare, as demo-config.git."""
    work = root / "demo-config-work"
    work.mkdir(parents=True)
    _git(work, "init", "-q", "-b", "main")
    for stage in ("test", "uat", "prod"):
        overlay = work / "stages" / stage
        overlay.mkdir(parents=True)
        (overlay / "kustomization.yaml").write_text(
            f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: demo-{stage}\n"
        )
    _git(work, "add", ".")
    _git(work, "-c", "user.name=demo", "-c", "user.email=demo@example.com", "commit", "-qm", "demo config")
    _git(root, "clone", "-q", "--bare", str(work), "demo-config.git")
    _git(root / "demo-config.git", "config", "http.receivepack", "true")
    shutil.rmtree(work)


class _HealthHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"status": "ok", "errorRate": 0.01}).encode()
        self.send_response(200 if self.path.endswith("/health") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve_health() -> contextlib.AbstractContextManager[str]:
    """A stand-in for the deployed service's health endpoint, on a free port of 127.0.0.1."""
    return serve_loopback(_HealthHandler)
