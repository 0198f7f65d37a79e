"""kustomize-set-image: config table, then exact kustomization.yaml content after each run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import TerminalStepError
from kargo_actions.promotion.steps.kustomize_set_image import KustomizeSetImage, KustomizeSetImageConfig
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context, freight

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "base"}, []),
    ({"path": "base", "images": [{"image": "nginx", "tag": "1.25"}]}, []),
    (
        {
            "path": "base",
            "images": [{"image": "nginx", "digest": "sha256:ab", "newName": "m/nginx", "name": "n"}],
        },
        [],
    ),
    (
        {"path": "base", "images": [{"image": "nginx", "tag": "1", "digest": "sha256:ab"}]},
        ["config.images[0]: tag and digest are mutually exclusive"],
    ),
    (
        {"path": "base", "images": [{"image": "nginx"}]},
        ["config.images[0]: one of tag or digest is required"],
    ),
    (
        {"path": "base", "images": [{"image": "", "tag": "1"}]},
        ["config.images[0].image: must not be empty"],
    ),
    ({"images": []}, ["config.path: required field is missing"]),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(KustomizeSetImageConfig, data) == expected


KUSTOMIZATION = """\
# the dev overlay
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../base   # shared manifests
images:
- name: zeta/worker
  newTag: old   # pinned by hand
- name: ghcr.io/acme/app
  newName: mirror.example.com/acme/app
  newTag: 0.1.0
namespace: dev
"""

RUN_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "tag replaces the entry",
        {"images": [{"image": "ghcr.io/acme/app", "tag": "1.2.3"}]},
        """\
# the dev overlay
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../base   # shared manifests
images:
- name: ghcr.io/acme/app
  newTag: 1.2.3
- name: zeta/worker
  newTag: old   # pinned by hand
namespace: dev
""",
        "Updated overlays/dev to use new image\n\n- ghcr.io/acme/app:1.2.3",
    ),
    (
        "digest, keeping newName with *, and a new image",
        {
            "images": [
                {"image": "ghcr.io/acme/app", "digest": "sha256:abc", "newName": "*"},
                {"image": "redis", "tag": "7.0"},
            ]
        },
        """\
# the dev overlay
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../base   # shared manifests
images:
- name: ghcr.io/acme/app
  newName: mirror.example.com/acme/app
  digest: sha256:abc
- name: redis
  newTag: "7.0"
- name: zeta/worker
  newTag: old   # pinned by hand
namespace: dev
""",
        "Updated overlays/dev to use new images\n\n- mirror.example.com/acme/app@sha256:abc\n- redis:7.0",
    ),
]


@pytest.mark.parametrize(
    ("config", "expected", "message"), [c[1:] for c in RUN_CASES], ids=[c[0] for c in RUN_CASES]
)
def test_run(tmp_path: Path, config: dict[str, Any], expected: str, message: str) -> None:
    overlay = tmp_path / "overlays/dev"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text(KUSTOMIZATION)
    result = KustomizeSetImage().run(
        context(tmp_path), KustomizeSetImageConfig.model_validate({"path": "overlays/dev", **config})
    )
    assert (overlay / "kustomization.yaml").read_text() == expected
    assert result.outputs == {"commitMessage": message}


def test_images_omitted_takes_every_image_of_the_freight(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base/kustomization.yaml").write_text("resources:\n- deploy.yaml\n")
    collection = [
        freight("f1", "app", images=[{"repoURL": "ghcr.io/acme/app", "tag": "v0.0.5"}]),
        freight("f2", "db", images=[{"repoURL": "ghcr.io/acme/db", "tag": "1.0", "digest": "sha256:d"}]),
    ]
    result = KustomizeSetImage().run(
        context(tmp_path, freight=collection), KustomizeSetImageConfig(path="base")
    )
    assert (tmp_path / "base/kustomization.yaml").read_text() == (
        "resources:\n"
        "- deploy.yaml\n"
        "images:\n"
        "- name: ghcr.io/acme/app\n"
        "  newTag: v0.0.5\n"
        "- name: ghcr.io/acme/db\n"
        '  newTag: "1.0"\n'
        "  digest: sha256:d\n"
    )
    assert result.outputs["commitMessage"] == (
        "Updated base to use new images\n\n- ghcr.io/acme/app:v0.0.5\n- ghcr.io/acme/db:1.0@sha256:d"
    )


@pytest.mark.parametrize(
    ("files", "collection", "message"),
    [
        (
            [],
            [],
            "path: no kustomization file in 'k' (looked for kustomization.yaml, kustomization.yml, Kustomization)",
        ),
        (
            ["kustomization.yaml", "Kustomization"],
            [],
            "path: 'k' holds more than one kustomization file (kustomization.yaml, Kustomization); keep one",
        ),
        (
            ["kustomization.yaml"],
            [
                freight("f1", "a", images=[{"repoURL": "nginx", "tag": "1"}]),
                freight("f2", "b", images=[{"repoURL": "nginx", "tag": "2"}]),
            ],
            "images: nginx comes from both Warehouse a and Warehouse b with different versions; "
            "name the images to set in the step's images list",
        ),
        (
            ["kustomization.yaml"],
            [freight("f1", "a", commits=[{"repoURL": "https://g/x", "id": "abc"}])],
            "images: none given and the Freight being promoted has no images; list the images to set",
        ),
    ],
    ids=["none", "two", "ambiguous", "no images"],
)
def test_refusals(tmp_path: Path, files: list[str], collection: list[Any], message: str) -> None:
    (tmp_path / "k").mkdir()
    for name in files:
        (tmp_path / "k" / name).write_text("resources: []\n")
    with pytest.raises(TerminalStepError) as err:
        KustomizeSetImage().run(context(tmp_path, freight=collection), KustomizeSetImageConfig(path="k"))
    assert str(err.value) == message
    for name in files:
        assert (tmp_path / "k" / name).read_text() == "resources: []\n"
