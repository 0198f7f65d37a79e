"""helm-template: render a chart with `helm template` (binary on PATH) or the Helm SDK (extra `render`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, StrictBool, StrictStr

from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from kargo_actions.promotion.steps.support import rendered
from kargo_actions.promotion.steps.support.process import run_command


class SetValue(StepConfig):
    """One `--set` (or `--set-literal`) value."""

    key: NonEmpty
    """The value path, as `--set` takes it (`image.tag`)."""
    value: StrictStr
    """The value."""
    literal: StrictBool = False
    """Pass it with `--set-literal` (no parsing of commas or types)."""


class HelmTemplateConfig(StepConfig):
    """Kargo's HelmTemplateConfig."""

    path: NonEmpty
    """The chart directory (with `Chart.yaml`)."""
    out_path: NonEmpty
    """Ends in `.yaml`/`.yml`: one file. Otherwise a directory (see `outLayout`)."""
    out_layout: Literal["helm", "flat"] | None = None
    """no | `helm` (default): `<outPath>/<chart>/templates/...` as `helm template --output-dir`; `flat`: one file per resource, `[group-]kind[-namespace]-name.yaml`."""
    release_name: NonEmpty
    """`.Release.Name`."""
    use_release_name: StrictBool = False
    """`helm` layout under `<outPath>/<releaseName>/`."""
    namespace: StrictStr = ""
    """`.Release.Namespace` (default: the project's name)."""
    values_files: list[NonEmpty] | None = None
    """Values files, merged in order."""
    ignore_missing_value_files: StrictBool = False
    """Skip values files that do not exist."""
    set_values: list[SetValue] | None = None
    """`{key, value, literal}`: `--set key=value`, or `--set-literal` when `literal`. Applied after the files."""
    build_dependencies: StrictBool = False
    """`helm dependency build` first."""
    include_crds: StrictBool = Field(default=False, alias="includeCRDs")
    """Include the chart's `crds/`."""
    disable_hooks: StrictBool = False
    """Leave hook resources out."""
    skip_tests: StrictBool = False
    """Leave test templates out."""
    kube_version: StrictStr = ""
    """`--kube-version`: `.Capabilities.KubeVersion`."""
    api_versions: list[NonEmpty] | None = None
    """`--api-versions`: added to `.Capabilities.APIVersions`."""


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's values merge: maps merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class HelmTemplate:
    """Render `path` as release `releaseName` into `outPath` (a file, or a directory in the helm/flat layout)."""

    name: ClassVar[str] = "helm-template"
    config_model: ClassVar[type[StepConfig]] = HelmTemplateConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, ctx: StepContext, config: HelmTemplateConfig) -> StepResult:
        chart = ctx.path(config.path)
        if not (chart / "Chart.yaml").is_file():
            raise TerminalStepError(f"path: {config.path!r} is not a Helm chart (no Chart.yaml)")
        values_files = self._values_files(ctx, config)
        namespace = config.namespace or ctx.project or "default"
        out = ctx.path(config.out_path, field_name="outPath")
        helm = shutil.which("helm", path=ctx.env.get("PATH"))
        if helm:
            stream = self._with_binary(ctx, helm, chart, config, values_files, namespace)
            tool = "helm"
        else:
            stream = self._with_sdk(ctx, chart, config, values_files, namespace)
            tool = "the Helm SDK"
        if rendered.is_file_path(config.out_path):
            rendered.write_file(out, stream)
            return StepResult(message=f"rendered {config.path} into {config.out_path} with {tool}")
        if config.out_layout == "flat":
            names = rendered.write_directory(out, stream, "helm")
            return StepResult(message=f"rendered {config.path} into {len(names)} file(s) with {tool}")
        count = self._write_helm_layout(out, stream, config.release_name if config.use_release_name else "")
        return StepResult(message=f"rendered {config.path} into {count} template file(s) with {tool}")

    def _values_files(self, ctx: StepContext, config: HelmTemplateConfig) -> list[Path]:
        files: list[Path] = []
        for index, relative in enumerate(config.values_files or []):
            path = ctx.path(relative, field_name=f"valuesFiles[{index}]")
            if not path.is_file():
                if config.ignore_missing_value_files:
                    continue
                raise TerminalStepError(
                    f"valuesFiles[{index}]: {relative!r} does not exist (set ignoreMissingValueFiles to skip it)"
                )
            files.append(path)
        return files

    def _with_binary(
        self,
        ctx: StepContext,
        helm: str,
        chart: Path,
        config: HelmTemplateConfig,
        values_files: list[Path],
        namespace: str,
    ) -> str:
        if config.build_dependencies:
            run_command(ctx, [helm, "dependency", "build", str(chart)], what="helm dependency build")
        args = [helm, "template", config.release_name, str(chart), "--namespace", namespace]
        for path in values_files:
            args += ["--values", str(path)]
        for item in config.set_values or []:
            args += ["--set-literal" if item.literal else "--set", f"{item.key}={item.value}"]
        if config.include_crds:
            args.append("--include-crds")
        if config.disable_hooks:
            args.append("--no-hooks")
        if config.skip_tests:
            args.append("--skip-tests")
        if config.kube_version:
            args += ["--kube-version", config.kube_version]
        for api_version in config.api_versions or []:
            args += ["--api-versions", api_version]
        return run_command(ctx, args, what=f"helm template {config.path}").stdout

    def _with_sdk(
        self,
        ctx: StepContext,
        chart_dir: Path,
        config: HelmTemplateConfig,
        values_files: list[Path],
        namespace: str,
    ) -> str:
        try:
            import helm_python as helm
            from helm_python import _native
        except ImportError:
            raise TerminalStepError(
                "helm-template needs helm on PATH or the Helm SDK of the render extra: "
                "pip install 'kargo-actions[render]'"
            ) from None
        try:
            if config.build_dependencies:
                helm.dependency_build(chart_dir)
            values: dict[str, Any] = {}
            for path in values_files:
                values = _merge(values, helm.values_from_yaml(path.read_text()))
            for item in config.set_values or []:
                parse = helm.parse_set_literal if item.literal else helm.parse_set_string
                values = _merge(values, parse(f"{item.key}={item.value}"))
            ctx.check_abort()
            chart = helm.Chart.load(chart_dir)
            options: dict[str, Any] = {
                "name": config.release_name,
                "namespace": namespace,
                "is_install": True,
            }
            if config.kube_version:
                options["kube_version"] = config.kube_version
            if config.api_versions:
                options["api_versions"] = list(config.api_versions)
            # Chart.render has no capabilities arguments; the library's render call takes them (pinned <0.3).
            manifests: dict[str, str] = json.loads(
                _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(options))
            )
            crds = chart.crds if config.include_crds else []
        except helm.HelmError as err:
            detail = " ".join(line.strip() for line in str(err).splitlines())
            raise StepError(f"helm template {config.path}: {detail}") from err
        parts: list[str] = []
        for crd in crds:
            parts.append(
                f"---\n# Source: {crd.get('filename') or crd.get('name', 'crd')}\n{str(crd.get('data', '')).strip()}\n"
            )
        for source in sorted(manifests):
            body = manifests[source].strip()
            if not body or source.endswith("NOTES.txt"):
                continue
            is_test = "/tests/" in source
            is_hook = "helm.sh/hook" in body
            if (config.skip_tests and is_test) or (config.disable_hooks and is_hook):
                continue
            parts.append(f"---\n# Source: {source}\n{body}\n")
        return "".join(parts)

    def _write_helm_layout(self, out: Path, stream: str, release_dir: str) -> int:
        """`helm template --output-dir`: each template's documents in <out>[/<release>]/<source path>."""
        base = out / release_dir if release_dir else out
        by_source: dict[str, list[str]] = {}
        for document in rendered.documents(stream):
            first = document.splitlines()[0] if document else ""
            source = (
                first.removeprefix("# Source: ").strip()
                if first.startswith("# Source: ")
                else "manifest.yaml"
            )
            by_source.setdefault(source, []).append(document)
        for source, docs in by_source.items():
            rendered.write_file(base / source, "".join(f"---\n{doc}" for doc in docs))
        if not by_source:
            base.mkdir(parents=True, exist_ok=True)
        return len(by_source)
