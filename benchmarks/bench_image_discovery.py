"""Image discovery against a real docker-registry with token auth, requests counted by the registry itself.

(a) 5,000 semver tags: a cold SemVer discovery makes at most 1 token request + the tag-list pages + one HEAD
    and one manifest GET per discovered tag; a warm one no manifest or blob GETs. With 50 ms added to every
    request by a delaying proxy, cold discovery (a fresh Python process) takes at most half the wall time of
    `skopeo list-tags` then `skopeo inspect` of the discoveryLimit newest tags.
(b) NewestBuild over 500 tags, each its own config and date: cold, then warm with 0 manifest or blob GETs.

Run: .venv/bin/python benchmarks/bench_image_discovery.py   (needs docker-registry, skopeo, htpasswd)
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.discovery.registry_server import (  # noqa: E402
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    PASSWORD,
    USER,
    Registry,
    free_port,
    missing_tools,
    start_registry,
)

LATENCY = 0.050
LIMIT = 20
TAGS_A = 5000
TAGS_B = 500
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class DelayingProxy:
    """A reverse proxy adding LATENCY to every request; /token goes to the realm, the rest to the registry."""

    def __init__(self, registry: str, realm: str, port: int) -> None:
        self.count = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                outer.count += 1
                time.sleep(LATENCY)
                target = realm if self.path.startswith("/token") else registry
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(target, timeout=60)
                # Headers one by one: clients repeat Accept, and a dict would keep only the last.
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                conn.putheader("Host", target)
                for k, v in self.headers.items():
                    if k.lower() not in HOP_BY_HOP | {"host"}:
                        conn.putheader(k, v)
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_BY_HOP | {"content-length"}:
                        self.send_header(k, v)
                declared = resp.getheader("Content-Length")
                self.send_header(
                    "Content-Length", declared if self.command == "HEAD" and declared else str(len(data))
                )
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def layer() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    return gzip.compress(raw.getvalue(), mtime=0)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest(config: bytes, lay: bytes, annotations: dict[str, str] | None = None) -> bytes:
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": digest_of(lay), "size": len(lay)}],
    }
    if annotations:
        body["annotations"] = annotations
    return json.dumps(body, sort_keys=True).encode()


def config(created: str) -> bytes:
    diff_id = digest_of(gzip.decompress(layer()))
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        },
        sort_keys=True,
    ).encode()


def seed(reg: Registry) -> tuple[list[str], list[str]]:
    """(a) 5,000 distinct manifests tagged 1.M.P; (b) 500 tags each with its own config and date."""
    lay = layer()
    base = config("2024-01-01T00:00:00Z")
    tags_a = [f"1.{i // 100}.{i % 100}" for i in range(TAGS_A)]
    reg.upload("bench/semver", [lay, base], [(t, manifest(base, lay, {"bench.tag": t})) for t in tags_a])
    configs = [config(f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z") for i in range(TAGS_B)]
    tags_b = [f"build-{i:04d}" for i in range(TAGS_B)]
    reg.upload(
        "bench/builds", [lay, *configs], [(t, manifest(c, lay)) for t, c in zip(tags_b, configs, strict=True)]
    )
    return tags_a, tags_b


DISCOVER = """
import json, os, sys, time
t = time.monotonic()
from kargo_actions.oci.cache import MetadataCache
from kargo_actions.discovery.image import discover_images
from kargo_actions.oci.session import RegistrySession
from kargo_actions.model.warehouse import ImageSubscription
sub = ImageSubscription.model_validate(json.loads(sys.argv[1]))
with RegistrySession(cache=MetadataCache()) as s:
    r = discover_images(sub, s)
print(json.dumps({"tags": [i.tag for i in r.images], "digests": [i.digest for i in r.images],
                  "listed": r.tags_listed, "seconds_in_process": time.monotonic() - t}))
