"""Fixtures: the GitHub test server (github-checks provider, kargo/verified statuses) and a real Prometheus."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.github_fixtures import github, github_client, github_contract

__all__ = ["github", "github_client", "github_contract", "prometheus"]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the prometheus binary is missing (Debian package prometheus, in scripts/test.sh)")
        pytest.skip("the prometheus binary is absent (apt-get install prometheus)")
    from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

    registry = CollectorRegistry()
    Gauge("app_success_rate", "share of good requests", registry=registry).set(0.97)
    requests = Counter("app_requests", "requests", ["code"], registry=registry)
    requests.labels(code="200").inc(95)
    requests.labels(code="500").inc(5)
    exporter_port = _free_port()
    server, _thread = start_http_server(exporter_port, addr="127.0.0.1", registry=registry)
    work = tmp_path_factory.mktemp("prometheus")
    config = work / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"- job_name: app\n  static_configs:\n  - targets: ['127.0.0.1:{exporter_port}']\n"
    )
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:  # ready once the first scrape of the exporter is in
            try:
                got = httpx.get(f"{url}/api/v1/query", params={"query": "app_success_rate"}, timeout=1)
                if got.status_code == 200 and got.json()["data"]["result"]:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("Prometheus did not scrape the exporter within 20 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.shutdown()
