"""The pipeline graph as inline SVG, laid out here: Warehouses on the left, each Stage one column right of its
furthest source, nodes in a column ordered by where their sources sit (fewer crossing edges)."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from kargo_actions.report.graph import Node, PipelineGraph
from kargo_actions.struct import struct

NODE_W = 210
NODE_H = 58
GAP_X = 64
GAP_Y = 20
PAD = 12
LABEL_CHARS = 24


@struct
class Box:
    """Where one node is drawn."""

    node: Node
    column: int
    x: float
    y: float


@struct
class NodeView:
    """What a node shows besides its name: a second line, a state (CSS class) and where it links."""

    subtitle: str = ""
    state: str = "idle"
    href: str | None = None
    tooltip: str = ""


@struct
class Layout:
    boxes: tuple[Box, ...]
    width: float
    height: float

    def box(self, node_id: str) -> Box | None:
        return next((b for b in self.boxes if b.node.id == node_id), None)


def _columns(graph: PipelineGraph) -> dict[str, int]:
    """Warehouses in column 0; a Stage one right of its furthest source (nodes come upstream first)."""
    sources: dict[str, list[str]] = {}
    for edge in graph.edges:
        sources.setdefault(edge.target, []).append(edge.source)
    column: dict[str, int] = {}
    for node in graph.nodes:
        if node.kind == "Warehouse":
            column[node.id] = 0
        else:
            known = [column[s] for s in sources.get(node.id, ()) if s in column]
            column[node.id] = 1 + max(known) if known else 1
    return column


def layout(graph: PipelineGraph) -> Layout:
    """Columns left to right; within a column, nodes sorted by the mean row of their sources."""
    column = _columns(graph)
    sources: dict[str, list[str]] = {}
    for edge in graph.edges:
        sources.setdefault(edge.target, []).append(edge.source)
    by_column: dict[int, list[Node]] = {}
    for node in graph.nodes:
        by_column.setdefault(column[node.id], []).append(node)
    row: dict[str, float] = {}
    for col in sorted(by_column):
        nodes = by_column[col]
        if col > 0:

            def weight(node: Node) -> tuple[float, str]:
                rows = [row[s] for s in sources.get(node.id, ()) if s in row]
                return (sum(rows) / len(rows) if rows else float("inf"), node.name)

            nodes.sort(key=weight)
        for i, node in enumerate(nodes):
            row[node.id] = i
    tallest = max((len(n) for n in by_column.values()), default=0)
    height = PAD * 2 + tallest * NODE_H + max(0, tallest - 1) * GAP_Y
    columns = max(by_column, default=-1) + 1
    width = PAD * 2 + columns * NODE_W + max(0, columns - 1) * GAP_X
    boxes: list[Box] = []
    for col, nodes in sorted(by_column.items()):
        span = len(nodes) * NODE_H + max(0, len(nodes) - 1) * GAP_Y
        top = (height - span) / 2  # each column centred vertically
        for i, node in enumerate(nodes):
            x = PAD + col * (NODE_W + GAP_X)
            boxes.append(Box(node, col, x, top + i * (NODE_H + GAP_Y)))
    return Layout(tuple(boxes), width, height)


def _clip(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _node(box: Box, view: NodeView) -> str:
    node = box.node
    kind = "warehouse" if node.kind == "Warehouse" else ("control-flow" if node.control_flow else "stage")
    label = escape(_clip(node.name))
    tooltip = escape(f"{node.kind} {node.name}" + (f"\n{view.tooltip}" if view.tooltip else ""))
    sub = escape(_clip(view.subtitle, 28))
    x, y = box.x, box.y
    mark = {"warehouse": "Warehouse", "control-flow": "control flow", "stage": "Stage"}[kind]
    extras = [t for t, on in (("fan-in", node.fan_in), ("fan-out", node.fan_out)) if on]
    if node.verification:
        extras.append("verification")
    kind_line = escape(" · ".join([mark, *extras]))
    body = (
        f'<g class="node {kind} state-{escape(view.state)}" data-node="{escape(node.name)}" '
        f'transform="translate({x:.0f},{y:.0f})">'
        f"<title>{tooltip}</title>"
        f'<rect class="node-box" width="{NODE_W}" height="{NODE_H}" rx="10"/>'
        f'<rect class="node-accent" width="5" height="{NODE_H}" rx="2"/>'
        f'<text class="node-kind" x="16" y="17">{kind_line}</text>'
        f'<text class="node-name" x="16" y="35">{label}</text>'
        f'<text class="node-sub" x="16" y="50">{sub}</text>'
        "</g>"
    )
    if view.href:
        return f'<a href="{escape(view.href)}">{body}</a>'
    return body


def render_svg(graph: PipelineGraph, views: Mapping[str, NodeView]) -> str:
    """The graph as one <svg> element; `views` (by node id) adds a second line, a state and a link."""
    placed = layout(graph)
    labelled = len({e.warehouse for e in graph.edges}) > 1
    parts = [
        f'<svg class="pipeline" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{escape(f"Pipeline of {graph.project}")}" '
        f'viewBox="0 0 {placed.width:.0f} {placed.height:.0f}" width="{placed.width:.0f}" '
        f'height="{placed.height:.0f}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrow-head"/></marker></defs>',
        '<g class="edges">',
    ]
    for edge in graph.edges:
        source, target = placed.box(edge.source), placed.box(edge.target)
        if source is None or target is None:
            continue  # an origin the manifests do not define: validate reports it, the picture skips it
        x1, y1 = source.x + NODE_W, source.y + NODE_H / 2
        x2, y2 = target.x - 2, target.y + NODE_H / 2
        bend = max(24.0, (x2 - x1) / 2)
        kind = "direct" if edge.direct else "promotion"
        parts.append(
            f'<path class="edge {kind}" d="M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} '
            f'{x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}" marker-end="url(#arrow)"/>'
        )
        if labelled:
            parts.append(
                f'<text class="edge-label" x="{(x1 + x2) / 2:.0f}" y="{(y1 + y2) / 2 - 4:.0f}">'
                f"{escape(_clip(edge.warehouse, 18))}</text>"
            )
    parts.append('</g><g class="nodes">')
    for box in placed.boxes:
        parts.append(_node(box, views.get(box.node.id, NodeView())))
    parts.append("</g></svg>")
    return "".join(parts)
