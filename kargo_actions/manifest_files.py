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


def manifest_paths(config_dir: Path, onerror: Callable[[OSError], None] | None = None) -> list[Path]:
    """Every *.yaml / *.yml under the folder, sorted, skipping hidden sub-folders and files."""
    files: list[Path] = []
    for root, dirs, names in os.walk(config_dir, onerror=onerror):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(root) / n for n in sorted(names) if n.endswith((".yaml", ".yml")) and n[0] != ".")
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
