"""The local discovery demo (`python -m kargo_actions.demo`), run as scripts/demo.sh runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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


@pytest.fixture(scope="module")
def demo_output() -> str:
    require_tools()
    done = demo()
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_demo_discovers_two_freight_then_nothing_new(demo_output: str) -> None:
    out = demo_output
    assert out.count("web: created Freight ") == 2
    assert out.count("already exists") == 1
    assert "demo/web:1.1.0" in out
    assert "demo/web:1.2.0" in out
    assert "ALIAS" in out  # freight list ran


def test_demo_promotes_test_and_uat_and_prod_is_gated(demo_output: str) -> None:
    out = demo_output
    assert "\ntest: test." in out
    assert "Succeeded (Freight " in out
    assert "\nuat: uat." in out  # promote --auto took uat, verified in test
    assert "\n  verified in uat\n" in out  # then uat's verification read the demo's health endpoint twice
    assert "/web/health  (what uat's verification reads)" in out
    assert "prod: skipped (auto-promotion is not enabled" in out
    assert "prod requires 1h soak" in out
    assert "(exit 3: prod is gated on a 1h soak in uat" in out
    # The config repository holds both promotions, each overlay pinned to the newest tag.
    assert out.count("Updated ./src/stages/") == 2
    assert out.count("  newTag: 1.2.0") == 2


def test_demo_says_what_to_install_when_tools_are_missing(tmp_path: os.PathLike[str]) -> None:
    done = demo({"PATH": str(tmp_path)})
    assert done.returncode == 3
    assert "apt-get install docker-registry skopeo git" in done.stderr
