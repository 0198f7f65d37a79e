"""Where the expression language keeps files between processes: lark's LALR tables and parsed trees."""

from __future__ import annotations

import hashlib
from pathlib import Path

from kargo_actions.cache_home import cache_dir as _cache_home


def cache_dir() -> Path | None:
    """Where parsed expressions and lark's tables are kept: the cache dir's `expressions/`; None when there is
    no home directory (then nothing is kept)."""
    return _cache_home("expressions")


def parser_cache_file(grammar: str) -> Path | None:
    """Where lark keeps the built LALR tables: the cache dir, keyed by grammar and lark version.

    Building the tables costs 100-300 ms per process; loading them ~7 ms. lark also stores a hash of the
    grammar and its options in the file and rebuilds when they differ, so a stale file is never used.
    None (no cache) when no cache dir can be found.
    """
    import lark

    key = hashlib.sha256(f"{lark.__version__}\0{grammar}".encode()).hexdigest()[:16]
    root = cache_dir()
    return root / f"lark-{key}.cache" if root is not None else None
