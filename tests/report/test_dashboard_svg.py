"""The dashboard's own graph layout on kargo-advanced (fan-out, fan-in, a control-flow Stage): columns by
distance from the Warehouse, no two boxes overlapping, every edge drawn left to right, names escaped."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from kargo_actions.manifests import load_project
from kargo_actions.report.dashboard_svg import NODE_H, NODE_W, NodeView, layout, render_svg
from kargo_actions.report.graph import Edge, Node, PipelineGraph, build_graph
from tests.conftest import shared_path


@pytest.fixture
def advanced() -> PipelineGraph:
    return build_graph(load_project(shared_path("kargo-examples", "kargo-advanced", "kargo")))


def test_columns_follow_the_furthest_source(advanced: PipelineGraph) -> None:
    placed = layout(advanced)
    columns = {b.node.name: b.column for b in placed.boxes}
    assert columns == {
        "guestbook": 0,
        "dev": 1,
        "staging": 2,
        "ab-test-a": 3,
        "ab-test-b": 3,
        "prod": 4,  # fed by both A/B Stages
        "prod-central": 5,
        "prod-east": 5,
        "prod-west": 5,
    }
    last = sorted((b for b in placed.boxes if b.column == 5), key=lambda b: b.y)
    assert [b.node.name for b in last] == ["prod-central", "prod-east", "prod-west"]


def test_boxes_never_overlap_and_fit_the_canvas(advanced: PipelineGraph) -> None:
    placed = layout(advanced)
    boxes = placed.boxes
    for i, a in enumerate(boxes):
        assert a.x >= 0
        assert a.x + NODE_W <= placed.width
        assert a.y >= 0
        assert a.y + NODE_H <= placed.height
        for b in boxes[i + 1 :]:
            apart = a.x + NODE_W <= b.x or b.x + NODE_W <= a.x or a.y + NODE_H <= b.y or b.y + NODE_H <= a.y
            assert apart, (a.node.name, b.node.name)


def test_rows_follow_the_sources_to_avoid_crossings() -> None:
    # b's source sits above a's: b is drawn above a, so the two edges do not cross
    nodes = (
        Node("wh_x", "Warehouse", "x"),
        Node("wh_y", "Warehouse", "y"),
        Node("st_a", "Stage", "a"),
        Node("st_b", "Stage", "b"),
    )
    edges = (Edge("wh_y", "st_a", "y", True), Edge("wh_x", "st_b", "x", True))
    placed = layout(PipelineGraph("p", nodes, edges))
    y = {b.node.name: b.y for b in placed.boxes}
    assert y["x"] < y["y"]
    assert y["b"] < y["a"]


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_svg_escapes_text_and_links_nodes(advanced: PipelineGraph) -> None:
    views = {"st_dev": NodeView(subtitle='<script>alert("x")</script>', state="bad", href="stages/dev.html")}
    svg = render_svg(advanced, views)
    parsed = _Collect()
    parsed.feed(svg)
    assert [t for t, _ in parsed.tags if t == "script"] == []
    assert any('<script>alert("x")' in t for t in parsed.text)  # shown as text (clipped), not run
    links = [a["href"] for t, a in parsed.tags if t == "a"]
    assert links == ["stages/dev.html"]
    states = [a.get("class") for t, a in parsed.tags if t == "g" and a.get("data-node") == "dev"]
    assert states == ["node stage state-bad"]
    edges = [a for t, a in parsed.tags if t == "path" and "edge" in (a.get("class") or "")]
    assert len(edges) == len(advanced.edges)


def test_edges_carry_their_warehouse_when_there_are_several_origins() -> None:
    nodes = (Node("wh_x", "Warehouse", "x"), Node("wh_y", "Warehouse", "y"), Node("st_a", "Stage", "a"))
    edges = (Edge("wh_x", "st_a", "x", True), Edge("wh_y", "st_a", "y", True))
    parsed = _Collect()
    parsed.feed(render_svg(PipelineGraph("p", nodes, edges), {}))
    labels = [a for t, a in parsed.tags if t == "text" and a.get("class") == "edge-label"]
    assert len(labels) == 2
    single = _Collect()
    single.feed(render_svg(PipelineGraph("p", nodes[::2], edges[:1]), {}))
    assert not [a for t, a in single.tags if t == "text" and a.get("class") == "edge-label"]
