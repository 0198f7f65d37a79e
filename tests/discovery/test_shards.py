"""Discovery shards: Warehouse groups keep a source's Warehouses together, and an event's plan starts only
the groups (and Warehouses) it concerns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kargo_actions.discovery.shards import group_warehouses, plan_groups
from kargo_actions.errors import InvalidInputError
from kargo_actions.manifests import load_project
from kargo_actions.model.project import Project

MONO = "https://github.com/acme/mono.git"


def _warehouse(name: str, *subscriptions: dict[str, Any], interval: str = "5m") -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Warehouse",
        "metadata": {"name": name},
        "spec": {"interval": interval, "subscriptions": list(subscriptions)},
    }


def _mono(app: str) -> dict[str, Any]:
    return {"git": {"repoURL": MONO, "includePaths": [f"apps/{app}"]}}


WAREHOUSES = [
    _warehouse("mono-a", _mono("a")),
    _warehouse("mono-b", _mono("b")),
    _warehouse("mono-c", _mono("c"), {"image": {"repoURL": "ghcr.io/acme/c"}}),
    _warehouse("img-x", {"image": {"repoURL": "ghcr.io/acme/x"}}, interval="1h"),
    _warehouse("hub", {"image": {"repoURL": "nginx"}}),
    _warehouse("chart", {"chart": {"repoURL": "https://charts.example.com/", "name": "app"}}),
    _warehouse(
        "lib", {"git": {"repoURL": "git@github.com:acme/lib.git", "commitSelectionStrategy": "SemVer"}}
    ),
    _warehouse("quay", {"image": {"repoURL": "quay.io/acme/q"}}),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root: Path = tmp_path_factory.mktemp("shards") / ".kargo"
    root.mkdir()
    (root / "warehouses.yaml").write_text(yaml.safe_dump_all(WAREHOUSES))
    return load_project(root)


def _where(groups: Any) -> dict[str, str]:
    return {w: g.name for g in groups for w in g.warehouses}


def test_one_source_one_group_and_every_warehouse_once(project: Project) -> None:
    groups = group_warehouses(project, threshold=2)
    where = _where(groups)
    assert sorted(where) == sorted(project.warehouses)
    assert sum(len(g.warehouses) for g in groups) == len(project.warehouses)
    # the monorepo's Warehouses and ghcr.io's (mono-c ties both) share one job and its caches
    assert len({where[n] for n in ("mono-a", "mono-b", "mono-c", "img-x")}) == 1
    assert len(groups) == 4  # ceil(8 / 2), and there are 5 independent sources
    assert groups == group_warehouses(project, threshold=2)  # deterministic: stable cache keys
    assert len({g.key for g in groups}) == len(groups)


@pytest.mark.parametrize(("threshold", "count"), [(1, 5), (3, 3), (8, 1), (100, 1)])
def test_group_count_follows_the_threshold(project: Project, threshold: int, count: int) -> None:
    assert len(group_warehouses(project, threshold)) == count


def _push(ref: str, *changed: str, repo: str = "https://github.com/acme/mono") -> dict[str, Any]:
    commits = [{"id": "1" * 40, "added": [], "modified": list(changed), "removed": []}] if changed else []
    return {
        "ref": ref,
        "repository": {"clone_url": repo + ".git", "html_url": repo, "default_branch": "main"},
        "commits": commits,
    }


PLANS: list[tuple[str, dict[str, Any], set[str]]] = [
    ("push", _push("refs/heads/main", "apps/b/values.yaml"), {"mono-b"}),
    ("push", _push("refs/heads/main", "apps/a/x", "apps/c/y", "README.md"), {"mono-a", "mono-c"}),
    ("push", _push("refs/heads/main", "docs/index.md"), set()),
    ("push", _push("refs/heads/main"), {"mono-a", "mono-b", "mono-c"}),  # no commits listed: paths unknown
    ("push", _push("refs/heads/feature", "apps/a/x"), set()),
    ("push", _push("refs/tags/v1.2.0", repo="https://github.com/acme/lib"), {"lib"}),
    ("push", _push("refs/heads/main", "x", repo="https://github.com/acme/other"), set()),
    ("repository_dispatch", {"client_payload": {"repositories": ["ghcr.io/acme/x"]}}, {"img-x"}),
    ("repository_dispatch", {"client_payload": {"repositories": "docker.io/library/nginx"}}, {"hub"}),
    (
        "repository_dispatch",
        {"client_payload": {"repositories": ["github.com/acme/mono"], "paths": ["apps/c/k.yaml"]}},
        {"mono-c"},
    ),
    ("repository_dispatch", {"client_payload": {"repositories": ["https://github.com/acme/lib"]}}, {"lib"}),
    ("repository_dispatch", {"client_payload": {"warehouses": "quay chart"}}, {"quay", "chart"}),
    ("repository_dispatch", {"client_payload": {}}, {w["metadata"]["name"] for w in WAREHOUSES}),
    ("workflow_dispatch", {"inputs": {"warehouses": "hub"}}, {"hub"}),
    ("workflow_dispatch", {"inputs": {"warehouses": ""}}, {w["metadata"]["name"] for w in WAREHOUSES}),
    ("schedule", {"schedule": "0 */1 * * *"}, {"img-x"}),
]


@pytest.mark.parametrize(("event", "payload", "wanted"), PLANS)
def test_the_event_starts_only_the_groups_that_care(
    project: Project, event: str, payload: dict[str, Any], wanted: set[str]
) -> None:
    groups = group_warehouses(project, threshold=2)
    plan = plan_groups(project, groups, event, payload)
    chosen = {w for run in plan.runs for w in run.warehouses}
    assert chosen == wanted
    assert {run.group for run in plan.runs} == {_where(groups)[w] for w in wanted}
    assert set(plan.skipped) == set(project.warehouses) - wanted
    wire = plan.wire()
    assert wire["count"] == len(wire["groups"]) == len(plan.runs)
    assert all(set(entry) == {"group", "key", "warehouses"} for entry in wire["groups"])


@pytest.mark.parametrize(
    ("event", "payload", "where"),
    [
        ("workflow_dispatch", {"inputs": {"warehouses": "hub nope"}}, "inputs.warehouses"),
        ("repository_dispatch", {"client_payload": {"warehouses": ["mono-x"]}}, "client_payload.warehouses"),
    ],
)
def test_an_unknown_warehouse_is_bad_input(
    project: Project, event: str, payload: dict[str, Any], where: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        plan_groups(project, group_warehouses(project, 2), event, payload)
    assert [p.path for p in caught.value.problems] == [where]
