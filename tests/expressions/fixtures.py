"""A realistic Kargo promotion environment (kargo-advanced's guestbook) shared by the expression tests."""

from __future__ import annotations

from typing import Any

from kargo_actions.expressions import Environment, KargoEnvironment
from kargo_actions.model.freight import Freight

GIT_REPO = "https://github.com/akuity/kargo-advanced.git"
IMAGE_REPO = "ghcr.io/akuity/guestbook"


def guestbook_freight() -> Freight:
    return Freight.model_validate(
        {
            "metadata": {"name": "f0e1d2c3b4a5968778695a4b3c2d1e0f12345678"},
            "alias": "fancy-fox",
            "origin": {"kind": "Warehouse", "name": "guestbook"},
            "images": [
                {
                    "repoURL": IMAGE_REPO,
                    "tag": "v0.0.3",
                    "digest": "sha256:1e2d3c",
                    "annotations": {"org.opencontainers.image.revision": "abc"},
                }
            ],
            "commits": [
                {"repoURL": GIT_REPO, "id": "9f8e7d6c5b4a", "branch": "main", "message": "Bump guestbook"}
            ],
            "status": {
                "metadata": {"category": "hotfix", "config": {"settings": {"timeoutSeconds": 60}}},
                "approvedFor": {"prod": {"approvedAt": "2026-01-02T03:04:05Z"}},
            },
        }
    )


def charts_freight() -> Freight:
    return Freight.model_validate(
        {
            "metadata": {"name": "c4a7"},
            "origin": {"kind": "Warehouse", "name": "my-warehouse"},
            "charts": [
                {"repoURL": "oci://example.com/my-chart", "version": "1.4.0"},
                {"repoURL": "https://example.com/charts", "name": "my-chart", "version": "2.0.1"},
            ],
            "images": [{"repoURL": "public.ecr.aws/nginx/nginx", "tag": "1.27.0", "digest": "sha256:ff"}],
            "commits": [
                {"repoURL": "https://github.com/example/frontend.git", "id": "f1", "tag": "v1.2.0"},
                {"repoURL": "https://github.com/example/backend.git", "id": "b1", "tag": "v1.2.0"},
                {"repoURL": "https://github.com/example/repo.git", "id": "e1", "tag": "v3.0.0"},
            ],
        }
    )


VARS: dict[str, Any] = {
    "repoURL": GIT_REPO,
    "gitRepo": GIT_REPO,
    "branch": "main",
    "image": IMAGE_REPO,
    "imageRepo": IMAGE_REPO,
    "openpr": "true",
    "srcPath": "./src",
    "outPath": "./out",
    "targetBranch": "stage/dev",
    "replicas": 3,
}

OUTPUTS: dict[str, Any] = {
    "update-image": {"commitMessage": "Updated ghcr.io/akuity/guestbook to v0.0.3"},
    "commit": {"commit": "4b2f9e1"},
    "read-config": {"appConfig": {"name": "guestbook", "port": 8080}},
    "read-version": {"currentVersion": "1.4.2"},
    "push": {"branch": "kargo/promotion/dev", "commit": "4b2f9e1"},
    "open-pr": {"prNumber": 42, "pr": {"id": 42, "url": "https://github.com/x/y/pull/42"}},
}

STATUSES = {
    "clone": "Succeeded",
    "update-image": "Succeeded",
    "my-step-alias": "Succeeded",
    "optional": "Skipped",
}
SECRETS = {"slack": {"token": "xoxb-123"}}
CONFIG_MAPS = {"my-config": {"repoURL": "https://github.com/example/config.git"}}
STAGE_METADATA: dict[str, dict[str, Any]] = {
    "dev": {"aws-region": "us-west-2", "config": {"settings": {"timeoutSeconds": 120}}}
}


def kargo_environment(**overrides: Any) -> KargoEnvironment:
    target = guestbook_freight()
    values: dict[str, Any] = {
        "project": "kargo-advanced",
        "stage": "dev",
        "promotion": "dev.01jabc.f0e1d2c",
        "target_freight": target,
        "actor": "admin",
        "step_alias": "update-image",
        "vars": VARS,
        "outputs": OUTPUTS,
        "task_outputs": OUTPUTS,
        "freight": [target, charts_freight()],
        "step_statuses": lambda: STATUSES,
        "secrets": lambda name: SECRETS.get(name, {}),
        "config_maps": lambda name: CONFIG_MAPS.get(name, {}),
        "stage_metadata": STAGE_METADATA.get,
    }
    values.update(overrides)
    return KargoEnvironment(**values)


def table_environment() -> Environment:
    """Kargo's environment plus Argo Rollouts-like and plain test variables, for the table."""
    env = kargo_environment().build()
    return env.with_variables(
        result=[0.97, 0.99],
        scalar=150,
        flag=True,
        users=[{"Name": "Jane", "Age": 31}, {"Name": "John", "Age": 17}, {"Name": "Jim", "Age": 45}],
        empty=[],
        nothing=None,
        text="Hello World",
        nested={"a": {"b": {"c": 1}}},
    )
