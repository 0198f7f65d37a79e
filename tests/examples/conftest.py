"""The local servers the examples run against, shared by the session, and the `example` factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.discovery.registry_server import require_tools, start_registry
from tests.examples.harness import TOKEN, Example, Servers, start_example
from tests.support.chart_repo_server import serve_charts
from tests.support.git_http_server import serve_git


@pytest.fixture(scope="session")
def example_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    require_tools()
    registry = start_registry(tmp_path_factory.mktemp("example-registry"), access_log=False)
    try:
        with (
            serve_git(tmp_path_factory.mktemp("example-remotes"), token=TOKEN) as git_server,
            serve_charts() as charts,
        ):
            yield Servers(git=git_server, registry=registry, charts=charts)
    finally:
        registry.stop()


@pytest.fixture
def example(tmp_path: Path, example_servers: Servers) -> Callable[[str], Example]:
    """start(name): examples/<name>/ on the local servers, with a pipeline clone to run the CLI in."""

    def start(name: str) -> Example:
        return start_example(name, tmp_path / name, example_servers)

    return start
