"""Where files kept between runs live, for every cache of the package: $KARGO_ACTIONS_CACHE, else the user's
cache dir (platformdirs), never the work tree; nothing is kept when there is no home directory."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

CACHE_ENV = "KARGO_ACTIONS_CACHE"
APP_NAME = "kargo-actions"

_scratch: Path | None = None
_scratch_lock = threading.Lock()


def cache_dir(subfolder: str, env: Mapping[str, str] | None = None) -> Path | None:
    """$KARGO_ACTIONS_CACHE/<subfolder>, else <user cache dir>/kargo-actions/<subfolder> (~/.cache on Linux);
    None when there is no home directory to put it under (then the caller keeps nothing)."""
    configured = (os.environ if env is None else env).get(CACHE_ENV)
    try:
        if configured:
            return Path(configured).expanduser() / subfolder
        # Imported here: it costs ~2 ms of start-up, and most commands never need a cache dir.
        import platformdirs

        base = Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    except (RuntimeError, OSError):  # no home directory: pathlib and platformdirs both raise RuntimeError
        return None
    return base / subfolder if base.is_absolute() else None


def cache_or_scratch_dir(subfolder: str, env: Mapping[str, str] | None = None) -> Path:
    """cache_dir(subfolder), or, without a home directory, a folder of a temporary directory removed when the
    process ends: for caches that need a place to work (git mirrors) or help within one run (ETags)."""
    found = cache_dir(subfolder, env)
    if found is not None:
        return found
    global _scratch
    with _scratch_lock:
        if _scratch is None:
            _scratch = Path(tempfile.mkdtemp(prefix="kargo-actions-cache-"))
            atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
        return _scratch / subfolder
