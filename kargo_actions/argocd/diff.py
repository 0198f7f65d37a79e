"""What a promotion will change in the cluster, from Argo CD's own diff: for each Application a Stage updates,
its resources' live state against the desired state (server-side-diff with a pull request's manifests, else
managed-resources: against the app's current target), as unified diffs of YAML a reviewer can read."""

from __future__ import annotations

import difflib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kargo_actions.argocd.client import AppRef, ArgoCDClient
from kargo_actions.argocd.errors import ArgoCDError, ArgoCDUnavailableError
from kargo_actions.struct import struct

AUTHORIZED_STAGE = "kargo.akuity.io/authorized-stage"  # Kargo's annotation: `<project>:<stage>`
# Fields of a live object that change on their own and say nothing about the change under review.
_NOISE = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Target manifests go in the query string: beyond this many characters, fall back to managed-resources.
MAX_QUERY_CHARS = 60_000


@struct
class ResourceChange:
    label: str  # Kind namespace/name
    diff: str  # unified diff, live -> desired


@struct
class AppDiff:
    app: str
    changes: tuple[ResourceChange, ...]
    source: str  # "server-side-diff" (the pull request's manifests) or "managed-resources"
    error: str = ""


def _state(text: object) -> dict[str, Any] | None:
    if not isinstance(text, str) or not text or text == "null":
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _clean(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta = {k: v for k, v in meta.items() if k not in _NOISE}
        notes = meta.get("annotations")
        if isinstance(notes, dict) and _LAST_APPLIED in notes:
            notes = {k: v for k, v in notes.items() if k != _LAST_APPLIED}
            meta["annotations"] = notes or None
            if not notes:
                del meta["annotations"]
        out["metadata"] = meta
    return out


def _yaml(obj: dict[str, Any] | None) -> list[str]:
    if obj is None:
        return []
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(obj, buffer)
    return buffer.getvalue().splitlines(keepends=True)


def resource_changes(items: Iterable[Mapping[str, Any]]) -> list[ResourceChange]:
    """The resources whose live and desired states differ, each as a unified diff (live -> desired)."""
    changes: list[ResourceChange] = []
    for item in items:
        live = _clean(_state(item.get("normalizedLiveState")) or _state(item.get("liveState")))
        desired = _clean(_state(item.get("predictedLiveState")) or _state(item.get("targetState")))
        if live == desired:
            continue
        where = "/".join(str(p) for p in (item.get("namespace"), item.get("name")) if p)
        label = f"{item.get('kind') or 'resource'} {where}".strip()
        lines = difflib.unified_diff(
            _yaml(live), _yaml(desired), fromfile=f"live/{where}", tofile=f"desired/{where}"
        )
        changes.append(ResourceChange(label, "".join(lines)))
    return sorted(changes, key=lambda c: c.label)


def stage_apps(client: ArgoCDClient, project: str, stage: str) -> list[AppRef]:
    """The Applications that authorize the Stage to update them (Kargo's `kargo.akuity.io/authorized-stage:
    <project>:<stage>` annotation), in name order."""
    wanted = f"{project}:{stage}"
    return sorted(
        (
            AppRef(app.metadata.name, app.metadata.namespace or None)
            for app in client.list_applications("")
            if app.metadata.annotations.get(AUTHORIZED_STAGE) == wanted
        ),
        key=lambda a: (a.name, a.namespace or ""),
    )


def _identity(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    return str(obj.get("kind") or ""), str(meta.get("name") or "")


def cluster_diff(
    client: ArgoCDClient, apps: Sequence[AppRef], manifests: Sequence[Mapping[str, Any]]
) -> list[AppDiff]:
    """Per app: server-side-diff with the manifests that are its resources (all of them for a single app),
    else managed-resources. An app Argo CD cannot answer for carries the error instead of failing the rest."""
    diffs: list[AppDiff] = []
    for app in apps:
        try:
            managed = client.managed_resources(app)
            ours = {(str(i.get("kind") or ""), str(i.get("name") or "")) for i in managed}
            mine = [m for m in manifests if len(apps) == 1 or _identity(m) in ours]
            texts = [json.dumps(m, separators=(",", ":"), sort_keys=True) for m in mine]
            if texts and sum(len(t) for t in texts) <= MAX_QUERY_CHARS:
                items = client.server_side_diff(app, texts)
                diffs.append(AppDiff(str(app), tuple(resource_changes(items)), "server-side-diff"))
            else:
                diffs.append(AppDiff(str(app), tuple(resource_changes(managed)), "managed-resources"))
        except (ArgoCDError, ArgoCDUnavailableError) as err:
            diffs.append(AppDiff(str(app), (), "", error=str(err)))
    return diffs
