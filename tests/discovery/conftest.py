"""Fixtures shared by the discovery tests (the registry ones live in registry_server.py)."""

from __future__ import annotations

from tests.discovery.registry_server import (  # noqa: F401  (fixtures, registered by import)
    basic_registry,
    paging_server,
    plain_registry,
    token_registry,
)
