"""The pipeline graph of kargo-advanced (fan-out at staging and prod, fan-in and control flow at prod)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kargo_actions.manifests import load_project
from kargo_actions.model.project import Project
from kargo_actions.report.graph import build_graph, graph_to_json, render_dot, render_mermaid
from tests.conftest import shared_path


@pytest.fixture
def advanced() -> Project:
    return load_project(shared_path("kargo-examples", "kargo-advanced", "kargo"))


def test_nodes_and_edges(advanced: Project) -> None:
    graph = build_graph(advanced)
    flags = {n.name: (n.kind, n.control_flow, n.fan_in, n.fan_out, n.verification) for n in graph.nodes}
    assert flags == {
        "guestbook": ("Warehouse", False, False, False, False),
        "dev": ("Stage", False, False, False, False),
        "staging": ("Stage", False, False, True, False),
        "ab-test-a": ("Stage", False, False, False, True),
        "ab-test-b": ("Stage", False, False, False, True),
        "prod": ("Stage", True, True, True, False),
        "prod-central": ("Stage", False, False, False, False),
        "prod-east": ("Stage", False, False, False, False),
        "prod-west": ("Stage", False, False, False, False),
    }
    assert [(e.source, e.target, e.direct) for e in graph.edges] == [
        ("wh_guestbook", "st_dev", True),
        ("st_dev", "st_staging", False),
        ("st_staging", "st_ab_test_a", False),
        ("st_staging", "st_ab_test_b", False),
        ("st_ab_test_a", "st_prod", False),
        ("st_ab_test_b", "st_prod", False),
        ("st_prod", "st_prod_central", False),
        ("st_prod", "st_prod_east", False),
        ("st_prod", "st_prod_west", False),
    ]


def test_mermaid_marks_control_flow_and_fans(advanced: Project) -> None:
    text = render_mermaid(build_graph(advanced))
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert '  wh_guestbook[("guestbook")]' in lines
    assert '  st_prod{{"prod"}}' in lines  # hexagon: a control-flow Stage
    assert '  st_dev["dev"]' in lines
    assert "  st_ab_test_b --> st_prod" in lines
    assert "  class st_prod controlFlow" in lines
    assert "  class st_staging,st_prod fanOut" in lines
    assert "  class st_prod fanIn" in lines
    assert "|" not in text.split("classDef")[0].split("-->", 1)[1]  # one Warehouse: edges unlabelled


def test_dot_marks_control_flow_and_fans(advanced: Project) -> None:
    text = render_dot(build_graph(advanced))
    assert text.startswith('digraph "kargo-advanced" {\n  rankdir=LR;')
    assert (
        '  st_prod [label="prod", shape="diamond", style="dashed", penwidth="3", xlabel="fan-in fan-out"];'
        in text
    )
    assert (
        '  st_staging [label="staging", shape="box", style="rounded", penwidth="3", xlabel="fan-out"];'
        in text
    )
    assert '  wh_guestbook [label="guestbook", shape="cylinder"' in text
    assert "  st_prod -> st_prod_west;" in text
    assert text.rstrip().endswith("}")


def test_json_contract(advanced: Project) -> None:
    data = graph_to_json(build_graph(advanced))
    assert data["project"] == "kargo-advanced"
    prod = next(n for n in data["nodes"] if n["name"] == "prod")
    assert prod == {"id": "st_prod", "kind": "Stage", "name": "prod", "controlFlow": True, "fanIn": True,
                    "fanOut": True, "verification": False}  # fmt: skip
    assert data["edges"][0] == {
        "from": "wh_guestbook",
        "to": "st_dev",
        "warehouse": "guestbook",
        "direct": True,
    }
    assert len(data["edges"]) == 9


def test_two_warehouses_label_their_edges(tmp_path: Path) -> None:
    docs = []
    for wh in ("frontend", "backend"):
        docs.append(
            f"apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata:\n  name: {wh}\n"
            f"spec:\n  subscriptions:\n  - image:\n      repoURL: ghcr.io/example/{wh}\n"
        )
    docs.append(
        textwrap.dedent(
            """\
            apiVersion: kargo.akuity.io/v1alpha1
            kind: Stage
            metadata:
              name: test
            spec:
              requestedFreight:
              - origin: {kind: Warehouse, name: frontend}
                sources: {direct: true}
              - origin: {kind: Warehouse, name: backend}
                sources: {direct: true}
            """
        )
    )
    (tmp_path / "all.yaml").write_text("---\n".join(docs))
    graph = build_graph(load_project(tmp_path))
    mermaid = render_mermaid(graph)
    assert "  wh_frontend -->|frontend| st_test" in mermaid
    assert "  wh_backend -->|backend| st_test" in mermaid
    assert '  wh_backend -> st_test [label="backend"];' in render_dot(graph)
    # Two Warehouses feeding one Stage directly is not fan-in between Stages.
    assert not next(n for n in graph.nodes if n.name == "test").fan_in


def test_names_that_sanitize_alike_get_distinct_ids(tmp_path: Path) -> None:
    docs = [
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata:\n  name: app\n"
        "spec:\n  subscriptions:\n  - image:\n      repoURL: ghcr.io/example/app\n"
    ]
    for name, source in (("a-b", "direct: true"), ("a.b", "stages: [a-b]")):
        docs.append(
            f"apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: {name}\nspec:\n"
            f"  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{{source}}}\n"
        )
    (tmp_path / "all.yaml").write_text("---\n".join(docs))
    graph = build_graph(load_project(tmp_path))
    ids = {n.name: n.id for n in graph.nodes}
    assert ids == {"app": "wh_app", "a-b": "st_a_b", "a.b": "st_a_b_2"}
    assert [(e.source, e.target) for e in graph.edges] == [("wh_app", "st_a_b"), ("st_a_b", "st_a_b_2")]
