"""Where the expression language keeps files between processes: lark's LALR tables and parsed trees."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CACHE_ENV = "KARGO_ACTIONS_CACHE"


def cache_dir() -> Path | None:
    """Where parsed expressions and lark's tables are kept: $KARGO_ACTIONS_CACHE/expressions, else under the
    user cache dir; None when there is no home directory (then nothing is kept)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured) / "expressions"
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("kargo-actions", appauthor=False)) / "expressions"
    except Exception:  # no home directory: run without a cache
        return None


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
