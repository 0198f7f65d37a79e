"""`kargo-actions demo`: the bundled pipeline against local servers, from discovery to a gated prod.

A docker-registry and a git smart-HTTP server on free ports of 127.0.0.1, demo image tags pushed with
skopeo, then `discover`, `freight list`, `promote` (test by hand, uat by auto-promotion and verified against
a local health endpoint, prod refused by its soak gate), `status` and `history` on a copy of the pipeline
that ships in the package. With `keep` the servers stay up for the README's tour until Ctrl-C.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from kargo_actions.demo import PIPELINE
from kargo_actions.demo.servers import (
    DEMO_IMAGE,
    LocalRegistry,
    make_config_repo,
    missing_tools,
    push_image,
    serve_git,
    serve_health,
    start_registry,
)
from kargo_actions.errors import RefusedError
from kargo_actions.struct import struct

# What the bundled pipeline points at, and what the demo replaces it with.
EXAMPLE_REGISTRY = "localhost:5000"
EXAMPLE_GIT = "http://localhost:8080"
EXAMPLE_HEALTH = "http://localhost:8081"  # uat's verification reads <this>/<service>/health
# A local-only, unsigned ledger: the pipeline repository has no remote and the demo no signing key.
DEMO_ENV = {"KARGO_ACTIONS_LEDGER_REMOTE": "", "KARGO_ACTIONS_SIGN": "never"}
IDENTITY = {"user.name": "demo", "user.email": "demo@example.com"}


class MissingTools(RefusedError):
    """The demo's servers need programs that are not installed (exit 3, as the demo always said)."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            f"the demo needs {', '.join(missing)}: install them (Debian: apt-get install {' '.join(missing)})"
        )


@struct
class Servers:
    registry: LocalRegistry
    git_root: Path
    git_base: str
    health_base: str
    layouts: Path


def say(text: str = "") -> None:
    print(text, flush=True)  # before the next command's own output on the same terminal


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def prepare_pipeline(source: Path, target: Path, servers: Servers) -> Path:
    """A git repository with a copy of the pipeline's manifests in .kargo/, pointed at the demo's servers."""
    kargo = target / ".kargo"
    kargo.mkdir(parents=True)
    for path in sorted(source.glob("*.yaml")):
        text = path.read_text().replace(EXAMPLE_REGISTRY, servers.registry.host)
        text = text.replace(EXAMPLE_GIT, servers.git_base).replace(EXAMPLE_HEALTH, servers.health_base)
        (kargo / path.name).write_text(text)
    _git(target, "init", "-q", "-b", "main")
    for key, value in IDENTITY.items():  # the tour's commands commit here without a global git identity
        _git(target, "config", key, value)
    _git(target, "add", ".")
    _git(target, "commit", "-qm", "pipeline")
    return target


def kargo_actions(repo: Path, *args: str) -> int:
    """Run the CLI as a user would, on the demo pipeline, with a local-only unsigned ledger."""
    say(f"\n$ kargo-actions {' '.join(args)}")
    env = {**os.environ, **DEMO_ENV}
    command = [sys.executable, "-m", "kargo_actions", "--repo", str(repo), *args]
    return subprocess.run(command, env=env, check=False).returncode


def start_servers(stack: ExitStack, workdir: Path) -> Servers:
    """The registry with 1.0.0 and 1.1.0 pushed, the config repository's git server, the health endpoint."""
    registry = start_registry(workdir / "registry")
    stack.callback(registry.stop)
    git_root = workdir / "git"
    git_root.mkdir()
    make_config_repo(git_root)
    git_base = stack.enter_context(serve_git(git_root))
    say(f"registry   http://{registry.host}  (docker-registry)")
    say(f"git        {git_base}/demo-config.git  (git http-backend)")
    layouts = workdir / "layouts"
    for tag, day in (("1.0.0", 1), ("1.1.0", 2)):
        push_image(layouts, registry, tag, f"2024-06-0{day}T00:00:00Z")
        say(f"pushed     {registry.host}/{DEMO_IMAGE}:{tag}")
    health_base = stack.enter_context(serve_health())
    say(f"health     {health_base}/web/health  (what uat's verification reads)")
    return Servers(registry, git_root, git_base, health_base, layouts)


