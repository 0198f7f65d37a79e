"""A real registry (Debian's docker-registry on 127.0.0.1) holding small OCI artifacts, for the oci steps."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.discovery.registry_server import (
    ImageSpec,
    Registry,
    build_layout,
    require_tools,
    start_registry,
)

CHART_CONFIG = "application/vnd.cncf.helm.config.v1+json"
CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
README_LAYER = "text/plain"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CHART_BYTES = b"\x1f\x8b pretend chart archive " * 50
README_BYTES = b"read me first\n"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Seeded:
    """The registry and what it holds: the chart artifact's manifest digest, the multi-platform index's."""

    registry: Registry
    chart_digest: str
    index_digest: str

    @property
    def host(self) -> str:
        return self.registry.host


def chart_manifest() -> bytes:
    config = b"{}"
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": CHART_CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [
            {"mediaType": README_LAYER, "digest": digest_of(README_BYTES), "size": len(README_BYTES)},
            {"mediaType": CHART_LAYER, "digest": digest_of(CHART_BYTES), "size": len(CHART_BYTES)},
        ],
        "annotations": {"org.opencontainers.image.title": "demo"},
    }
    return json.dumps(manifest, sort_keys=True).encode()


def seeded_registry(work: Path) -> Iterator[Seeded]:
    """Start docker-registry, upload charts/demo:1.0.0 and push app/multi:1.0.0 (two platforms)."""
    require_tools()
    registry = start_registry(work / "server")
    try:
        body = chart_manifest()
        registry.upload("charts/demo", [b"{}", README_BYTES, CHART_BYTES], [("1.0.0", body)])
        layout = work / "layout"
        index = build_layout(
            layout,
            "1.0.0",
            [ImageSpec(architecture="amd64", salt="oci"), ImageSpec(architecture="arm64", salt="oci")],
        )
        registry.push(layout, "1.0.0", "app/multi", all_platforms=True)
        yield Seeded(registry, digest_of(body), index)
    finally:
        registry.stop()
