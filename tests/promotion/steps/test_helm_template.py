"""helm-template: config table, then real renders through the Helm SDK (helm-python-sdk), or helm on PATH."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import TerminalStepError
from kargo_actions.promotion.steps.helm_template import HelmTemplate, HelmTemplateConfig
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "c", "outPath": "o.yaml", "releaseName": "r"}, []),
    (
        {
            "path": "c",
            "outPath": "o",
            "outLayout": "flat",
            "releaseName": "r",
            "useReleaseName": True,
            "namespace": "ns",
            "valuesFiles": ["v.yaml"],
            "ignoreMissingValueFiles": True,
            "setValues": [{"key": "a.b", "value": "1", "literal": True}],
            "buildDependencies": False,
            "includeCRDs": True,
            "disableHooks": True,
            "skipTests": True,
            "kubeVersion": "1.30.0",
            "apiVersions": ["monitoring.coreos.com/v1"],
        },
        [],
    ),
    ({"path": "c", "outPath": "o"}, ["config.releaseName: required field is missing"]),
    (
        {"path": "c", "outPath": "o", "releaseName": "r", "outLayout": "tree"},
        ["config.outLayout: must be one of 'helm' or 'flat', not 'tree'"],
    ),
    (
        {"path": "c", "outPath": "o", "releaseName": "r", "setValues": [{"key": "a"}]},
        ["config.setValues[0].value: required field is missing"],
    ),
    (
        {"path": "c", "outPath": "o", "releaseName": "r", "includeCrds": True},
        ["config.includeCrds: unknown field (did you mean 'includeCRDs'?)"],
    ),
    (
        {"path": "c", "outPath": "o", "releaseName": "r", "valuesFiles": [""]},
        ["config.valuesFiles[0]: must not be empty"],
    ),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(HelmTemplateConfig, data) == expected


DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
      - image: "ghcr.io/akuity/guestbook:{{ .Values.image.tag }}"
        args: [{{ .Values.greeting | quote }}]
"""
TEST_HOOK = """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    "helm.sh/hook": test
"""
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
"""


def rendered_deploy(release: str, namespace: str, replicas: int, tag: str, greeting: str) -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        f"  name: {release}\n  namespace: {namespace}\nspec:\n  replicas: {replicas}\n"
        "  template:\n    spec:\n      containers:\n"
        f'      - image: "ghcr.io/akuity/guestbook:{tag}"\n        args: ["{greeting}"]\n'
    )


def rendered_hook(release: str) -> str:
    return f'apiVersion: v1\nkind: Pod\nmetadata:\n  name: {release}-test\n  annotations:\n    "helm.sh/hook": test\n'


@pytest.fixture
def work(tmp_path: Path) -> Path:
    chart = tmp_path / "charts/guestbook"
    (chart / "templates/tests").mkdir(parents=True)
    (chart / "crds").mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: guestbook\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicas: 1\nimage:\n  tag: v0.0.1\ngreeting: hi\n")
    (chart / "templates/deploy.yaml").write_text(DEPLOY)
    (chart / "templates/NOTES.txt").write_text("Thanks for installing\n")
    (chart / "templates/tests/test.yaml").write_text(TEST_HOOK)
    (chart / "crds/widgets.yaml").write_text(CRD)
    (tmp_path / "env").mkdir()
    (tmp_path / "env/dev.yaml").write_text("replicas: 2\nimage:\n  tag: v0.0.4\n")
    return tmp_path


def sdk_only_env() -> dict[str, str]:
    """PATH without any helm binary, so the SDK path is the one tested."""
    return {**os.environ, "PATH": "/usr/bin:/bin"} if not shutil.which("helm", path="/usr/bin:/bin") else {}


pytest.importorskip("helm_python", reason="helm-python-sdk (the 'render' extra) is not installed")


def run(work: Path, **config: Any) -> None:
    env = sdk_only_env()
    if not env:
        pytest.skip("a helm binary is in /usr/bin; the SDK path cannot be isolated")
    data = {"path": "charts/guestbook", "releaseName": "guestbook", **config}
    HelmTemplate().run(context(work, env=env, project="kargo-demo"), HelmTemplateConfig.model_validate(data))


def test_to_a_file_with_values_and_set(work: Path) -> None:
    run(
        work,
        outPath="out/all.yaml",
        namespace="dev",
        valuesFiles=["env/dev.yaml", "env/missing.yaml"],
        ignoreMissingValueFiles=True,
        setValues=[
            {"key": "image.tag", "value": "v0.0.5"},
            {"key": "greeting", "value": "a,b=c", "literal": True},
        ],
    )
    assert (work / "out/all.yaml").read_text() == (
        "---\n# Source: guestbook/templates/deploy.yaml\n"
        + rendered_deploy("guestbook", "dev", 2, "v0.0.5", "a,b=c")
        + "---\n# Source: guestbook/templates/tests/test.yaml\n"
        + rendered_hook("guestbook")
    )


def test_namespace_defaults_to_project_and_crds_and_skips(work: Path) -> None:
    run(work, outPath="out.yaml", includeCRDs=True, skipTests=True)
    assert (work / "out.yaml").read_text() == (
        f"---\n# Source: guestbook/crds/widgets.yaml\n{CRD}"
        "---\n# Source: guestbook/templates/deploy.yaml\n"
        + rendered_deploy("guestbook", "kargo-demo", 1, "v0.0.1", "hi")
    )


def test_helm_layout_with_release_name(work: Path) -> None:
    run(work, outPath="out", useReleaseName=True, releaseName="gb", disableHooks=True)
    files = {
        str(p.relative_to(work / "out")): p.read_text() for p in (work / "out").rglob("*") if p.is_file()
    }
    assert files == {
        "gb/guestbook/templates/deploy.yaml": "---\n# Source: guestbook/templates/deploy.yaml\n"
        + rendered_deploy("gb", "kargo-demo", 1, "v0.0.1", "hi")
    }


def test_flat_layout(work: Path) -> None:
    run(work, outPath="out", outLayout="flat", namespace="dev")
    files = {p.name: p.read_text() for p in (work / "out").iterdir()}
    assert files == {
        "apps-deployment-dev-guestbook.yaml": "# Source: guestbook/templates/deploy.yaml\n"
        + rendered_deploy("guestbook", "dev", 1, "v0.0.1", "hi"),
        "pod-guestbook-test.yaml": "# Source: guestbook/templates/tests/test.yaml\n"
        + rendered_hook("guestbook"),
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"outPath": "o.yaml", "valuesFiles": ["env/missing.yaml"]},
            "valuesFiles[0]: 'env/missing.yaml' does not exist (set ignoreMissingValueFiles to skip it)",
        ),
        ({"outPath": "o.yaml", "path": "env"}, "path: 'env' is not a Helm chart (no Chart.yaml)"),
    ],
)
def test_refusals(work: Path, config: dict[str, Any], message: str) -> None:
    with pytest.raises(TerminalStepError) as err:
        run(work, **config)
    assert str(err.value) == message
    assert not (work / "o.yaml").exists()


def test_template_error_is_reported(work: Path) -> None:
    from kargo_actions.promotion.step_api import StepError

    (work / "charts/guestbook/templates/bad.yaml").write_text("{{ .Values.nope.deeper }}\n")
    with pytest.raises(StepError) as err:
        run(work, outPath="o.yaml")
    assert str(err.value) == (
        "helm template charts/guestbook: guestbook/templates/bad.yaml:1:10 executing "
        '"guestbook/templates/bad.yaml" at <.Values.nope.deeper>: nil pointer evaluating interface {}.deeper'
    )


CAPABILITIES = """\
kind: ConfigMap
kube: {{ .Capabilities.KubeVersion.Version }}
monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}
"""


@pytest.mark.parametrize("renderer", ["sdk", "binary"])
def test_kube_version_and_api_versions(work: Path, renderer: str) -> None:
    if renderer == "binary":
        if shutil.which("helm") is None:
            pytest.skip("no helm binary on PATH (GitHub's hosted runners have one; the sdk case runs)")
        env = dict(os.environ)
    else:
        env = sdk_only_env()
        if not env:
            pytest.skip("a helm binary is in /usr/bin; the SDK path cannot be isolated")
    (work / "charts/guestbook/templates/caps.yaml").write_text(CAPABILITIES)
    HelmTemplate().run(
        context(work, env=env, project="kargo-demo"),
        HelmTemplateConfig.model_validate(
            {
                "path": "charts/guestbook",
                "releaseName": "guestbook",
                "outPath": "out.yaml",
                "namespace": "dev",
                "setValues": [{"key": "image.tag", "value": "v0.0.5"}],
                "skipTests": True,
                "kubeVersion": "1.30.0",
                "apiVersions": ["monitoring.coreos.com/v1"],
            }
        ),
    )
    assert (work / "out.yaml").read_text() == (
        "---\n# Source: guestbook/templates/caps.yaml\n"
        "kind: ConfigMap\nkube: v1.30.0\nmonitoring: true\n"
        "---\n# Source: guestbook/templates/deploy.yaml\n"
        + rendered_deploy("guestbook", "dev", 1, "v0.0.5", "hi")
    )


def test_without_helm_or_the_sdk_names_the_extra(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = sdk_only_env()
    if not env:
        pytest.skip("a helm binary is in /usr/bin")
    monkeypatch.setitem(sys.modules, "helm_python", None)  # as when the render extra is not installed
    with pytest.raises(TerminalStepError) as err:
        run(work, outPath="o.yaml")
    assert str(err.value) == (
        "helm-template needs helm on PATH or the Helm SDK of the render extra: "
        "pip install 'kargo-actions[render]'"
    )
