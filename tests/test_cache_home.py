"""kargo_actions.cache_home: files kept between runs go under $KARGO_ACTIONS_CACHE, else the user's cache dir,
and nowhere when there is no home directory; platformdirs is imported only when the variable is unset."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from kargo_actions.cache_home import CACHE_ENV, cache_dir, cache_or_scratch_dir


def _without_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """A container user with no HOME and no passwd entry (an arbitrary uid): nowhere to keep files."""
    for var in ("HOME", "XDG_CACHE_HOME", CACHE_ENV):
        monkeypatch.delenv(var, raising=False)

    def no_entry(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)


def test_the_variable_names_the_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "kept"))
    assert cache_dir("git") == tmp_path / "kept" / "git"
    assert (
        cache_dir("github-etags/v1", {CACHE_ENV: str(tmp_path / "given")})
        == tmp_path / "given/github-etags/v1"
    )


def test_a_home_relative_variable_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir("images/v1", {CACHE_ENV: "~/kargo-cache"}) == tmp_path / "kargo-cache" / "images/v1"


def test_unset_means_the_user_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("expressions") == tmp_path / "xdg" / "kargo-actions" / "expressions"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir("charts") == tmp_path / "home" / ".cache" / "kargo-actions" / "charts"
    assert cache_dir("charts", {"HOME": "ignored"}) == cache_dir(
        "charts"
    )  # only the variable is read from env
    assert cache_or_scratch_dir("git") == tmp_path / "home" / ".cache" / "kargo-actions" / "git"


def test_no_home_keeps_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_home(monkeypatch)
    assert cache_dir("expressions") is None
    scratch = cache_or_scratch_dir("git")
    assert scratch.is_absolute()
    assert scratch.parent.name.startswith("kargo-actions-cache-")
    assert cache_or_scratch_dir("charts") == scratch.parent / "charts"  # one scratch dir per process


def test_the_scratch_dir_is_gone_when_the_process_ends(tmp_path: Path) -> None:
    code = (
        "import pwd\n"
        "def no_entry(uid): raise KeyError(uid)\n"
        "pwd.getpwuid = no_entry\n"
        "from kargo_actions.cache_home import cache_or_scratch_dir\n"
        "path = cache_or_scratch_dir('git')\n"
        "path.mkdir(parents=True)\n"
        "(path / 'mirror').write_text('x')\n"
        "print(path)\n"
    )
    env = {"PATH": os.environ["PATH"], "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    used = Path(done.stdout.strip())
    assert used.is_relative_to(tmp_path)
    assert not used.parent.exists()


@pytest.mark.parametrize(("variable", "imported"), [("/tmp/kept", False), ("", True)])
def test_platformdirs_is_imported_only_to_find_the_default(variable: str, imported: bool) -> None:
    code = (
        "import sys\n"
        "from kargo_actions.cache_home import cache_dir\n"
        "assert 'platformdirs' not in sys.modules\n"
        "cache_dir('expressions')\n"
        "print('platformdirs' in sys.modules)\n"
    )
    env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], CACHE_ENV: variable}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(imported)
