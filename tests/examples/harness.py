"""Run an example of examples/<name>/ end to end against local servers, as its README describes.

Placeholder convention (every example keeps to it, and only these are rewritten in the copy):
- `https://github.com/example/<repo>` is a repository on the local git HTTP server, `<server>/<repo>`;
  `https://github.com/example/<name>.git` (the example's own directory name) is the example itself: its
  tree (`.kargo/`, the GitOps layout, `.github/`) is that repository's `main`, and the pipeline is a clone
  of it. Every other `https://github.com/example/<repo>` the example names starts as a repository whose
  `main` holds one README commit.
- `ghcr.io/example/<image>` is `<registry>/<namespace>/<image>` on the local docker-registry (one
  namespace per example run, so runs sharing the registry never see each other's tags).
- `https://charts.example.com` is the local chart repository (its index: `publish_charts`).
- `https://argocd.example.com` is not rewritten: Argo CD is found through ARGOCD_SERVER (`use_argocd`).

The CLI runs in this process (`run`, `ok`, `json`); tests read what landed in git with `remote_file`,
`remote_log` and `stage` (the Stage's ledger record).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import REPO_ROOT
from tests.discovery.registry_server import ImageSpec, Registry, build_layout
from tests.support.chart_repo_server import ChartRepoServer, make_index
from tests.support.git_http_server import GitHttpServer, git, make_bare_repo

EXAMPLES = REPO_ROOT / "examples"
GITHUB = "https://github.com/example/"
REGISTRY = "ghcr.io/example/"
CHARTS = "https://charts.example.com"
TOKEN = "examples-token"
# What the examples' generated workflows call: a fixed full-length commit SHA (zizmor wants actions pinned
# to one); adopters put the release's SHA here when they regenerate (see docs/patterns.md).
USES = "kargo-actions/kargo-actions@0123456789abcdef0123456789abcdef01234567"
ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
_URL = re.compile(r"https://github\.com/example/([A-Za-z0-9._-]+)")
_namespaces = itertools.count(1)


def example_names() -> list[str]:
    """Every examples/<name>/ holding a .kargo/ folder."""
    return sorted(p.parent.name for p in EXAMPLES.glob("*/.kargo"))


def repository_url(name: str) -> str:
    """The placeholder URL of the example's own repository."""
    return f"{GITHUB}{name}.git"


