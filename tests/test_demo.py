"""The local discovery demo (`python -m kargo_actions.demo`), run as scripts/demo.sh runs it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT
from tests.discovery.registry_server import require_tools


def demo(env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kargo_actions.demo", str(REPO_ROOT / "examples" / "image-updater")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=240,
    )


def test_demo_discovers_two_freight_then_nothing_new() -> None:
    require_tools()
    done = demo()
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.count("web: created Freight ") == 2
    assert out.count("already exists") == 1
    assert "demo/web:1.1.0" in out
    assert "demo/web:1.2.0" in out
    assert "ALIAS" in out  # freight list ran


def test_demo_says_what_to_install_when_tools_are_missing(tmp_path: os.PathLike[str]) -> None:
    done = demo({"PATH": str(tmp_path)})
    assert done.returncode == 3
    assert "apt-get install docker-registry skopeo git" in done.stderr
