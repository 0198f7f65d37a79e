"""Network steps: http and http-download against a local HTTP server, oci-push and oci-download against a local
docker-registry (skipped with a message when docker-registry is not installed).

Targets: an http step run under 20 ms, an http-download of 1 MiB under 50 ms, an oci-push copy of a 1 MiB
artifact to another repository and an oci-download of it under 500 ms each (all on 127.0.0.1).
Run: .venv/bin/python benchmarks/bench_network_steps.py
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kargo_actions.promotion.step_api import StepContext, validate_config  # noqa: E402
from kargo_actions.promotion.steps.http import HTTP, HTTPConfig  # noqa: E402
from kargo_actions.promotion.steps.http_download import HTTPDownload, HTTPDownloadConfig  # noqa: E402
from kargo_actions.promotion.steps.oci_download import OCIDownload, OCIDownloadConfig  # noqa: E402
from kargo_actions.promotion.steps.oci_push import OCIPush, OCIPushConfig  # noqa: E402

TARGETS_MS = {"http": 20.0, "http-download 1 MiB": 50.0, "oci-push 1 MiB": 500.0, "oci-download 1 MiB": 500.0}


def median_ms(run: Callable[[int], object], times: int) -> float:
    samples = []
    for i in range(times):
        start = time.perf_counter()
        run(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    from tests.promotion.steps.http_fixture import Server

    results: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix="bench-network-"))
    ctx = StepContext(work_dir=work)
    server = Server()
    try:
        http = validate_config(
            "http",
            HTTPConfig,
            {
                "url": server.url + "/echo",
                "successExpression": "response.status == 200",
                "outputs": [{"name": "m", "fromExpression": "response.body.method"}],
            },
        )
        results["http"] = median_ms(lambda _: HTTP().run(ctx, http), 100)
        download = validate_config(
            "http-download",
            HTTPDownloadConfig,
            {"url": server.url + "/big?size=1048576", "outPath": "big.bin", "allowOverwrite": True},
        )
        results["http-download 1 MiB"] = median_ms(lambda _: HTTPDownload().run(ctx, download), 30)
    finally:
        server.stop()
    if shutil.which("docker-registry") is None:
        print("docker-registry not installed: oci steps skipped")
    else:
        results.update(oci(work))
    shutil.rmtree(work, ignore_errors=True)
    failed = False
    for name, value in results.items():
        ok = value <= TARGETS_MS[name]
        failed |= not ok
        print(
            f"{name:22} {value:8.1f} ms (median; target {TARGETS_MS[name]:.0f} ms) {'ok' if ok else 'MISSED'}"
        )
    return 1 if failed else 0


def oci(work: Path) -> dict[str, float]:
    import hashlib
    import json
    import os

    from tests.discovery.registry_server import start_registry

    registry = start_registry(work / "registry")
    try:
        layer = os.urandom(1024 * 1024)
        config = b"{}"

        def desc(media: str, data: bytes) -> dict[str, object]:
            return {
                "mediaType": media,
                "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }

        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": desc("application/vnd.cncf.helm.config.v1+json", config),
                "layers": [desc("application/vnd.cncf.helm.chart.content.v1.tar+gzip", layer)],
            }
        ).encode()
        registry.upload("bench/src", [config, layer], [("1.0.0", manifest)])
        ctx = StepContext(work_dir=work)
        host = registry.host

        def push(i: int) -> None:
            cfg = validate_config(
                "oci-push",
                OCIPushConfig,
                {"srcRef": f"{host}/bench/src:1.0.0", "destRef": f"{host}/bench/dst{i}:1.0.0"},
            )
            OCIPush().run(ctx, cfg)

        def pull(i: int) -> None:
            cfg = validate_config(
                "oci-download",
                OCIDownloadConfig,
                {"imageRef": f"{host}/bench/dst{i}:1.0.0", "outPath": "chart.tgz", "allowOverwrite": True},
            )
            OCIDownload().run(ctx, cfg)

        return {"oci-push 1 MiB": median_ms(push, 10), "oci-download 1 MiB": median_ms(pull, 10)}
    finally:
        registry.stop()


if __name__ == "__main__":
    raise SystemExit(main())