@dataclass(frozen=True)
class Servers:
    """The local servers one test session shares."""

    git: GitHttpServer
    registry: Registry
    charts: ChartRepoServer


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@dataclass
class Example:
    """A copy of examples/<name>/ pushed to the local git server, with a pipeline clone to run the CLI in."""

    name: str
    work: Path
    servers: Servers
    namespace: str
    repo: Path = field(init=False)
    env: dict[str, str] = field(default_factory=dict)
    _created: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.repo = self.work / "pipeline"

    # URLs

    @property
    def registry_prefix(self) -> str:
        return f"{self.servers.registry.host}/{self.namespace}/"

    def replacements(self) -> dict[str, str]:
        return {
            GITHUB: f"{self.servers.git.url}/",
            REGISTRY: self.registry_prefix,
            CHARTS: f"{self.servers.charts.url}/{self.namespace}",
        }

    def local(self, placeholder: str) -> str:
        """The local form of a placeholder URL or image (what lands in git and in Freight)."""
        for old, new in self.replacements().items():
            if placeholder.startswith(old):
                return new + placeholder[len(old) :]
        return placeholder

    def bare(self, repository: str | None = None) -> Path:
        """The bare repository on the git server (default: the example's own)."""
        return self.servers.git.root / (repository or f"{self.name}.git")

    # artifacts

    def push_image(self, image: str, tag: str, *, created: str | None = None) -> str:
        """Push a small image as `ghcr.io/example/<path>:<tag>`; its digest. Each push is built later than
        the one before (config `created`), so NewestBuild sees them in push order."""
        path = image.removeprefix(REGISTRY)
        assert path != image, f"{image} does not start with {REGISTRY}"
        stamp = created or f"2026-01-01T00:00:{next(self._created):02d}Z"
        layout = self.work / "layouts" / f"{path.replace('/', '_')}-{tag}"
        build_layout(layout, tag, [ImageSpec(salt=f"{self.namespace}/{path}:{tag}", created=stamp)])
        self.servers.registry.push(layout, tag, f"{self.namespace}/{path}")
        got = httpx.head(
            f"http://{self.servers.registry.host}/v2/{self.namespace}/{path}/manifests/{tag}",
            headers={"Accept": ACCEPT},
        )
        got.raise_for_status()
        return str(got.headers["docker-content-digest"])

    def publish_charts(self, charts: Mapping[str, list[str]]) -> None:
        """The chart repository's index.yaml: chart name -> versions."""
        self.servers.charts.files[f"/{self.namespace}/index.yaml"] = make_index(dict(charts))

    def commit(self, files: Mapping[str, str], message: str, *, repository: str | None = None) -> str:
        """A commit on `main` of a repository on the server (default: the example's own), as a person
        pushing a change would make it; its SHA."""
        clone = self.work / f"edit-{next(self._created)}"
        subprocess.run(["git", "clone", "-q", str(self.bare(repository)), str(clone)], check=True)
        for path, text in files.items():
            target = clone / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        git(clone, "add", ".")
        git(clone, "commit", "-q", "-m", message)
        git(clone, "push", "-q", "origin", "main")
        shutil.rmtree(clone)
        return self.head(repository=repository)

    # the CLI

    def run(self, *args: str) -> Result:
        """`kargo-actions --repo PIPELINE ARGS` in this process, exit code as the entry point maps errors."""
        from kargo_actions.cli.main import main

        out, err = io.StringIO(), io.StringIO()
        code = 0
        with _environ(self.env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["--repo", str(self.repo), *args])
            except SystemExit as done:
                code = int(done.code or 0)
        return Result(code, out.getvalue(), err.getvalue())

    def ok(self, *args: str) -> str:
        """Run, require exit 0; stdout."""
        got = self.run(*args)
        assert got.code == 0, f"kargo-actions {' '.join(args)}: exit {got.code}\n{got.err}\n{got.out}"
        return got.out

    def json(self, *args: str) -> Any:
        return json.loads(self.ok("--output", "json", *args))

    def discover(self, *args: str) -> list[str]:
        """Run discovery (exit 0 required); the names of the Freight it created."""
        return [f["metadata"]["name"] for f in self.json("discover", *args)["created"]]

    def freight(self, name: str) -> Any:
        """One Freight (by ID or alias) as a Kargo Freight resource."""
        return self.json("freight", "show", name)

    def use_argocd(self, env: Mapping[str, str]) -> None:
        """Point argocd-update and argocd-wait at an Argo CD server (ARGOCD_SERVER, ARGOCD_AUTH_TOKEN)."""
        self.env.update({**env, "KARGO_ACTIONS_ARGOCD_POLL_INTERVAL": "20ms"})

    # what landed in git

    def head(self, branch: str = "main", *, repository: str | None = None) -> str:
        return git(self.bare(repository), "rev-parse", branch).strip()

    def remote_file(self, branch: str, path: str, *, repository: str | None = None) -> str:
        return git(self.bare(repository), "show", f"{branch}:{path}")

    def remote_log(self, branch: str = "main", *, repository: str | None = None) -> list[str]:
        return git(self.bare(repository), "log", "--format=%s", branch).splitlines()

    def remote_branches(self, *, repository: str | None = None) -> list[str]:
        out = git(self.bare(repository), "for-each-ref", "--format=%(refname:short)", "refs/heads/")
        return out.split()

    def stage(self, name: str) -> Any:
        """The Stage's record on the ledger branch of the pipeline's remote."""
        return json.loads(self.remote_file("kargo/ledger", f"stages/{name}.json"))

    def current(self, stage: str) -> list[str]:
        """Names of the Freight the Stage holds, per the ledger."""
        return [f["name"] for f in self.stage(stage)["currentFreight"]]


def start_example(name: str, work: Path, servers: Servers, source: Path | None = None) -> Example:
    """examples/<name>/ (or `source`, a tree in the same convention) copied with its placeholders rewritten,
    pushed as its repository's main (plus an empty repository for each other one it names), and a pipeline
    clone of it, ready for `run`."""
    source = source or EXAMPLES / name
    assert (source / ".kargo").is_dir(), f"{source} is not an example (no .kargo/)"
    example = Example(name=name, work=work, servers=servers, namespace=f"{name}-{next(_namespaces)}")
    replacements = example.replacements()
    src = work / "src"
    others: set[str] = set()
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        target = src / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text()
        others.update(_URL.findall(text))
        target.write_text(_rewrite(text, replacements))
    own = f"{name}.git"
    _push_tree(src, make_bare_repo(servers.git.root, own), "example")
    for other in sorted(others - {own, name}):
        if not (servers.git.root / other).exists():
            seed = work / f"seed-{other}"
            seed.mkdir()
            (seed / "README.md").write_text(f"# {other}\n")
            _push_tree(seed, make_bare_repo(servers.git.root, other), "initial commit")
    auth = f"http.{servers.git.url}/.extraheader=Authorization: Bearer {TOKEN}"
    subprocess.run(
        ["git", "-c", auth, "clone", "-q", servers.git.repo_url(own), str(example.repo)], check=True
    )
    git(example.repo, "config", f"http.{servers.git.url}/.extraheader", f"Authorization: Bearer {TOKEN}")
    example.env.update(
        {
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_SERVER_URL": servers.git.url,
            "GITHUB_ACTOR": "octocat",
            "KARGO_ACTIONS_INSECURE_REGISTRIES": servers.registry.host,
            "KARGO_ACTIONS_SIGN": "never",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return example


def _rewrite(text: str, replacements: Mapping[str, str]) -> str:
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


def _push_tree(tree: Path, bare: Path, message: str) -> None:
    git(tree, "init", "-q", "-b", "main")
    git(tree, "add", ".")
    git(tree, "commit", "-q", "-m", message)
    git(tree, "push", "-q", str(bare), "main")
    shutil.rmtree(tree)


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
