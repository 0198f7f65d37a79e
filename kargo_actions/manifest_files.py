"""Which files of a config dir hold manifests: one walk for load_project and for the commands that read only
the Settings document without loading the models (kept free of pydantic for their start-up)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Final

# The apiVersion of this project's own Settings kind.
SETTINGS_API_VERSION: Final = "kargo-actions/v1alpha1"
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
# A Kubernetes object name (RFC 1123 subdomain); names are at most 253 characters besides.
SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
# A document of kind Settings, found by a text search before anything is parsed.
SETTINGS_KIND = re.compile(rb"^kind:\s*Settings\s*$", re.MULTILINE)


def repository_root(config_dir: Path) -> Path:
    """The folder manifests must stay inside (links leaving it are refused): the git work tree holding the
    config dir (the nearest folder with a .git), else the config dir itself; resolved."""
    folder = Path(os.path.abspath(config_dir))
    start = folder.parent if folder.is_symlink() else folder  # a linked config dir belongs where the link is
    for candidate in (start, *start.parents):
        if os.path.lexists(candidate / ".git"):
            return candidate.resolve()
    return folder.resolve()


def manifest_paths(
    config_dir: Path,
    onerror: Callable[[OSError], None] | None = None,
    outside: Callable[[Path, Path], None] | None = None,
) -> list[Path]:
    """Every *.yaml / *.yml under the folder, sorted, skipping hidden sub-folders and files.

    Linked files and folders are read where they point while that stays inside repository_root(); a link
    leaving it is left out and given to `outside` with its target (a manifest from elsewhere on the machine
    must not configure the project). Each real folder is walked and each real file read once, so link
    loops end and a link beside its target adds nothing.
    """
    root = repository_root(config_dir)
    base = Path(os.path.realpath(config_dir))
    if not base.is_relative_to(root):
        if outside is not None:
            outside(config_dir, base)
        return []
    seen = {base}
    read: set[Path] = set()
    files: list[Path] = []
    for folder, dirs, names in os.walk(config_dir, onerror=onerror, followlinks=True):
        kept: list[str] = []
        for name in sorted(d for d in dirs if not d.startswith(".")):
            path = Path(folder) / name
            real = Path(os.path.realpath(path))
            if not real.is_relative_to(root):
                if outside is not None:
                    outside(path, real)
            elif real not in seen and not (path.is_symlink() and real.is_relative_to(base)):
                seen.add(real)  # a link into the config dir is left to where the folder really is
                kept.append(name)
        dirs[:] = kept
        for name in sorted(names):
            if not name.endswith((".yaml", ".yml")) or name[0] == ".":
                continue
            path = Path(folder) / name
            real = Path(os.path.realpath(path))
            if not real.is_relative_to(root):
                if outside is not None:
                    outside(path, real)
            elif real not in read:  # a file reached twice (a link beside its target) is read once
                read.add(real)
                files.append(path)
    return files


def settings_candidates(config_dir: Path) -> list[tuple[Path, bytes]]:
    """The manifest files holding a `kind: Settings` line, with their content; unreadable files left out."""
    found: list[tuple[Path, bytes]] = []
    for path in manifest_paths(config_dir):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if SETTINGS_KIND.search(data):
            found.append((path, data))
    return found
