"""A pipeline repository whose Warehouses watch real local servers: docker-registry, git smart HTTP, a Helm index."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.discovery.registry_server import ImageSpec, Registry, build_layout, require_tools, start_registry
from tests.support.chart_repo_server import ChartRepoServer, make_index, serve_charts
from tests.support.git_history import History, rev
from tests.support.git_http_server import GitHttpServer, make_bare_repo, serve_git


@dataclass
class World:
    """The servers, the pipeline repository (with .kargo/) and where things live."""

    registry: Registry
    git: GitHttpServer
    charts: ChartRepoServer
    repo: Path
    git_root: Path
    layouts: Path
    digests: dict[str, str]

    @property
    def image(self) -> str:
        return f"{self.registry.host}/demo/app"

    @property
    def git_url(self) -> str:
        return self.git.repo_url("config.git")

    @property
    def chart_url(self) -> str:
        return self.charts.url

    def head(self) -> str:
        return rev(self.git_root / "config.git", "main")

    def push_tag(self, tag: str, source: str = "1.0.0") -> str:
        """A new tag of the image (a manifest PUT of an existing image); its digest."""
        self.registry.retag("demo/app", source, [tag])
        self.digests[tag] = self.digests[source]
        return self.digests[source]

    def write_manifests(self, text: str) -> None:
        (self.repo / ".kargo").mkdir(exist_ok=True)
        (self.repo / ".kargo" / "warehouses.yaml").write_text(text)

    def warehouse(
        self,
        name: str,
        *,
        policy: str = "Automatic",
        criteria: str | None = None,
        image: str | None = None,
        git: str | None = None,
        chart: bool = True,
    ) -> str:
        """A Warehouse manifest watching the image, the git repository and the chart (by default)."""
        lines = [
            "apiVersion: kargo.akuity.io/v1alpha1",
            "kind: Warehouse",
            "metadata:",
            f"  name: {name}",
            "  namespace: demo",
            "spec:",
            f"  freightCreationPolicy: {policy}",
        ]
        if criteria is not None:
            lines += ["  freightCreationCriteria:", f"    expression: {json.dumps(criteria)}"]
        lines += [
            "  subscriptions:",
            "  - image:",
            f"      repoURL: {image or self.image}",
            "      discoveryLimit: 5",
            "  - git:",
            f"      repoURL: {git or self.git_url}",
            "      branch: main",
        ]
        if chart:
            lines += ["  - chart:", f"      repoURL: {self.chart_url}", "      name: app"]
        return "\n".join(lines) + "\n"


@contextmanager
def world(tmp_path: Path) -> Iterator[World]:
    """Start a registry with demo/app:1.0.0, a git server with a 3-commit repo, a chart index; a pipeline repo."""
    require_tools()
    with ExitStack() as stack:
        registry = start_registry(tmp_path / "registry")
        stack.callback(registry.stop)
        layouts = tmp_path / "layouts"
        layout = layouts / "app-1.0.0"
        digest = build_layout(layout, "1.0.0", [ImageSpec(salt="demo-app")])
        registry.push(layout, "1.0.0", "demo/app")
        git_root = tmp_path / "git"
        git_root.mkdir()
        history = History()
        for i in range(3):
            history.commit(f"config change {i}", {f"stages/test/file{i}.yaml": str(i)})
        history.write(make_bare_repo(git_root, "config.git"))
        git = stack.enter_context(serve_git(git_root))
        charts = stack.enter_context(serve_charts({"/index.yaml": make_index({"app": ["1.0.0", "1.1.0"]})}))
        repo = tmp_path / "pipeline"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        subprocess.run(
            ["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "pipeline"], check=True
        )
        yield World(registry, git, charts, repo, git_root, layouts, {"1.0.0": digest})