"""


def discover(
    host: str,
    repo: str,
    cache: Path,
    docker_config: Path,
    extra_env: dict[str, str] | None = None,
    **fields: Any,
) -> tuple[dict[str, Any], float]:
    """One discovery in a fresh Python process, as a workflow step runs it; returns its answer and wall time."""
    env = {
        **os.environ,
        "KARGO_ACTIONS_CACHE": str(cache),
        "DOCKER_CONFIG": str(docker_config),
        **(extra_env or {}),
    }
    sub = json.dumps({"repoURL": f"{host}/{repo}", **fields})
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", DISCOVER, sub], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout), time.monotonic() - start


def semver_key(tag: str) -> tuple[int, ...]:
    return tuple(int(p) for p in tag.split("."))


def skopeo_script(host: str, repo: str, home: Path) -> tuple[list[str], float]:
    """What a user would otherwise write: list the tags, pick the newest, inspect each of them."""
    creds = ["--creds", f"{USER}:{PASSWORD}", "--tls-verify=false"]
    env = {**os.environ, "HOME": str(home)}
    start = time.monotonic()
    listed = subprocess.run(
        ["skopeo", "list-tags", *creds, f"docker://{host}/{repo}"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    tags = sorted(json.loads(listed.stdout)["Tags"], key=semver_key, reverse=True)[:LIMIT]
    digests = []
    for tag in tags:
        out = subprocess.run(
            ["skopeo", "inspect", *creds, f"docker://{host}/{repo}:{tag}"],
            capture_output=True,
            text=True,
            env=env,
        )
        if out.returncode != 0:
            raise RuntimeError(f"skopeo inspect {tag} failed: {out.stderr}")
        digests.append(json.loads(out.stdout)["Digest"])
    return digests, time.monotonic() - start


def main() -> int:
    missing = missing_tools()
    if missing:
        print(f"missing tools: {', '.join(missing)}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-image-"))
    failures: list[str] = []
    lines: list[str] = []

    def check(ok: bool, what: str) -> None:
        lines.append(f"- [{'x' if ok else ' '}] {what}")
        print(("PASS " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    proxy_port = free_port()
    reg = start_registry(work / "registry", auth="token", realm_url=f"http://127.0.0.1:{proxy_port}/token")
    assert reg.realm is not None
    realm_host = urllib.parse.urlsplit(reg.realm.url).netloc
    proxy = DelayingProxy(reg.host, realm_host, proxy_port)
    docker_config = work / "docker"
    docker_config.mkdir()
    auth = {"auth": __import__("base64").b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
    (docker_config / "config.json").write_text(json.dumps({"auths": {reg.host: auth, proxy.host: auth}}))
    try:
        t = time.monotonic()
        tags_a, tags_b = seed(reg)
        print(f"seeded {len(tags_a)} + {len(tags_b)} tags in {time.monotonic() - t:.1f}s")

        # (a) counts without added latency; the realm is reached through the proxy, so count its own hits.
        sub = {"constraint": "^1.0.0", "discoveryLimit": LIMIT}
        cache = work / "cache-a"
        tokens0, mark = reg.realm.hits, reg.mark()
        cold, cold_s = discover(proxy.host, "bench/semver", cache, docker_config, **sub)
        cold_counts, cold_tokens = reg.count(mark), reg.realm.hits - tokens0
        tokens0, mark = reg.realm.hits, reg.mark()
        warm, warm_s = discover(proxy.host, "bench/semver", cache, docker_config, **sub)
        warm_counts, warm_tokens = reg.count(mark), reg.realm.hits - tokens0
        expected = sorted(tags_a, key=semver_key, reverse=True)[:LIMIT]
        lines.append(f"\n(a) {TAGS_A} tags, SemVer ^1.0.0, discoveryLimit {LIMIT}, 50 ms added per request")
        lines.append(f"- cold: {cold_s:.2f}s, registry saw {dict(cold_counts)}, token requests {cold_tokens}")
        lines.append(f"- warm: {warm_s:.2f}s, registry saw {dict(warm_counts)}, token requests {warm_tokens}")
        check(
            cold["tags"] == expected and warm == {**cold, "seconds_in_process": warm["seconds_in_process"]},
            "cold and warm find the 20 newest semver tags",
        )
        check(cold_tokens <= 1, f"cold: at most 1 token request ({cold_tokens})")
        check(
            cold_counts["head"] <= LIMIT and cold_counts["manifest"] <= LIMIT,
            f"cold: <= 1 HEAD and <= 1 manifest GET per discovered tag ({cold_counts['head']} HEAD, "
            f"{cold_counts['manifest']} GET for {len(cold['tags'])} tags)",
        )
        check(cold_counts["blob"] == 0 and cold_counts["other"] == 0, "cold: no blob GETs, nothing else")
        check(
            cold_counts["tags"] <= 1,
            f"cold: tag list in {cold_counts['tags']} page(s) (distribution 2.8 sends one)",
        )
        check(
            cold_counts["challenge"] <= 1,
            f"cold: one 401 challenge to learn the realm ({cold_counts['challenge']})",
        )
        check(
            warm_counts["manifest"] == 0 and warm_counts["blob"] == 0,
            f"warm: 0 manifest or blob GETs (HEADs: {warm_counts['head']}, tag pages: {warm_counts['tags']})",
        )
        check(warm_counts["challenge"] == 0, "warm: no 401 round trip (realm remembered in the cache)")

        skopeo_digests, skopeo_s = skopeo_script(proxy.host, "bench/semver", work / "skopeo-home")
        cold2, cold2_s = discover(proxy.host, "bench/semver", work / "cache-a2", docker_config, **sub)
        lines.append(
            f"- skopeo list-tags + {LIMIT} x skopeo inspect: {skopeo_s:.2f}s; kargo-actions cold: {cold2_s:.2f}s "
            f"(a fresh Python process; {cold2['seconds_in_process']:.2f}s after imports began)"
        )
        check(skopeo_digests == cold2["digests"], "same digests as skopeo")
        check(
            cold2_s <= skopeo_s / 2,
            f"cold discovery <= half of the skopeo script ({cold2_s:.2f}s vs {skopeo_s:.2f}s)",
        )

        # (b) NewestBuild over 500 tags: every tag needs its date.
        cache = work / "cache-b"
        sub_b = {"imageSelectionStrategy": "NewestBuild", "discoveryLimit": LIMIT}
        mark = reg.mark()
        cold_b, cold_b_s = discover(reg.host, "bench/builds", cache, docker_config, **sub_b)
        cold_b_counts = reg.count(mark)
        mark = reg.mark()
        warm_b, warm_b_s = discover(reg.host, "bench/builds", cache, docker_config, **sub_b)
        warm_b_counts = reg.count(mark)
        lines.append(f"\n(b) NewestBuild over {TAGS_B} tags (own config and date each), no added latency")
        lines.append(f"- cold: {cold_b_s:.2f}s, registry saw {dict(cold_b_counts)}")
        lines.append(f"- warm: {warm_b_s:.2f}s, registry saw {dict(warm_b_counts)}")
        check(
            cold_b["tags"] == sorted(tags_b, reverse=True)[:LIMIT] and warm_b["tags"] == cold_b["tags"],
            "newest builds first, same answer warm",
        )
        check(
            cold_b_counts["manifest"] <= TAGS_B and cold_b_counts["blob"] <= TAGS_B,
            f"cold: <= 1 manifest GET and 1 config GET per tag ({cold_b_counts['manifest']}, {cold_b_counts['blob']})",
        )
        check(
            warm_b_counts["manifest"] == 0 and warm_b_counts["blob"] == 0,
            f"warm: 0 manifest or blob GETs ({warm_b_counts['head']} HEADs, at most one per tag)",
        )
        check(warm_b_counts["head"] <= TAGS_B, "warm: at most one HEAD per tag")

        # The same without the default pacing of 20 requests/s, to show what the pacing costs.
        fast = {"KARGO_ACTIONS_REGISTRY_RATE": "1000"}
        cache = work / "cache-b-fast"
        _, fast_cold_s = discover(reg.host, "bench/builds", cache, docker_config, fast, **sub_b)
        _, fast_warm_s = discover(reg.host, "bench/builds", cache, docker_config, fast, **sub_b)
        lines.append(
            f"- with KARGO_ACTIONS_REGISTRY_RATE=1000 instead of the default 20/s: cold {fast_cold_s:.2f}s, "
            f"warm {fast_warm_s:.2f}s (the default pacing is what makes 1,500 requests take 75 s)"
        )
    finally:
        proxy.stop()
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)

    print("\n".join(lines))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
