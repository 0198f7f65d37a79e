"""The pipeline as a graph: Warehouses and Stages, Freight edges, rendered as Mermaid, Graphviz dot or JSON.

Fan-out (a Stage feeding several) and fan-in (a Stage fed by several) are marked on the nodes;
control-flow Stages (no promotion steps) are drawn in their own shape and style.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from kargo_actions.model.project import Project
from kargo_actions.struct import struct

NodeKind = Literal["Warehouse", "Stage"]


@struct
class Node:
    id: str
    kind: NodeKind
    name: str
    control_flow: bool = False
    fan_in: bool = False
    fan_out: bool = False
    verification: bool = False


@struct
class Edge:
    source: str
    target: str
    warehouse: str  # the Freight origin flowing along the edge
    direct: bool  # straight from the Warehouse


@struct
class PipelineGraph:
    project: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def node_id(kind: NodeKind, name: str) -> str:
    """An identifier Mermaid and dot accept for any Kubernetes name (which may hold '-' and '.')."""
    prefix = "wh" if kind == "Warehouse" else "st"
    return f"{prefix}_" + re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _unique_ids(project: Project) -> dict[tuple[NodeKind, str], str]:
    """node_id for every node; names that read alike once sanitized ("a-b", "a.b") get a numeric suffix."""
    ids: dict[tuple[NodeKind, str], str] = {}
    taken: set[str] = set()
    keys: list[tuple[NodeKind, str]] = [("Warehouse", w) for w in sorted(project.warehouses)]
    keys += [("Stage", s) for s in sorted(project.stages)]
    for kind, name in keys:
        candidate = base = node_id(kind, name)
        n = 2
        while candidate in taken:
            candidate, n = f"{base}_{n}", n + 1
        ids[(kind, name)] = candidate
        taken.add(candidate)
    return ids


def build_graph(project: Project) -> PipelineGraph:
    """Nodes in a stable order (Warehouses by name, then Stages upstream first) and every edge."""
    ids = _unique_ids(project)
    edges: list[Edge] = []
    for stage_name in project.stage_order():
        stage = project.stages[stage_name]
        target = ids[("Stage", stage_name)]
        for request in stage.spec.requested_freight:
            origin = request.origin.name
            if request.sources.direct:
                source = ids.get(("Warehouse", origin), node_id("Warehouse", origin))
                edges.append(Edge(source, target, origin, True))
            for upstream in request.sources.stages:
                source = ids.get(("Stage", upstream), node_id("Stage", upstream))
                edges.append(Edge(source, target, origin, False))
    out_count: dict[str, set[str]] = {}
    in_count: dict[str, set[str]] = {}
    for e in edges:
        if not e.direct:
            out_count.setdefault(e.source, set()).add(e.target)
            in_count.setdefault(e.target, set()).add(e.source)
    nodes: list[Node] = [Node(ids[("Warehouse", w)], "Warehouse", w) for w in sorted(project.warehouses)]
    for stage_name in project.stage_order():
        stage = project.stages[stage_name]
        sid = ids[("Stage", stage_name)]
        verification = stage.spec.verification
        nodes.append(
            Node(
                sid,
                "Stage",
                stage_name,
                control_flow=stage.is_control_flow,
                fan_in=len(in_count.get(sid, ())) > 1,
                fan_out=len(out_count.get(sid, ())) > 1,
                verification=bool(verification and verification.analysis_templates),
            )
        )
    return PipelineGraph(project.name, tuple(nodes), tuple(edges))


def _multi_origin(graph: PipelineGraph) -> bool:
    return len({e.warehouse for e in graph.edges}) > 1


HIGHLIGHTS = {
    "promoted": "fill:#e6f4ea,stroke:#1e8e3e,stroke-width:3px",
    "failed": "fill:#fce8e6,stroke:#c5221f,stroke-width:3px",
}


def render_mermaid(
    graph: PipelineGraph,
    *,
    labels: Mapping[str, str] | None = None,
    highlight: Mapping[str, str] | None = None,
) -> str:
    """A Mermaid flowchart: Warehouses as cylinders, control-flow Stages as hexagons, fan nodes classed.

    `labels`: node ID -> a line under the node's name (a job summary's Freight per Stage); `highlight`:
    node ID -> a class of HIGHLIGHTS (the Stage a promotion went into, green, or failed in, red).
    """
    lines = ["flowchart LR"]
    for node in graph.nodes:
        label = node.name.replace('"', "'")
        extra = (labels or {}).get(node.id)
        if extra:
            label += "<br/>" + extra.replace('"', "'")
        if node.kind == "Warehouse":
            lines.append(f'  {node.id}[("{label}")]')
        elif node.control_flow:
            lines.append(f'  {node.id}{{{{"{label}"}}}}')
        else:
            lines.append(f'  {node.id}["{label}"]')
    labelled = _multi_origin(graph)
    for e in graph.edges:
        arrow = f"-->|{e.warehouse}|" if labelled else "-->"
        lines.append(f"  {e.source} {arrow} {e.target}")
    lines += [
        "  classDef warehouse fill:#e8f0fe,stroke:#1a73e8",
        "  classDef controlFlow fill:#fff8e1,stroke:#f9a825,stroke-dasharray:5 5",
        "  classDef fanOut stroke-width:3px",
        "  classDef fanIn stroke-width:3px",
    ]
    classes = _classes(graph)
    for node_id, cls in (highlight or {}).items():
        if cls in HIGHLIGHTS:
            classes.setdefault(cls, []).append(node_id)
    lines += [f"  classDef {cls} {style}" for cls, style in HIGHLIGHTS.items() if classes.get(cls)]
    for cls, members in classes.items():
        if members:
            lines.append(f"  class {','.join(members)} {cls}")
    return "\n".join(lines) + "\n"


def _classes(graph: PipelineGraph) -> dict[str, list[str]]:
    return {
        "warehouse": [n.id for n in graph.nodes if n.kind == "Warehouse"],
        "controlFlow": [n.id for n in graph.nodes if n.control_flow],
        "fanOut": [n.id for n in graph.nodes if n.fan_out],
        "fanIn": [n.id for n in graph.nodes if n.fan_in],
    }


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(graph: PipelineGraph) -> str:
    """A Graphviz digraph: Warehouses as cylinders, control-flow Stages as dashed diamonds, fans in bold."""
    lines = [f"digraph {_dot_quote(graph.project)} {{", "  rankdir=LR;", "  node [fontname=Helvetica];"]
    for node in graph.nodes:
        attrs = {"label": node.name}
        if node.kind == "Warehouse":
            attrs.update(shape="cylinder", style="filled", fillcolor="#e8f0fe")
        elif node.control_flow:
            attrs.update(shape="diamond", style="dashed")
        else:
            attrs.update(shape="box", style="rounded")
        if node.fan_out or node.fan_in:
            attrs["penwidth"] = "3"
            attrs["xlabel"] = " ".join(
                t for t, on in (("fan-in", node.fan_in), ("fan-out", node.fan_out)) if on
            )
        rendered = ", ".join(f"{k}={_dot_quote(v)}" for k, v in attrs.items())
        lines.append(f"  {node.id} [{rendered}];")
    labelled = _multi_origin(graph)
    for e in graph.edges:
        attr = f" [label={_dot_quote(e.warehouse)}]" if labelled else ""
        lines.append(f"  {e.source} -> {e.target}{attr};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_to_json(graph: PipelineGraph) -> dict[str, Any]:
    """The graph as plain data (the `--format json` contract)."""
    return {
        "project": graph.project,
        "nodes": [
            {
                "id": n.id,
                "kind": n.kind,
                "name": n.name,
                "controlFlow": n.control_flow,
                "fanIn": n.fan_in,
                "fanOut": n.fan_out,
                "verification": n.verification,
            }
            for n in graph.nodes
        ],
        "edges": [
            {"from": e.source, "to": e.target, "warehouse": e.warehouse, "direct": e.direct}
            for e in graph.edges
        ],
    }


def render_json(graph: PipelineGraph) -> str:
    return json.dumps(graph_to_json(graph), indent=2) + "\n"


RENDERERS = {"mermaid": render_mermaid, "dot": render_dot, "json": render_json}
