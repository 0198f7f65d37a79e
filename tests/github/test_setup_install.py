"""actions/setup/install.sh: a Python older than 3.11 is refused naming its version, the stamp (and so the
cache key) follows the lock file and the extra, and a cold install comes from the lock with every hash
checked (uv resolves nothing: a changed hash fails). The cold installs download from the package index."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.support.workflow_tools import load_yaml

INSTALL = REPO_ROOT / "actions" / "setup" / "install.sh"

# The real interpreter, reporting an older version: no Python older than 3.11 is on the machine.
OLD_PYTHON = f"""#!{sys.executable}
import sys
code = sys.argv[2]
sys.argv = sys.argv[2:]
sys.version_info = (3, 9, 18, "final", 0)
exec(code)
"""


def install(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(env.pop("script", INSTALL)), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )


def test_a_python_older_than_3_11_is_refused_naming_its_version(tmp_path: Path) -> None:
    old = tmp_path / "python3.9"
    old.write_text(OLD_PYTHON)
    old.chmod(0o755)
    done = install(KARGO_ACTIONS_PYTHON=str(old), KARGO_ACTIONS_VENV=str(tmp_path / "venv"))
    assert done.returncode == 2
    assert done.stderr == (
        f"error: kargo-actions needs Python 3.11 or newer, and {old} is Python 3.9: use "
        "actions/setup-python, or give actions/setup a newer interpreter (input python)\n"
    )
    assert not (tmp_path / "venv").exists()
    missing = install(KARGO_ACTIONS_PYTHON=str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert "no Python interpreter" in missing.stderr


def test_the_stamp_follows_the_lock_the_python_and_the_extra(tmp_path: Path) -> None:
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    plain = install("--stamp", KARGO_ACTIONS_PYTHON=sys.executable).stdout.strip()
    render = install(
        "--stamp", KARGO_ACTIONS_PYTHON=sys.executable, KARGO_ACTIONS_RENDER="true"
    ).stdout.strip()
    assert re.fullmatch(rf"[0-9a-f]{{16}}-{re.escape(version)}", plain)
    assert render.endswith(f"-{version}-render")
    assert render.split("-")[0] != plain.split("-")[0]  # render.txt, not run.txt
    copy = _checkout_copy(tmp_path)
    lock = copy / "requirements" / "run.txt"
    script = str(copy / "actions/setup/install.sh")
    assert install("--stamp", KARGO_ACTIONS_PYTHON=sys.executable, script=script).stdout.strip() == plain
    lock.write_text(lock.read_text() + "\n")
    changed = install("--stamp", KARGO_ACTIONS_PYTHON=sys.executable, script=script)
    assert changed.stdout.strip() != plain


def _checkout_copy(target: Path) -> Path:
    """What install.sh reads of the action's checkout."""
    copy = target / "checkout"
    shutil.copytree(REPO_ROOT / "actions" / "setup", copy / "actions" / "setup")
    shutil.copytree(REPO_ROOT / "requirements", copy / "requirements")
    shutil.copy2(REPO_ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


@pytest.mark.slow
def test_a_cold_install_from_the_lock_then_a_warm_one(tmp_path: Path, uv_cache: Path) -> None:
    venv = tmp_path / "venv"
    env = {
        "KARGO_ACTIONS_PYTHON": sys.executable,
        "KARGO_ACTIONS_VENV": str(venv),
        "UV_CACHE_DIR": str(uv_cache),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # uv
        "GITHUB_PATH": str(tmp_path / "github_path"),
    }
    done = install(**env)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^kargo-actions \S+ from .* in ", done.stdout, re.M)
    pins = dict(re.findall(r"^([a-z0-9_.-]+)==(\S+)", (REPO_ROOT / "requirements/run.txt").read_text(), re.M))
    listed = subprocess.run(
        ["bash", "-c", f"{Path(sys.executable).parent}/uv pip freeze --python {venv}/bin/python"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = dict(line.split("==", 1) for line in listed.split() if "==" in line)
    assert {name.lower(): v for name, v in installed.items()} == {
        name.lower(): v for name, v in pins.items() if name.lower() in {n.lower() for n in installed}
    }
    assert "helm-python-sdk" not in installed
    assert "pydantic" in installed
    assert (tmp_path / "github_path").read_text() == f"{venv}/bin\n"
    version = subprocess.run(
        [str(venv / "bin" / "kargo-actions"), "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("kargo-actions")
    stamp = (venv / ".kargo-actions-stamp").read_text()
    again = install(**env)  # warm: the stamp matches, no installer runs
    assert again.returncode == 0
    assert (venv / ".kargo-actions-stamp").read_text() == stamp


@pytest.mark.slow
def test_a_changed_hash_in_the_lock_fails_the_install(tmp_path: Path, uv_cache: Path) -> None:
    copy = _checkout_copy(tmp_path)
    lock = copy / "requirements" / "run.txt"
    block = re.search(r"^click==[^\n]*\\\n(?:    [^\n]*\n)+", lock.read_text(), re.M)
    assert block
    # every hash of click changed: no artifact of it can match
    lock.write_text(
        lock.read_text().replace(block.group(0), re.sub(r"[0-9a-f]{64}", "0" * 64, block.group(0)))
    )
    done = install(
        script=str(copy / "actions/setup/install.sh"),
        KARGO_ACTIONS_PYTHON=sys.executable,
        KARGO_ACTIONS_VENV=str(tmp_path / "venv"),
        UV_CACHE_DIR=str(uv_cache),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    assert done.returncode != 0
    assert "click" in done.stderr, done.stderr
    assert "hash" in done.stderr.lower(), done.stderr
    assert not (tmp_path / "venv" / ".kargo-actions-stamp").exists()


def _step_script(step_id: str) -> str:
    steps = load_yaml(REPO_ROOT / "actions" / "setup" / "action.yml")["runs"]["steps"]
    return str(next(step["run"] for step in steps if step.get("id") == step_id))


def _outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


@pytest.mark.parametrize(
    ("manifest", "render"),
    [
        ("steps:\n- uses: helm-template\n  config: {}\n", "true"),
        ("steps:\n  - uses: 'kustomize-build'\n", "true"),
        ("steps:\n- uses: kustomize-set-image\n", "false"),
    ],
)
def test_render_auto_follows_the_manifests_and_names_the_cache_key(
    tmp_path: Path, manifest: str, render: str
) -> None:
    (tmp_path / "work" / ".kargo").mkdir(parents=True)
    (tmp_path / "work" / ".kargo" / "tasks.yaml").write_text(manifest)
    output = tmp_path / "output"
    env = {
        **os.environ,
        "GITHUB_ACTION_PATH": str(INSTALL.parent),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_WORKSPACE": str(tmp_path / "work"),
        "KARGO_ACTIONS_PYTHON": sys.executable,
        "KA_RENDER": "auto",
        "KA_CONFIG_DIR": ".kargo",
        "RUNNER_OS": "Linux",
        "ImageOS": "ubuntu24",
    }
    done = subprocess.run(["bash", "-c", _step_script("where")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    outputs = _outputs(output)
    assert outputs["render"] == render
    stamp = install(
        "--stamp", KARGO_ACTIONS_PYTHON=sys.executable, KARGO_ACTIONS_RENDER=render
    ).stdout.strip()
    assert outputs["key"] == f"kargo-actions-Linux-ubuntu24-{stamp}"


def test_a_runner_python_older_than_3_11_is_replaced_by_setup_python(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(OLD_PYTHON)
    (bin_dir / "python3").chmod(0o755)
    output = tmp_path / "output"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "GITHUB_OUTPUT": str(output), "KA_PYTHON": ""}
    done = subprocess.run(["bash", "-c", _step_script("python")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _outputs(output) == {"setup": "true"}
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    output.unlink()
    done = subprocess.run(["bash", "-c", _step_script("python")], env=env, capture_output=True, text=True)
    assert _outputs(output) == {"path": str(Path(sys.executable).parent / "python3")}