def run_tour(repo: Path, servers: Servers) -> int:
    """Discover twice around a new tag, promote test and uat, show prod refused, then status and history."""
    codes = [kargo_actions(repo, "discover"), kargo_actions(repo, "freight", "list")]
    push_image(servers.layouts, servers.registry, "1.2.0", "2024-06-03T00:00:00Z")
    say(f"\npushed     {servers.registry.host}/{DEMO_IMAGE}:1.2.0")
    codes += [kargo_actions(repo, "discover"), kargo_actions(repo, "freight", "list")]
    codes.append(kargo_actions(repo, "discover"))  # nothing new: nothing created, nothing written
    # test takes the newest Freight directly (no verification defined, so success verifies); uat
    # auto-promotes it and runs its verification (the health endpoint's error rate, read twice); prod needs
    # 1h of soak in uat after that, so it is refused.
    codes.append(kargo_actions(repo, "promote", "--stage", "test", "--warehouse", "web"))
    codes.append(kargo_actions(repo, "promote", "--auto"))
    refused = kargo_actions(repo, "promote", "--stage", "prod", "--warehouse", "web")
    say(f"(exit {refused}: prod is gated on a 1h soak in uat, as its Stage says)")
    codes += [kargo_actions(repo, "status"), kargo_actions(repo, "history", "--stage", "uat")]
    show_config(servers.git_root / "demo-config.git")
    return max(codes)


def show_config(bare: Path) -> None:
    """What the promotions pushed: each Stage's kustomization and the config repository's log."""
    say("\n$ git log --oneline main   # in the config repository the promotions pushed to")
    log = subprocess.run(
        ["git", "log", "--oneline", "main"], cwd=bare, capture_output=True, text=True, check=False
    )
    say(log.stdout.rstrip())
    for stage in ("test", "uat"):
        shown = subprocess.run(
            ["git", "show", f"main:stages/{stage}/kustomization.yaml"],
            cwd=bare,
            capture_output=True,
            text=True,
            check=False,
        )
        say(f"\n--- stages/{stage}/kustomization.yaml\n{shown.stdout.rstrip()}")


def shell_line(repo: Path) -> str:
    """`cd` into the pipeline and `export` what the tour's commands need there (and kargo-actions on PATH)."""
    exports = [f"{name}={shlex.quote(value)}" for name, value in DEMO_ENV.items()]
    here = Path(sys.executable).parent
    found = shutil.which("kargo-actions")
    if (here / "kargo-actions").is_file() and (found is None or Path(found).parent != here):
        exports.append(f'PATH={shlex.quote(str(here))}:"$PATH"')
    return f"cd {shlex.quote(str(repo))} && export {' '.join(exports)}"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the kept servers as Ctrl-C does


def wait_for_interrupt(repo: Path, workdir: Path) -> None:
    """Keep the servers until Ctrl-C (or SIGTERM), after saying how to use them."""
    say("\nThe servers keep running. In another terminal, every command of the README's tour runs here:")
    say(f"\n  {shell_line(repo)}")
    say("  kargo-actions status")
    say("  kargo-actions freight list")
    say("  kargo-actions promote --stage prod --warehouse web   # refused until uat's 1h soak is over")
    say(f"\npipeline   {repo}")
    say(f"Ctrl-C stops the servers and removes {workdir}.")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        say("\nstopping the demo's servers")
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_demo(keep: bool = False, source: Path = PIPELINE) -> int:
    """The whole demo in a temporary directory, removed at the end; `keep` holds the servers until Ctrl-C.

    Raises MissingTools before anything starts when docker-registry, skopeo or git is not installed.
    """
    missing = missing_tools()
    if missing:
        raise MissingTools(missing)
    workdir = Path(tempfile.mkdtemp(prefix="kargo-actions-demo-"))
    try:
        with ExitStack() as stack:
            servers = start_servers(stack, workdir)
            repo = prepare_pipeline(source, workdir / "pipeline", servers)
            say(f"pipeline   {repo}  (the bundled pipeline, pointed at these servers)")
            code = run_tour(repo, servers)
            if keep:
                wait_for_interrupt(repo, workdir)
        return code
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if keep:
            say(f"stopped; removed {workdir}")
