"""The LALR tables are cached in the user cache dir: reused when fresh, rebuilt when stale or damaged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kargo_actions.expressions import cache_files

CHECK = "import sys\nfrom kargo_actions.expressions.parser import parse as p\nprint(type(p(sys.argv[1])).__name__)\n"


def _run(cache: Path, text: str = "1 + a.b") -> str:
    """Parse `text` in a new process; a text no process parsed before reaches lark (and its tables)."""
    env = {"KARGO_ACTIONS_CACHE": str(cache), "PATH": "/usr/bin:/bin", "HOME": str(cache.parent)}
    done = subprocess.run(
        [sys.executable, "-c", CHECK, text], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_cache_file_is_written_then_reused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _run(cache)
    files = list((cache / "expressions").glob("lark-*.cache"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    assert _run(cache, "2 + a.b") == first
    # lark rewrites the file only when it had to rebuild; a fresh file is read, not rewritten
    assert files[0].stat().st_mtime_ns == stamp


@pytest.mark.parametrize("content", [b"", b"garbage\n\x00\x01", b"0" * 64 + b"\n"])
def test_damaged_or_stale_cache_is_rebuilt(tmp_path: Path, content: bytes) -> None:
    cache = tmp_path / "cache"
    first = _run(cache)
    (target,) = (cache / "expressions").glob("lark-*.cache")
    target.write_bytes(content)
    assert _run(cache, "2 + a.b") == first
    assert target.read_bytes() != content  # rebuilt and saved again


def test_cache_key_follows_the_grammar(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KARGO_ACTIONS_CACHE", str(tmp_path))
    one = cache_files.parser_cache_file("start: A")
    two = cache_files.parser_cache_file("start: B")
    assert one is not None
    assert two is not None
    assert one != two
    assert one.parent == tmp_path / "expressions"
