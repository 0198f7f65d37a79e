"""The servers every end-to-end pipeline test starts: a real registry (per module) and a git HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.discovery.registry_server import Registry
from tests.e2e.pipeline import TOKEN, servers
from tests.support.git_http_server import GitHttpServer, serve_git


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, dict[str, str]]]:
    yield from servers(tmp_path_factory.mktemp("images"))


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitHttpServer]:
    with serve_git(tmp_path / "remotes", token=TOKEN) as server:
        yield server
