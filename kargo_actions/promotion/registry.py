"""The explicit registry of built-in steps: step name -> "module:Class", imported only when used."""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kargo_actions.errors import InvalidInputError, Problem, did_you_mean

if TYPE_CHECKING:  # the loader asks step_names() without paying for the step machinery's imports
    from kargo_actions.promotion.step_api import Step

_PACKAGE = "kargo_actions.promotion.steps"
PRELOAD_SWITCH_INTERVAL_S = 0.0005

# One line per step; the module is named after the step (git-clone -> git_clone).
STEPS: dict[str, str] = {
    "argocd-update": "argocd_update:ArgoCDUpdate",
    "argocd-wait": "argocd_wait:ArgoCDWait",
    "compose-output": "compose_output:ComposeOutput",
    "copy": "copy:Copy",
    "delete": "delete:Delete",
    "fail": "fail:Fail",
    "file-write": "file_write:FileWrite",
    "gha-dispatch-workflow": "gha_dispatch_workflow:GhaDispatchWorkflow",
    "gha-wait-for-workflow": "gha_wait_for_workflow:GhaWaitForWorkflow",
    "git-clear": "git_clear:GitClear",
    "git-clone": "git_clone:GitClone",
    "git-commit": "git_commit:GitCommit",
    "git-merge-pr": "git_merge_pr:GitMergePR",
    "git-open-pr": "git_open_pr:GitOpenPR",
    "git-push": "git_push:GitPush",
    "git-tag": "git_tag:GitTag",
    "git-wait-for-pr": "git_wait_for_pr:GitWaitForPR",
    "github-push": "github_push:GitHubPush",
    "helm-template": "helm_template:HelmTemplate",
    "helm-update-chart": "helm_update_chart:HelmUpdateChart",
    "http": "http:HTTP",
    "http-download": "http_download:HTTPDownload",
    "json-parse": "json_parse:JsonParse",
    "json-update": "json_update:JsonUpdateStep",
    "kustomize-build": "kustomize_build:KustomizeBuild",
    "kustomize-set-image": "kustomize_set_image:KustomizeSetImage",
    "oci-download": "oci_download:OCIDownload",
    "oci-push": "oci_push:OCIPush",
    "set-freight-alias": "set_freight_alias:SetFreightAlias",
    "set-metadata": "set_metadata:SetMetadata",
    "tar": "tar:Tar",
    "toml-parse": "toml_parse:TomlParse",
    "toml-update": "toml_update:TomlUpdateStep",
    "untar": "untar:Untar",
    "yaml-merge": "yaml_merge:YamlMerge",
    "yaml-parse": "yaml_parse:YamlParse",
    "yaml-update": "yaml_update:YamlUpdateStep",
}


def step_names() -> frozenset[str]:
    return frozenset(STEPS)


def get_step(name: str) -> Step[Any]:
    """A new instance of the step called `name`; InvalidInputError with a suggestion when there is none."""
    target = STEPS.get(name)
    if target is None:
        hint = did_you_mean(name, STEPS) or "see docs/promotion.md"
        raise InvalidInputError([Problem(path="uses", message=f"unknown step {name!r}", hint=hint)])
    module_name, _, attr = target.partition(":")
    step_class = getattr(importlib.import_module(f"{_PACKAGE}.{module_name}"), attr)
    step: Step[Any] = step_class()
    return step


def preload(names: Iterable[str], first: Iterable[str] = ()) -> threading.Thread:
    """Start importing the modules of these steps in a background thread, and return it.

    A promotion starts it before its first ledger write, whose git fetch and push leave the interpreter idle
    for 50-100 ms: the steps' imports (20-30 ms, their config models included) fit in there instead of
    following it. Unknown names are skipped; a module that fails to import is left to get_step, which imports
    it again and says why. `first`: other modules (full names) to import before them, e.g. the engine.
    """
    modules = [*first, *sorted({f"{_PACKAGE}.{STEPS[n].partition(':')[0]}" for n in names if n in STEPS})]

    def load() -> None:
        # While this thread imports, the promotion's own thread waits on short git calls; each time one
        # returns it needs the interpreter back, which it gets at the next switch: 0.5 ms instead of the
        # default 5 ms keeps the start write from waiting on the imports (~5 ms per promotion).
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, PRELOAD_SWITCH_INTERVAL_S))
        try:
            for module in modules:
                # On failure get_step imports it again, in the promotion, and reports the error where it
                # belongs.
                with contextlib.suppress(Exception):
                    importlib.import_module(module)
        finally:
            sys.setswitchinterval(switch)

    thread = threading.Thread(target=load, name="kargo-actions-step-preload", daemon=True)
    thread.start()
    return thread
