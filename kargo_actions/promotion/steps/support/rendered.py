"""Writing rendered Kubernetes manifests: one file, or one file per resource in a directory."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from kargo_actions.promotion.step_api import StepError

_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)
_SAFE = YAML(typ="safe", pure=True)


def is_file_path(out_path: str) -> bool:
    """Kargo's rule: an outPath ending in .yaml or .yml is a file, anything else a directory."""
    return out_path.lower().endswith((".yaml", ".yml"))


def documents(stream: str) -> Iterator[str]:
    """The non-empty YAML documents of a multi-document stream, each without its separator."""
    for part in _SEPARATOR.split(stream):
        body = "\n".join(line for line in part.splitlines() if line.strip()).strip("\n")
        if body and not all(line.lstrip().startswith("#") for line in body.splitlines()):
            yield part.strip("\n") + "\n"


def metadata(document: str) -> tuple[str, str, str, str, str]:
    """(group, version, kind, namespace, name) of a manifest; empty strings where absent."""
    try:
        data: Any = _SAFE.load(document)
    except YAMLError:
        return "", "", "", "", ""
    if not isinstance(data, dict):
        return "", "", "", "", ""
    api_version = str(data.get("apiVersion") or "")
    group, _, version = api_version.rpartition("/")
    raw_meta = data.get("metadata")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    return (
        group,
        version,
        str(data.get("kind") or ""),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )


def kargo_name(document: str) -> str:
    """`[namespace-]kind-name.yaml`, lower case (Kargo's default layout)."""
    _, _, kind, namespace, name = metadata(document)
    if not kind or not name:
        return ""
    stem = "-".join(p for p in (namespace, kind, name) if p)
    return f"{stem.lower()}.yaml"


def kustomize_name(document: str) -> str:
    """`[namespace_]group_version_kind_name.yaml`, lower case (what `kustomize build -o DIR` writes)."""
    group, version, kind, namespace, name = metadata(document)
    if not kind or not name:
        return ""
    stem = "_".join(p for p in (namespace, group, version, kind, name) if p)
    return f"{stem.lower()}.yaml"


def helm_flat_name(document: str) -> str:
    """`[group-]kind[-namespace]-name.yaml`, lower case, dots of the group as underscores (helm-template flat)."""
    group, _, kind, namespace, name = metadata(document)
    if not kind or not name:
        return ""
    stem = "-".join(p for p in (group.replace(".", "_"), kind, namespace, name) if p)
    return f"{stem.lower()}.yaml"


NAMERS = {"kargo": kargo_name, "kustomize": kustomize_name, "helm": helm_flat_name}


def write_file(path: Path, stream: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(stream)
    except OSError as err:
        raise StepError(f"outPath: cannot write {path.name}: {err.strerror}") from err


def write_directory(directory: Path, stream: str, naming: str = "kargo") -> list[str]:
    """One file per resource in `directory`; returns the file names written."""
    namer = NAMERS[naming]
    written: list[str] = []
    for index, document in enumerate(documents(stream)):
        name = namer(document) or f"resource-{index}.yaml"
        write_file(directory / name, document)
        written.append(name)
    if not written:
        directory.mkdir(parents=True, exist_ok=True)
    return written
