"""The local demo (`kargo-actions demo --keep`), run as scripts/demo.sh runs it, then the README's tour
against the servers it keeps, then Ctrl-C."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kargo_actions.demo import PIPELINE
from tests.conftest import REPO_ROOT
from tests.discovery.registry_server import require_tools
from tests.support.demo_process import READY, KeptDemo, start_demo


@pytest.fixture(scope="module")
def kept() -> Iterator[KeptDemo]:
    require_tools()
    demo = start_demo("--keep")
    try:
        demo.read_until(READY, timeout=240)
        yield demo
    finally:
        if demo.proc.poll() is None:
            demo.proc.kill()
            demo.proc.wait()


@pytest.fixture(scope="module")
def demo_output(kept: KeptDemo) -> str:
    return "".join(kept.seen)


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


def _registry_port(out: str) -> int:
    found = re.search(r"registry   http://127\.0\.0\.1:(\d+)", out)
    assert found, out
    return int(found.group(1))


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_keep_serves_the_tour_until_ctrl_c(kept: KeptDemo, tmp_path: Path) -> None:
    out = "".join(kept.seen)
    line = next(li.strip() for li in kept.seen if li.strip().startswith("cd ") and "export " in li)
    pipeline = Path(re.search(r"^pipeline   (\S+)$", out, re.M).group(1))  # type: ignore[union-attr]
    workdir = pipeline.parent
    assert line.startswith(f"cd {pipeline} && export KARGO_ACTIONS_LEDGER_REMOTE='' KARGO_ACTIONS_SIGN=never")
    # The printed line is all the tour's commands need, from a shell with a bare PATH and no git identity.
    tour = (
        f"{line} && kargo-actions validate && kargo-actions discover && kargo-actions freight list"
        " && kargo-actions promote --stage test --warehouse web && kargo-actions status"
    )
    shell_env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(["bash", "-c", tour], capture_output=True, text=True, env=shell_env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already exists" in done.stdout  # discover reached the kept registry: nothing new
    assert "Succeeded (Freight " in done.stdout  # the promotion cloned from and pushed to the kept git server
    port = _registry_port(out)
    assert _listening(port)

    kept.proc.send_signal(signal.SIGINT)
    assert kept.proc.wait(timeout=30) == 0
    rest = kept.read_until("stopped; removed", timeout=5)
    assert "Traceback" not in rest
    assert not workdir.exists()
    assert not _listening(port)


def test_demo_says_what_to_install_when_tools_are_missing(tmp_path: Path) -> None:
    demo = start_demo(env={"PATH": str(tmp_path)})
    assert demo.proc.wait(timeout=60) == 3
    out = demo.read_until("apt-get install", timeout=5)
    assert "apt-get install docker-registry skopeo git" in out
    assert "Traceback" not in out


def test_examples_image_updater_links_to_the_packaged_pipeline() -> None:
    """One copy of the demo's pipeline: in the package (so the wheel has it), linked from the example."""
    example = REPO_ROOT / "examples" / "image-updater" / ".kargo"
    assert sorted(p.name for p in example.iterdir()) == sorted(p.name for p in PIPELINE.glob("*.yaml"))
    for path in example.iterdir():
        assert path.is_symlink(), f"{path} should link to kargo_actions/demo/pipeline/{path.name}"
        assert path.resolve() == (PIPELINE / path.name).resolve()
