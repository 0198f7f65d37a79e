"""Real registries for image discovery tests: Debian's docker-registry (no auth, htpasswd, token realm),
OCI layouts built here and pushed with skopeo, and a small paging server of our own.

Requests are counted server-side: the registry's access log, or the test server's own counter.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
USER, PASSWORD = "alice", "s3cret"
REFRESH_TOKEN = "rt-alice-0123"  # what `docker login` keeps as an identity token for USER
TOOLS = ("docker-registry", "skopeo", "htpasswd")


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def require_tools() -> None:
    """Skip when the registry tools are absent, but fail under CI=true (CI must install them)."""
    missing = missing_tools()
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed (apt-get install docker-registry skopeo apache2-utils)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, ok: Callable[[int], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ok(httpx.get(url, timeout=1.0).status_code):
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up in {timeout}s")
        time.sleep(0.05)


# -- images -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageSpec:
    """One platform image: its platform, config `created`, manifest annotations and config labels."""

    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""
    created: str | None = "2024-01-01T00:00:00Z"
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    salt: str = ""  # makes otherwise equal images distinct


def _blob(root: Path, data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = root / "blobs" / "sha256" / digest.split(":", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest, len(data)


def _layer(salt: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        content = f"hello {salt}\n".encode()
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def _image_manifest(root: Path, spec: ImageSpec) -> dict[str, Any]:
    layer = _layer(spec.salt + spec.os + spec.architecture + spec.variant)
    layer_digest, layer_size = _blob(root, layer)
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()
    config: dict[str, Any] = {
        "architecture": spec.architecture,
        "os": spec.os,
        "config": {"Labels": spec.labels} if spec.labels else {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    if spec.variant:
        config["variant"] = spec.variant
    if spec.created is not None:
        config["created"] = spec.created
    config_digest, config_size = _blob(root, json.dumps(config, sort_keys=True).encode())
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": layer_size}],
    }
    if spec.annotations:
        manifest["annotations"] = spec.annotations
    digest, size = _blob(root, json.dumps(manifest, sort_keys=True).encode())
    desc: dict[str, Any] = {"mediaType": OCI_MANIFEST, "digest": digest, "size": size}
    platform = {"os": spec.os, "architecture": spec.architecture}
    if spec.variant:
        platform["variant"] = spec.variant
    desc["platform"] = platform
    return desc


def build_layout(
    root: Path,
    tag: str,
    images: list[ImageSpec],
    *,
    index: bool = False,
    index_annotations: dict[str, str] | None = None,
) -> str:
    """Write an OCI layout with one image (or an index of several) under `tag`; return the top digest."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    descs = [_image_manifest(root, spec) for spec in images]
    if index or len(descs) > 1:
        body: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs}
        if index_annotations:
            body["annotations"] = index_annotations
        digest, size = _blob(root, json.dumps(body, sort_keys=True).encode())
        top = {"mediaType": OCI_INDEX, "digest": digest, "size": size}
    else:
        top = {k: v for k, v in descs[0].items() if k != "platform"}
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return str(top["digest"])


# -- docker-registry --------------------------------------------------------------------------------


