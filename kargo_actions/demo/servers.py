"""A local demo: a docker-registry and a git smart-HTTP server on free ports, demo image tags pushed with
skopeo, then `discover`, `freight list`, `promote` (test by hand, uat by auto-promotion and verified against
a local health endpoint, prod refused by its soak gate), `status` and `history` on a copy of the bundled
example pipeline.

Run: python -m kargo_actions.demo [EXAMPLE_DIR] [--keep]. Needs docker-registry, skopeo and git (Debian:
apt-get install docker-registry skopeo git). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TOOLS = ("docker-registry", "skopeo", "git")
DEMO_IMAGE = "demo/web"
# What the bundled example points at, and what the demo replaces it with.
EXAMPLE_REGISTRY = "localhost:5000"
EXAMPLE_GIT = "http://localhost:8080"
EXAMPLE_HEALTH = "http://localhost:8081"  # uat's verification reads <this>/<service>/health


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- docker-registry ----


@dataclass
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
    proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log)
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


# ---- git smart HTTP ----


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


# ---- the service's health endpoint (uat's verification) ----


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


# ---- the pipeline ----


def prepare_pipeline(
    example: Path, target: Path, registry_host: str, git_base: str, health_base: str
) -> Path:
    """A git repository with a copy of the example's .kargo/, pointed at the demo's servers."""
    target.mkdir(parents=True)
    shutil.copytree(example / ".kargo", target / ".kargo")
    for path in (target / ".kargo").rglob("*.yaml"):
        text = path.read_text().replace(EXAMPLE_REGISTRY, registry_host).replace(EXAMPLE_GIT, git_base)
        text = text.replace(EXAMPLE_HEALTH, health_base)
        path.write_text(text)
    _git(target, "init", "-q", "-b", "main")
    _git(target, "add", ".")
    _git(target, "-c", "user.name=demo", "-c", "user.email=demo@example.com", "commit", "-qm", "pipeline")
    return target


def kargo_actions(repo: Path, *args: str) -> int:
    """Run the CLI as a user would, on the demo pipeline, with a local-only unsigned ledger."""
    print(f"\n$ kargo-actions {' '.join(args)}", flush=True)
    env = {
        **os.environ,
        "KARGO_ACTIONS_LEDGER_REMOTE": "",
        "KARGO_ACTIONS_SIGN": "never",
        "GIT_AUTHOR_NAME": os.environ.get("GIT_AUTHOR_NAME", "demo"),
        "GIT_AUTHOR_EMAIL": os.environ.get("GIT_AUTHOR_EMAIL", "demo@example.com"),
        "GIT_COMMITTER_NAME": os.environ.get("GIT_COMMITTER_NAME", "demo"),
        "GIT_COMMITTER_EMAIL": os.environ.get("GIT_COMMITTER_EMAIL", "demo@example.com"),
    }
    return subprocess.run(
        [sys.executable, "-m", "kargo_actions", "--repo", str(repo), *args], env=env, check=False
    ).returncode


def run_demo(example: Path, workdir: Path) -> int:
    """Start the servers, push 1.0.0 and 1.1.0, discover, push 1.2.0, discover again; list the Freight."""
    with ExitStack() as stack:
        registry = start_registry(workdir / "registry")
        stack.callback(registry.stop)
        git_root = workdir / "git"
        git_root.mkdir()
        make_config_repo(git_root)
        git_base = stack.enter_context(serve_git(git_root))
        print(f"registry   http://{registry.host}  (docker-registry)")
        print(f"git        {git_base}/demo-config.git  (git http-backend)")
        layouts = workdir / "layouts"
        for tag, day in (("1.0.0", 1), ("1.1.0", 2)):
            push_image(layouts, registry, tag, f"2024-06-0{day}T00:00:00Z")
            print(f"pushed     {registry.host}/{DEMO_IMAGE}:{tag}")
        health_base = stack.enter_context(serve_health())
        print(f"health     {health_base}/web/health  (what uat's verification reads)")
        repo = prepare_pipeline(example, workdir / "pipeline", registry.host, git_base, health_base)
        print(f"pipeline   {repo}  (a copy of {example} pointed at these servers)")
        codes = [kargo_actions(repo, "discover"), kargo_actions(repo, "freight", "list")]
        push_image(layouts, registry, "1.2.0", "2024-06-03T00:00:00Z")
        print(f"\npushed     {registry.host}/{DEMO_IMAGE}:1.2.0")
        codes += [kargo_actions(repo, "discover"), kargo_actions(repo, "freight", "list")]
        codes.append(kargo_actions(repo, "discover"))  # nothing new: nothing created, nothing written
        # Promotion: test takes the newest Freight directly (no verification defined, so success verifies);
        # uat auto-promotes it and runs its verification (the health endpoint's error rate, read twice);
        # prod needs 1h of soak in uat after that, so it is refused.
        codes.append(kargo_actions(repo, "promote", "--stage", "test", "--warehouse", "web"))
        codes.append(kargo_actions(repo, "promote", "--auto"))
        refused = kargo_actions(repo, "promote", "--stage", "prod", "--warehouse", "web")
        print(f"(exit {refused}: prod is gated on a 1h soak in uat, as its Stage says)")
        codes += [kargo_actions(repo, "status"), kargo_actions(repo, "history", "--stage", "uat")]
        show_config(git_root / "demo-config.git")
        return max(codes)


def show_config(bare: Path) -> None:
    """What the promotions pushed: each Stage's kustomization and the config repository's log."""
    print("\n$ git log --oneline main   # in the config repository the promotions pushed to")
    log = subprocess.run(
        ["git", "log", "--oneline", "main"], cwd=bare, capture_output=True, text=True, check=False
    )
    print(log.stdout.rstrip())
    for stage in ("test", "uat"):
        shown = subprocess.run(
            ["git", "show", f"main:stages/{stage}/kustomization.yaml"],
            cwd=bare,
            capture_output=True,
            text=True,
            check=False,
        )
        print(f"\n--- stages/{stage}/kustomization.yaml\n{shown.stdout.rstrip()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kargo_actions.demo", description=__doc__.splitlines()[0])
    parser.add_argument("example", nargs="?", default="examples/image-updater", type=Path)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (servers still stop)"
    )
    args = parser.parse_args(argv)
    missing = missing_tools()
    if missing:
        print(f"missing: {', '.join(missing)} (Debian: apt-get install {' '.join(missing)})", file=sys.stderr)
        return 3
    if not (args.example / ".kargo").is_dir():
        print(f"{args.example}/.kargo does not exist: give the example pipeline's directory", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="kargo-actions-demo-"))
    try:
        return run_demo(args.example.resolve(), workdir)
    finally:
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
