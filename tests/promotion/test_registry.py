"""The step registry's preload: the steps a promotion runs are imported while its first ledger write waits on
git, in a background thread, without changing what a promotion does or reports."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion import registry
from tests.ledger.helpers import make_repo
from tests.promotion.test_service import manifests, record, run, write


def test_preload_imports_the_named_steps_in_a_background_thread() -> None:
    code = (
        "import sys\n"
        "from kargo_actions.promotion.registry import preload\n"
        "thread = preload(['git-clone', 'kustomize-set-image', 'no-such-step', 'git-clone'])\n"
        "print(thread.daemon, thread is not __import__('threading').current_thread())\n"
        "thread.join()\n"
        "steps = sorted(m for m in sys.modules if m.startswith('kargo_actions.promotion.steps.'))\n"
        "print(' '.join(m.rsplit('.', 1)[1] for m in steps))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0] == "True True"
    loaded = set(lines[1].split())
    assert {"git_clone", "kustomize_set_image", "gitutil"} <= loaded
    assert not loaded & {"git_open_pr", "github_push", "http", "argocd_update"}


def test_a_step_that_fails_to_import_is_left_to_get_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.STEPS, "broken", "no_such_module:Broken")
    raised: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    registry.preload(["broken"]).join()
    assert raised == []
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        registry.get_step("broken")


def test_promote_preloads_the_steps_not_behind_an_if(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    asked: list[list[str]] = []
    before: list[list[str]] = []
    real = registry.preload

    def recording(names: Any, first: Any = ()) -> threading.Thread:
        names = list(names)
        asked.append(names)
        before.append(list(first))
        return real(names, first)

    monkeypatch.setattr(registry, "preload", recording)
    steps = [
        {"uses": "compose-output", "as": "out", "config": {"tag": "x"}},
        {"uses": "git-open-pr", "if": "${{ false }}", "config": {"repoURL": "https://example.com/r.git"}},
        {"uses": "compose-output", "as": "again", "if": "${{ true }}", "config": {"tag": "y"}},
    ]
    docs = manifests()
    docs[2]["spec"]["promotionTemplate"]["spec"]["steps"] = steps
    write(repo, docs)
    record(repo, 1, 1)
    code, _out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")
    assert code == 0, err
    assert asked == [["compose-output"]]
    assert before == [["kargo_actions.promotion.engine"]]  # the engine loads on the thread too


def test_the_steps_package_holds_exactly_the_registered_steps() -> None:
    # `ls promotion/steps/` reads as the step catalogue: helpers live in steps/support/, the contract in step_api.
    package = Path(registry.__file__).parent / "steps"
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    assert modules == {target.partition(":")[0] for target in registry.STEPS.values()}
    assert {name.replace("-", "_") for name in registry.STEPS} == modules
    assert not [p.name for p in package.iterdir() if p.is_dir() and p.name not in ("support", "__pycache__")]


def test_preload_imports_with_a_short_switch_interval_and_restores_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The promotion's thread gets the interpreter back within 0.5 ms of each git call while the imports run.
    (tmp_path / "switch_probe.py").write_text("import sys\nSEEN = sys.getswitchinterval()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "switch_probe", raising=False)
    before = sys.getswitchinterval()
    registry.preload([], first=["switch_probe"]).join()
    assert sys.modules["switch_probe"].SEEN <= registry.PRELOAD_SWITCH_INTERVAL_S
    assert sys.getswitchinterval() == before
