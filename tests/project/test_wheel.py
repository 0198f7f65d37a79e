"""The package as users install it: a wheel built from the tree, installed into a fresh virtual environment
(its dependencies at the lock's versions) and run from a directory with no checkout around it: --version,
validate of an example, and the demo (discover and a full promotion of the bundled pipeline against local
servers), kept for dashboard, graph, expr and workflows generate; every data file of the package is inside.
Dependencies come from the package index (uv, with one cache for the session)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.discovery.registry_server import require_tools
from tests.support.demo_process import READY, KeptDemo

pytestmark = pytest.mark.slow
UV = Path(sys.executable).parent / "uv"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    elsewhere: Path  # a working directory far from the checkout

    def env(self, home: Path) -> dict[str, str]:
        """Only the installed environment and the system's tools: no checkout on any path."""
        return {
            "PATH": f"{self.venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "LANG": "C.UTF-8",
        }

    def run(self, home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kargo-actions", *args],
            cwd=cwd or self.elsewhere,
            env=self.env(home),
            capture_output=True,
            text=True,
            timeout=120,
        )


def _uv(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run([str(UV), *args], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    if not UV.exists():
        pytest.fail("uv is not installed beside this Python: pip install -e '.[dev]'")
    base = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "UV_CACHE_DIR": str(base / "uv-cache")}
    dist = base / "dist"
    _uv("build", "--wheel", "--quiet", "--out-dir", str(dist), str(REPO_ROOT), env=env)
    (built,) = dist.glob("kargo_actions-*.whl")
    wheel = shutil.copy2(built, base / built.name)  # the wheel alone, away from the tree
    venv = base / "venv"
    _uv("venv", "--quiet", "--python", sys.executable, str(venv), env=env)
    # The wheel's own dependency metadata resolved, held to the lock's versions.
    _uv(
        "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
        str(wheel), "--constraint", str(REPO_ROOT / "requirements" / "run.txt"), env=env,
    )  # fmt: skip
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return Installed(Path(wheel), venv, elsewhere)


def test_every_data_file_of_the_package_is_in_the_wheel(installed: Installed) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "kargo_actions"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    data = {name for name in tracked if not name.endswith(".py")}
    assert {"kargo_actions/expressions/grammar.lark", "kargo_actions/demo/pipeline/stages.yaml"} <= data
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    assert sorted(data - names) == []
    assert not any(name.startswith(("tests/", "examples/", "docs/")) for name in names)


def test_the_installed_command_runs_without_a_checkout(installed: Installed, tmp_path: Path) -> None:
    version = installed.run(tmp_path, "--version")
    assert version.returncode == 0, version.stderr
    assert re.fullmatch(r"kargo-actions, version \S+\n", version.stdout)
    where = subprocess.run(
        [str(installed.venv / "bin" / "python"), "-c", "import kargo_actions; print(kargo_actions.__file__)"],
        cwd=installed.elsewhere,
        env=installed.env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(installed.venv)), where  # the wheel's copy, not the checkout
    example = tmp_path / "image-updater"
    shutil.copytree(REPO_ROOT / "examples" / "image-updater", example)  # links resolved to files
    valid = installed.run(tmp_path, "--repo", str(example), "validate")
    assert valid.returncode == 0, valid.stderr
    assert "demo: valid: 1 warehouse, 3 stages" in valid.stdout
    expr = installed.run(tmp_path, "expr", 'semverParse("1.4.2").IncMinor().String()')  # the grammar
    assert expr.returncode == 0, expr.stderr
    assert expr.stdout.strip() == '"1.5.0"'


def test_the_installed_demo_promotes_and_keeps_its_servers_for_the_tour(
    installed: Installed, tmp_path: Path
) -> None:
    require_tools()
    proc = subprocess.Popen(
        ["kargo-actions", "demo", "--keep"],
        cwd=installed.elsewhere,
        env=installed.env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    demo = KeptDemo(proc)
    demo.start_pump()
    try:
        out = demo.read_until(READY, timeout=240)
        assert out.count("web: created Freight ") == 2  # discovery, aliases from the word lists
        assert "\ntest: test." in out
        assert "\n  verified in uat\n" in out
        assert "(exit 3: prod is gated on a 1h soak in uat" in out
        pipeline = Path(re.search(r"^pipeline   (\S+)$", out, re.M).group(1))  # type: ignore[union-attr]
        site = tmp_path / "site"
        for args in (
            ("dashboard", "--out", str(site)),
            ("graph", "--format", "mermaid"),
            ("workflows", "generate", "--uses", "./kargo-actions"),
            ("--output", "json", "freight", "list"),
        ):
            done = installed.run(tmp_path, *args, cwd=pipeline)
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert (site / "index.html").is_file()
        assert (pipeline / ".github" / "workflows").is_dir()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert not pipeline.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