@dataclass
class Registry:
    """A running docker-registry on 127.0.0.1; `requests()` reads its access log."""

    host: str
    proc: subprocess.Popen[bytes]
    access_log: Path
    auth: str  # none | basic | token
    creds: tuple[str, str] | None = None
    realm: TokenRealm | None = None

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request the registry answered, from its access log."""
        out = []
        pattern = re.compile(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[0-9.]+" (\d{3})')
        for line in self.access_log.read_text(errors="replace").splitlines():
            m = pattern.search(line)
            if m:
                out.append((m[1], m[2], int(m[3])))
        return out

    def settled(self) -> list[tuple[str, str, int]]:
        """The access log once it stops growing: the registry writes a line just after answering."""
        seen = self.requests()
        for _ in range(40):
            time.sleep(0.03)
            now = self.requests()
            if len(now) == len(seen):
                return now
            seen = now
        return seen

    def mark(self) -> int:
        """Position in the access log; count(since=mark) counts what came after."""
        return len(self.settled())

    def count(self, since: int = 0) -> Counter[str]:
        """Requests since a mark, by kind: tags, head, manifest, blob, other (and status 401 separately)."""
        kinds: Counter[str] = Counter()
        for method, path, status in self.settled()[since:]:
            if status == 401:
                kinds["challenge"] += 1
                continue
            if "/tags/list" in path:
                kinds["tags"] += 1
            elif "/manifests/" in path:
                kinds["head" if method == "HEAD" else "manifest"] += 1
            elif "/blobs/" in path:
                kinds["blob"] += 1
            else:
                kinds["other"] += 1
        return kinds

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.realm is not None:
            self.realm.stop()

    def push(
        self, layout: Path, tag: str, name: str, *, all_platforms: bool = False, docker_format: bool = False
    ) -> None:
        """skopeo copy oci:LAYOUT:TAG docker://HOST/NAME:TAG (docker_format: as Docker schema 2 media types)."""
        cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--retry-times", "2"]
        if all_platforms:
            cmd.append("--all")
        if docker_format:
            cmd += ["--format", "v2s2"]
        if self.creds:
            cmd += ["--dest-creds", f"{self.creds[0]}:{self.creds[1]}"]
        cmd += [f"oci:{layout}:{tag}", f"docker://{self.host}/{name}:{tag}"]
        env = {**os.environ, "HOME": str(layout.parent)}
        subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=120)

    def _auth_header(self, name: str) -> dict[str, str]:
        if self.auth == "none" or self.creds is None:
            return {}
        if self.auth == "basic":
            raw = base64.b64encode(f"{self.creds[0]}:{self.creds[1]}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}
        assert self.realm is not None
        token = self.realm.issue(self.creds[0], [("repository", name, ["pull", "push"])])
        return {"Authorization": f"Bearer {token}"}

    def upload(
        self, name: str, blobs: list[bytes], manifests: list[tuple[str, bytes]], *, workers: int = 8
    ) -> None:
        """Upload blobs (monolithic POST + PUT) and then manifests by tag, straight over the API."""
        from concurrent.futures import ThreadPoolExecutor

        headers = self._auth_header(name)
        with httpx.Client(base_url=f"http://{self.host}", headers=headers, timeout=30) as c:

            def blob(data: bytes) -> None:
                digest = "sha256:" + hashlib.sha256(data).hexdigest()
                start = c.post(f"/v2/{name}/blobs/uploads/")
                start.raise_for_status()
                location = start.headers["location"]
                sep = "&" if "?" in location else "?"
                c.put(
                    f"{location}{sep}digest={digest}",
                    content=data,
                    headers={"Content-Type": "application/octet-stream"},
                ).raise_for_status()

            def manifest(item: tuple[str, bytes]) -> None:
                tag, body = item
                c.put(
                    f"/v2/{name}/manifests/{tag}", content=body, headers={"Content-Type": OCI_MANIFEST}
                ).raise_for_status()

            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(blob, blobs))
                list(pool.map(manifest, manifests))

    def retag(self, name: str, source_tag: str, new_tags: list[str], *, workers: int = 8) -> None:
        """Re-tagging is a manifest PUT: fast, for thousands of tags."""
        headers = self._auth_header(name)
        accept = f"{OCI_INDEX}, {OCI_MANIFEST}"
        with httpx.Client(base_url=f"http://{self.host}", headers=headers, timeout=30) as c:
            got = c.get(f"/v2/{name}/manifests/{source_tag}", headers={"Accept": accept})
            got.raise_for_status()
            body, ctype = got.content, got.headers["content-type"]

            def put(tag: str) -> None:
                c.put(
                    f"/v2/{name}/manifests/{tag}", content=body, headers={"Content-Type": ctype}
                ).raise_for_status()

            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(put, new_tags))


