"""Version facts of the installed package: its version, the commit it was built from, and the development
checkout it may be running from. The one place that knows where these come from."""

from __future__ import annotations

import functools
import importlib
import re
import subprocess
from pathlib import Path

DISTRIBUTION = "kargo-actions"
UNKNOWN_VERSION = "0+unknown"
_PACKAGE_DIR = Path(__file__).resolve().parent
_RELEASE = re.compile(r"\d+\.\d+\.\d+")
_COMMIT = re.compile(r"g?([0-9a-f]{40})")
_HEX40 = re.compile(r"[0-9a-f]{40}")


def _build_file_value(name: str) -> str | None:
    # kargo_actions/_version.py is written by setuptools-scm at build time (and by an editable install).
    try:
        module = importlib.import_module("kargo_actions._version")
    except ImportError:
        return None
    value = getattr(module, name, None)
    return value if isinstance(value, str) else None


@functools.cache
def version() -> str:
    """The installed package's version: from the build-time file, else the distribution's metadata."""
    # The build-time file sits beside the code being run; the metadata could describe another install.
    found = _build_file_value("version")
    if found:
        return found
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNKNOWN_VERSION


@functools.cache
def build_commit() -> str | None:
    """The full commit the installed package was built from (recorded at build time), or None when unknown."""
    node = _build_file_value("node")
    match = _COMMIT.fullmatch(node) if node else None
    if match:
        return match.group(1)
    # Built from a git archive (a runner's download of the action): setuptools-scm records no full commit
    # for a tagged one, but export-subst wrote it into this file (a literal $Format:%H$ in a checkout).
    try:
        archived = (_PACKAGE_DIR / "_archive_commit.txt").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return archived if _HEX40.fullmatch(archived) else None


def is_release(version_text: str | None = None) -> bool:
    """Whether the version (default: the installed one) is an exact X.Y.Z release: no .devN distance, no
    local +g<sha> part."""
    return _RELEASE.fullmatch(version() if version_text is None else version_text) is not None


def checkout_head(start: Path | None = None) -> str | None:
    """HEAD of the development checkout the package is imported from (an editable install), else None.

    start is the package directory (default: this package's) or the checkout's top. Only these two are
    looked at: a wheel installed in a virtual environment that sits inside some checkout is not that
    checkout's code.
    """
    package_dir = (start or _PACKAGE_DIR).resolve()
    for top in (package_dir, package_dir.parent):
        if (top / ".git").exists() and (top / "kargo_actions" / "__init__.py").is_file():
            return _head_of(top)
    return None


def _head_of(top: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(top), "rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    head = done.stdout.strip()
    return head if done.returncode == 0 and _HEX40.fullmatch(head) else None
