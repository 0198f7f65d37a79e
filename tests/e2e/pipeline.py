"""A real pipeline for end-to-end tests: an example's tree on a token-protected smart-HTTP git server, the
guestbook image tags in a real docker-registry, and a pipeline clone that runs the CLI in process.

Only repository and image URLs of the example are rewritten (to the local servers). Freight is recorded
through the Ledger API from digests read back from the registry: `record_discovered` is the hook where
`kargo-actions discover` will slot in once it records Freight itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.discovery.registry_server import ImageSpec, Registry, build_layout, require_tools, start_registry
from tests.support.git_http_server import GitHttpServer, git, make_bare_repo

TOKEN = "e2e-token"
TAGS = ("v0.0.1", "v0.0.2", "v0.0.3", "v0.0.4", "v0.0.5")
IMAGE_PATH = "akuity/guestbook"


def push_guestbook(registry: Registry, work: Path, tags: tuple[str, ...] = TAGS) -> dict[str, str]:
    """Push one small image per tag with skopeo; the digests as the registry reports them."""
    for tag in tags:
        layout = work / f"layout-{tag}"
        build_layout(layout, tag, [ImageSpec(salt=tag)])
        registry.push(layout, tag, IMAGE_PATH)
    digests: dict[str, str] = {}
    accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
    for tag in tags:
        got = httpx.head(
            f"http://{registry.host}/v2/{IMAGE_PATH}/manifests/{tag}", headers={"Accept": accept}
        )
        got.raise_for_status()
        digests[tag] = got.headers["docker-content-digest"]
    return digests


def rewrite(text: str, replacements: Mapping[str, str]) -> str:
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


@dataclass
class Pipeline:
    """The pipeline clone and the servers behind it; `run` invokes the CLI in this process."""

    repo: Path
    server: GitHttpServer
    remote_name: str
    image: str
    digests: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def repo_url(self) -> str:
        return self.server.repo_url(self.remote_name)

    def run(self, *args: str) -> tuple[int, str, str]:
        """`kargo-actions ARGS` in this process (exit code, stdout, stderr), as the entry point maps errors."""
        import contextlib
        import io

        from kargo_actions.cli.main import main

        out, err = io.StringIO(), io.StringIO()
        code = 0
        with _environ(self.env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["--repo", str(self.repo), "--config-dir", "kargo", *args])
            except SystemExit as done:
                code = int(done.code or 0)
        return code, out.getvalue(), err.getvalue()

    def json(self, *args: str) -> Any:
        code, out, err = self.run("-o", "json", *args)
        assert code == 0, err
        return json.loads(out)

    def remote_file(self, branch: str, path: str) -> str:
        return git(self.server.root / self.remote_name, "show", f"{branch}:{path}")

    def remote_log(self, branch: str) -> list[str]:
        return git(self.server.root / self.remote_name, "log", "--format=%s", branch).splitlines()

    def record_discovered(self, tag: str, created: str, *, commit: bool = False) -> str:
        """Record the Freight of one guestbook tag, with the head of main when the Warehouse also
        subscribes to the repository (hook: `kargo-actions discover` replaces this)."""
        from kargo_actions.discovery.assemble import (
            Artifacts,
            assemble_freight,
            parse_commit_ref,
            parse_image_ref,
        )
        from kargo_actions.ledger import Ledger
        from kargo_actions.manifests import load_project

        project = load_project(self.repo / "kargo")
        warehouse = next(iter(project.warehouses.values()))
        image = parse_image_ref(f"{self.image}:{tag}@{self.digests[tag]}")
        commits: tuple[Any, ...] = ()
        if commit:
            head = git(self.server.root / self.remote_name, "rev-parse", "main").strip()
            commits = (parse_commit_ref(f"repoURL={self.repo_url},id={head},branch=main"),)
        item = assemble_freight(
            warehouse, Artifacts(images=(image,), commits=commits, charts=()), alias=tag.replace(".", "-")
        )
        item = item.model_copy(
            update={"metadata": item.metadata.model_copy(update={"creation_timestamp": created})}
        )
        with _environ(self.env), Ledger(self.repo) as ledger:
            return ledger.record_freight(item).freight.name


class _environ:
    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for key, value in self.values.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value

    def __exit__(self, *exc: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build_pipeline(
    example: Path,
    work: Path,
    server: GitHttpServer,
    registry: Registry,
    digests: dict[str, str],
    *,
    name: str,
    repo_urls: tuple[str, ...],
    image: str,
    subdir: str = "",
) -> Pipeline:
    """The example's tree (URLs rewritten) pushed to `name` on the server, and a pipeline clone of it."""
    local_image = f"{registry.host}/{IMAGE_PATH}"
    replacements = {url: server.repo_url(name) for url in repo_urls}
    replacements[image] = local_image
    src = work / f"{name}-src"
    for path in sorted(example.rglob("*")):
        if ".git" in path.parts or not path.is_file():
            continue
        target = src / path.relative_to(example)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in (".yaml", ".yml"):
            target.write_text(rewrite(path.read_text(), replacements))
        else:
            shutil.copyfile(path, target)
    bare = make_bare_repo(server.root, name)
    git(src, "init", "-q", "-b", "main")
    git(src, "add", ".")
    git(src, "commit", "-q", "-m", "example")
    git(src, "push", "-q", str(bare), "main")
    repo = work / f"{name}-pipeline"
    auth = f"http.{server.url}/.extraheader=Authorization: Bearer {TOKEN}"
    subprocess.run(["git", "-c", auth, "clone", "-q", server.repo_url(name), str(repo)], check=True)
    git(repo, "config", f"http.{server.url}/.extraheader", f"Authorization: Bearer {TOKEN}")
    env = {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_SERVER_URL": server.url,
        "GITHUB_ACTOR": "octocat",
        "KARGO_ACTIONS_INSECURE_REGISTRIES": registry.host,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return Pipeline(repo=repo, server=server, remote_name=name, image=local_image, digests=digests, env=env)


def servers(tmp: Path) -> Iterator[tuple[Registry, dict[str, str]]]:
    require_tools()
    registry = start_registry(tmp / "registry")
    try:
        yield registry, push_guestbook(registry, tmp)
    finally:
        registry.stop()