def start_registry(
    workdir: Path,
    *,
    auth: str = "none",
    access_log: bool = True,
    tls: tuple[Path, Path] | None = None,
    realm_url: str | None = None,
) -> Registry:
    """Start docker-registry on a free port with no auth, htpasswd basic auth, or a token realm we run."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    host = f"127.0.0.1:{port}"
    tls_part = f", tls: {{certificate: {tls[0]}, key: {tls[1]}}}" if tls else ""
    config = [
        "version: 0.1",
        "storage:",
        f"  filesystem: {{rootdirectory: {workdir / 'data'}}}",
        "  delete: {enabled: true}",
        f"http: {{addr: '{host}', secret: x{tls_part}}}",
        f"log: {{level: error, accesslog: {{disabled: {'false' if access_log else 'true'}}}}}",
    ]
    realm: TokenRealm | None = None
    creds: tuple[str, str] | None = None
    if auth == "basic":
        htpasswd = workdir / "htpasswd"
        subprocess.run(["htpasswd", "-Bbc", str(htpasswd), USER, PASSWORD], check=True, capture_output=True)
        config.append(f"auth: {{htpasswd: {{realm: test, path: {htpasswd}}}}}")
        creds = (USER, PASSWORD)
    elif auth == "token":
        realm = TokenRealm.start(workdir / "realm")
        config.append(
            f"auth: {{token: {{realm: '{realm_url or realm.url}', service: {realm.service}, issuer: {realm.issuer}, "
            f"rootcertbundle: {realm.cert_path}}}}}"
        )
        creds = (USER, PASSWORD)
    cfg = workdir / "config.yml"
    cfg.write_text("\n".join(config) + "\n")
    log_path = workdir / "access.log"
    out = log_path.open("wb")
    err = (workdir / "registry.err").open("wb")
    proc = subprocess.Popen(["docker-registry", "serve", str(cfg)], stdout=out, stderr=err)
    out.close()
    err.close()
    scheme = "https" if tls else "http"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                code = httpx.get(f"{scheme}://{host}/v2/", timeout=1.0, verify=False).status_code  # noqa: S501  (probing a self-signed test server)
                if code in (200, 401):
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not start: {(workdir / 'registry.err').read_text()}")
            time.sleep(0.05)
    except BaseException:
        proc.kill()
        if realm is not None:
            realm.stop()
        raise
    return Registry(host=host, proc=proc, access_log=log_path, auth=auth, creds=creds, realm=realm)


# -- token realm ------------------------------------------------------------------------------------


def self_signed(directory: Path, common_name: str = "127.0.0.1") -> tuple[Path, Path, Any]:
    """An RSA key and a self-signed certificate for 127.0.0.1 (PEM files), and the key object."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, (key, cert)


class TokenRealm:
    """A token service like ghcr.io's: Basic creds (or none) in, an RS256 JWT with `access` claims out."""

    service = "test-registry"
    issuer = "test-issuer"

    def __init__(self, server: ThreadingHTTPServer, cert_path: Path, key: Any, cert: Any) -> None:
        from cryptography.hazmat.primitives import serialization

        self.server = server
        self.cert_path = cert_path
        self._key = key
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/token"
        self.hits = 0
        self.posts = 0  # OAuth2 token requests (identity tokens)
        self.expires_in = 300
        self.anonymous_pull: set[str] = set()  # repositories anyone may pull
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @classmethod
    def start(cls, directory: Path) -> TokenRealm:
        cert_path, _key_path, (key, cert) = self_signed(directory, "token-signer")
        holder: list[TokenRealm] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                # Docker's OAuth2 token endpoint: grant_type=refresh_token (an identity token) or password.
                realm = holder[0]
                realm.hits += 1
                realm.posts += 1
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                grant = form.get("grant_type", [""])[0]
                ok = (grant == "refresh_token" and form.get("refresh_token") == [REFRESH_TOKEN]) or (
                    grant == "password"
                    and (form.get("username"), form.get("password")) == ([USER], [PASSWORD])
                )
                if not ok or not form.get("client_id"):
                    self.send_response(401)
                    self.end_headers()
                    return
                self._grant(USER, form)

            def do_GET(self) -> None:
                realm = holder[0]
                realm.hits += 1
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                user = ""
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    name, _, pw = base64.b64decode(header[6:]).decode().partition(":")
                    if (name, pw) != (USER, PASSWORD):
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = name
                self._grant(user, query)

            def _grant(self, user: str, query: dict[str, list[str]]) -> None:
                realm = holder[0]
                access = []
                for scope in query.get("scope", []):
                    kind, _, rest = scope.partition(":")
                    repo, _, actions = rest.rpartition(":")
                    if user:
                        granted = actions.split(",")
                    elif repo in realm.anonymous_pull:
                        granted = ["pull"]
                    else:
                        granted = []
                    access.append((kind, repo, granted))
                # Like Docker's auth server: the token is for the service asked for; the registry checks it.
                token = realm.issue(user, access, audience=query.get("service", [realm.service])[0])
                body = json.dumps(
                    {
                        "token": token,
                        "access_token": token,
                        "expires_in": realm.expires_in,
                        "issued_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        realm = cls(server, cert_path, key, cert)
        holder.append(realm)
        realm._thread.start()
        return realm

    def issue(self, subject: str, access: list[tuple[str, str, list[str]]], audience: str = "") -> str:
        import jwt

        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience or self.service,
            "iat": now,
            "nbf": now - 5,
            "exp": now + self.expires_in,
            "jti": hashlib.sha256(os.urandom(8)).hexdigest(),
            "access": [{"type": t, "name": n, "actions": a} for t, n, a in access],
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"x5c": [self._x5c]})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- paging server ----------------------------------------------------------------------------------


