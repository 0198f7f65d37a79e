"""The local demo (`kargo-actions demo`): its pipeline, its servers (servers.py) and its run (run.py).

The pipeline's manifests ship in the package (pipeline/) so the demo runs from an installed wheel;
examples/image-updater/.kargo links to them.
"""

from __future__ import annotations

from pathlib import Path

from kargo_actions.demo.servers import GitBackendHandler, serve_loopback

PIPELINE = Path(__file__).with_name("pipeline")

__all__ = ["PIPELINE", "GitBackendHandler", "serve_loopback"]
