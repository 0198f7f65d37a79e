"""git-open-pr's cluster diff: when Argo CD is configured (ARGOCD_SERVER), what the pull request will change
in the cluster for each Application the Stage updates, from Argo CD's diff of live against the manifests the
pull request changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kargo_actions.github.prbody import ClusterAppDiff
from kargo_actions.promotion.step_api import StepContext
from kargo_actions.promotion.steps.support import gitutil

# argocd.client's SERVER_ENV, named here so a promotion without Argo CD imports no HTTP client
SERVER_ENV = "ARGOCD_SERVER"
_SUFFIXES = (".yaml", ".yml", ".json")
_MAX_MANIFESTS = 500


def pr_manifests(ctx: StepContext, tree: Path, base: str, head: str) -> list[dict[str, Any]]:
    """The Kubernetes objects (apiVersion, kind, metadata.name) in the files the pull request changes, as
    they are at its head."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    names = gitutil.git(ctx, tree, "diff", "--name-only", "--no-renames", f"{base}...{head}", check=False)
    found: list[dict[str, Any]] = []
    yaml = YAML(typ="safe", pure=True)
    for path in names.stdout.splitlines():
        if not path.endswith(_SUFFIXES):
            continue
        shown = gitutil.git(ctx, tree, "show", f"{head}:{path}", check=False)
        if shown.returncode != 0:  # removed by the pull request
            continue
        try:
            docs = list(yaml.load_all(shown.stdout))
        except YAMLError:
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind"):
                meta = doc.get("metadata")
                if isinstance(meta, dict) and meta.get("name"):
                    found.append(json.loads(json.dumps(doc, default=str)))
        if len(found) >= _MAX_MANIFESTS:
            break
    return found[:_MAX_MANIFESTS]


def pr_cluster_diff(ctx: StepContext, tree: Path | None, base: str, head: str) -> list[ClusterAppDiff] | None:
    """Per Application that authorizes the Stage, Argo CD's diff; None without Argo CD configured (the body
    shows the rendered diff then). An Argo CD that cannot be asked gives one entry saying why."""
    if not ctx.env.get(SERVER_ENV) or not ctx.stage:
        return None
    from kargo_actions.argocd.client import ArgoCDClient, ClientOptions
    from kargo_actions.argocd.diff import cluster_diff, stage_apps
    from kargo_actions.argocd.errors import ArgoCDConfigError, ArgoCDError, ArgoCDUnavailableError

    manifests = pr_manifests(ctx, tree, base, head) if tree is not None else []
    try:
        with ArgoCDClient.from_env(ctx.env, options=ClientOptions(attempts=2, timeout=15)) as client:
            apps = stage_apps(client, ctx.project, ctx.stage)
            diffs = cluster_diff(client, apps, manifests)
    except (ArgoCDError, ArgoCDConfigError, ArgoCDUnavailableError) as err:
        return [ClusterAppDiff(app=f"Stage {ctx.stage}", error=str(err))]
    if not diffs:
        note = f"no Application carries kargo.akuity.io/authorized-stage: {ctx.project}:{ctx.stage}"
        return [ClusterAppDiff(app=f"Stage {ctx.stage}", error=note)]
    return [
        ClusterAppDiff(d.app, tuple((c.label, c.diff) for c in d.changes), d.source, d.error) for d in diffs
    ]