@dataclass
class Scripted:
    """One canned answer for a path prefix: status, headers, body; `times` answers, then normal service."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


class PagingServer:
    """A distribution-like tags/list with real paging: Link rel="next" (mode "link"), only n/last
    (mode "last"), or everything at once (mode "all"); its own counter counts every request.
    Scripted answers inject 429/5xx/garbage for the error tests."""

    def __init__(self, tags: list[str], *, mode: str = "link", cap: int = 100) -> None:
        self.tags = sorted(tags)
        self.mode = mode
        self.cap = cap
        self.hits: list[str] = []
        self.script: dict[str, list[Scripted]] = {}
        self.extra_headers: dict[str, str] = {}
        self.manifests: dict[str, tuple[bytes, str]] = {}  # served without Docker-Content-Digest
        self.blobs: dict[str, bytes] = {}  # image configs, by digest
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in {**outer.extra_headers, **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                outer.hits.append(f"{self.command} {self.path}")
                for prefix, answers in outer.script.items():
                    if self.path.startswith(prefix) and answers:
                        answer = answers[0]
                        answer.times -= 1
                        if answer.times <= 0:
                            answers.pop(0)
                        self._send(answer.status, answer.body, answer.headers)
                        return
                url = urllib.parse.urlsplit(self.path)
                ref = url.path.rsplit("/manifests/", 1)[-1] if "/manifests/" in url.path else ""
                if ref in outer.manifests:
                    body, media_type = outer.manifests[ref]
                    self._send(200, body, {"Content-Type": media_type})
                    return
                if url.path == "/v2/":
                    self._send(200, b"{}", {"Content-Type": "application/json"})
                    return
                blob = re.fullmatch(r"/v2/.+/blobs/(.+)", url.path)
                if blob and blob[1] in outer.blobs:
                    self._send(200, outer.blobs[blob[1]], {"Content-Type": "application/json"})
                    return
                m = re.fullmatch(r"/v2/(.+)/tags/list", url.path)
                if not m:
                    self._send(404, b'{"errors":[{"code":"NOT_FOUND"}]}', {})
                    return
                self._send(*outer.page(m[1], urllib.parse.parse_qs(url.query)))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def page(self, name: str, query: dict[str, list[str]]) -> tuple[int, bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        if self.mode == "all":
            return 200, json.dumps({"name": name, "tags": self.tags}).encode(), headers
        n = min(int(query.get("n", [str(self.cap)])[0]), self.cap)
        last = query.get("last", [""])[0]
        rest = [t for t in self.tags if t > last] if last else self.tags
        page = rest[:n]
        if self.mode == "link" and len(rest) > n:
            nxt = urllib.parse.urlencode({"n": n, "last": page[-1]})
            headers["Link"] = f'</v2/{name}/tags/list?{nxt}>; rel="next"'
        return 200, json.dumps({"name": name, "tags": page}).encode(), headers

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- fixtures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """What the session registry holds: repository names, and the digest behind each tag."""

    registry: Registry
    digests: dict[str, str]

    @property
    def host(self) -> str:
        return self.registry.host


def seed(registry: Registry, work: Path) -> dict[str, str]:
    """Push the images every image test reads; keys are "name:tag"."""
    digests: dict[str, str] = {}

    def put(name: str, tag: str, images: list[ImageSpec], **kw: Any) -> None:
        layout = work / f"{name.replace('/', '_')}-{tag}"
        digests[f"{name}:{tag}"] = build_layout(layout, tag, images, **kw)
        registry.push(layout, tag, name, all_platforms=len(images) > 1 or bool(kw.get("index")))

    # semver: strict, loose and non-version tags, one prerelease.
    for i, tag in enumerate(["1.0.0", "1.1.0", "v1.2.0", "1.2", "2.0.0", "2.1.0-rc.1", "latest", "abc1234"]):
        put("app/semver", tag, [ImageSpec(salt=f"semver{i}")])
    # newest build: dates from config, annotation, label-schema label, and one with no date at all.
    put("app/builds", "a", [ImageSpec(created="2024-03-01T00:00:00Z", salt="a")])
    put(
        "app/builds",
        "b",
        [
            ImageSpec(
                created="2024-01-01T00:00:00Z",
                salt="b",
                annotations={"org.opencontainers.image.created": "2024-06-01T00:00:00Z"},
            )
        ],
    )
    put(
        "app/builds",
        "c",
        [
            ImageSpec(
                created="2024-02-01T00:00:00Z",
                salt="c",
                labels={"org.label-schema.build-date": "2024-05-01T00:00:00Z"},
            )
        ],
    )
    put("app/builds", "d", [ImageSpec(created=None, salt="d")])
    # multi-platform: an index without dates of its own, and one with an index annotation.
    put(
        "app/multi",
        "1.0.0",
        [
            ImageSpec(architecture="amd64", created="2024-04-01T00:00:00Z", salt="m1"),
            ImageSpec(architecture="arm64", variant="v8", created="2024-04-02T00:00:00Z", salt="m1"),
        ],
    )
    put(
        "app/multi",
        "1.1.0",
        [ImageSpec(architecture="amd64", created="2024-07-01T00:00:00Z", salt="m2")],
        index=True,
    )
    put(
        "app/multi",
        "1.2.0",
        [
            ImageSpec(architecture="amd64", created="2024-08-01T00:00:00Z", salt="m3"),
            ImageSpec(architecture="arm64", variant="v8", created="2024-08-02T00:00:00Z", salt="m3"),
        ],
        index_annotations={"org.opencontainers.image.created": "2024-09-09T00:00:00Z"},
    )
    put("app/single", "1.0.0", [ImageSpec(architecture="arm64", salt="single")])
    # Docker schema 2 media types (manifest v2 and manifest list), as `docker push` writes them.
    layout = work / "docker-1.0.0"
    build_layout(layout, "1.0.0", [ImageSpec(created="2024-10-01T00:00:00Z", salt="docker")])
    registry.push(layout, "1.0.0", "app/docker", docker_format=True)
    layout = work / "docker-2.0.0"
    build_layout(
        layout,
        "2.0.0",
        [ImageSpec(architecture=a, created="2024-11-01T00:00:00Z", salt="dl") for a in ("amd64", "arm64")],
    )
    registry.push(layout, "2.0.0", "app/docker", all_platforms=True, docker_format=True)
    return digests


@pytest.fixture(scope="session")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """docker-registry with no auth, seeded once per test session (per xdist worker)."""
    require_tools()
    work = tmp_path_factory.mktemp("registry-plain")
    registry = start_registry(work / "server")
    try:
        yield Seeded(registry, seed(registry, work / "layouts"))
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """docker-registry behind htpasswd basic auth, with one image."""
    require_tools()
    work = tmp_path_factory.mktemp("registry-basic")
    registry = start_registry(work / "server", auth="basic")
    try:
        layout = work / "layout"
        digest = build_layout(layout, "1.0.0", [ImageSpec(salt="basic")])
        registry.push(layout, "1.0.0", "private/app")
        yield Seeded(registry, {"private/app:1.0.0": digest})
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """docker-registry with bearer-token auth through a realm the tests run (as ghcr.io / Docker Hub do)."""
    require_tools()
    work = tmp_path_factory.mktemp("registry-token")
    registry = start_registry(work / "server", auth="token")
    try:
        digests = {}
        for name in ("private/app", "public/app"):
            for tag in ("1.0.0", "1.1.0"):
                layout = work / f"{name.replace('/', '_')}-{tag}"
                digests[f"{name}:{tag}"] = build_layout(layout, tag, [ImageSpec(salt=name + tag)])
                registry.push(layout, tag, name)
        assert registry.realm is not None
        registry.realm.anonymous_pull.add("public/app")
        yield Seeded(registry, digests)
    finally:
        registry.stop()


@pytest.fixture
def paging_server() -> Iterator[Callable[..., PagingServer]]:
    servers: list[PagingServer] = []

    def make(tags: list[str], **kw: Any) -> PagingServer:
        server = PagingServer(tags, **kw)
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()


def docker_config(home: Path, host: str, user: str, password: str, *, form: str = "auth") -> Path:
    """Write a docker config.json with credentials for host; returns the DOCKER_CONFIG directory.

    form: "auth" (base64 user:password), "userpass", or "identitytoken" (`password` is the token).
    """
    directory = home / "docker-config"
    directory.mkdir(parents=True, exist_ok=True)
    entry: dict[str, str]
    if form == "auth":
        entry = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    elif form == "identitytoken":
        entry = {"username": user, "identitytoken": password}
    else:
        entry = {"username": user, "password": password}
    (directory / "config.json").write_text(json.dumps({"auths": {host: entry}}))
    return directory
