"""The package's shape, read from its source: no import cycles, imports point down the layers of
docs/architecture.md, and no section banners (a section that needs a banner is a module).

Imports count wherever they run: at module level and inside functions or classes (a lazy import still
makes a cycle when its function runs). Imports under `if TYPE_CHECKING:` never run, so they do not count.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kargo_actions"

# docs/architecture.md "Layers", top to bottom: a module may import its own layer and the layers below it.
# Each name is a subpackage or a top-level module of kargo_actions ("" is the package's __init__).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli", "__main__", "demo"),
    ("manifests", "manifest_checks", "manifest_credentials", "manifest_expressions"),
    ("promotion", "discovery", "verification", "report"),
    ("github", "argocd", "oci"),
    ("ledger", "expressions"),
    ("freight",),
    ("model",),
    (
        "errors",
        "deadline",
        "cache_home",
        "regex",
        "semver",
        "redact",
        "actions_run",
        "manifest_files",
        "manifest_yaml",
        "struct",
        "version",
        "_version",
        "",
    ),
)

# Upward imports still to move, each with where it should go; the test fails once one is gone, so the list
# only shrinks. None are sanctioned exceptions: docs/architecture.md sanctions none.
PENDING: dict[tuple[str, str], str] = {}

# Modules whose banners are still to go (none left; a module may not be added back).
PENDING_BANNERS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Import:
    source: str  # module names without the "kargo_actions." prefix
    target: str
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for other in node.orelse:
                yield from _runtime_imports(ast.Module(body=[other], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        else:
            yield from _runtime_imports(node)


def _resolve(name: str) -> str | None:
    """The module of ours that `name` (a dotted path below kargo_actions) is or lies in."""
    while name not in MODULES:
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return name


def _ours(name: str) -> str | None:
    if name == "kargo_actions" or name.startswith("kargo_actions."):
        return name.removeprefix("kargo_actions").removeprefix(".")
    return None


def _targets(node: ast.Import | ast.ImportFrom, module: str) -> Iterator[str]:
    """The modules of ours an import statement runs: `from pkg import mod` runs pkg.mod, `from mod import
    name` runs mod."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = _ours(alias.name)
            found = _resolve(name) if name is not None else None
            if found is not None:
                yield found
        return
    if node.level:
        package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        stem: str | None = ".".join(
            [*package[: len(package) - (node.level - 1)], *filter(None, [node.module])]
        )
    else:
        stem = _ours(node.module or "")
    if stem is None:
        return
    for alias in node.names:
        full = f"{stem}.{alias.name}" if stem else alias.name
        found = full if full in MODULES else _resolve(stem)
        if found is not None:
            yield found


def _imports() -> list[Import]:
    found: set[Import] = set()
    for module, path in MODULES.items():
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            found.update(
                Import(module, target, node.lineno) for target in _targets(node, module) if target != module
            )
    return sorted(found, key=lambda i: (i.source, i.target, i.line))


IMPORTS = _imports()


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_cycles_are_found() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert _cycles(edges) == [["a", "b", "c"]]


def test_the_graph_sees_lazy_imports_and_skips_type_checking_ones() -> None:
    edges = {(i.source, i.target) for i in IMPORTS}
    # promotion/reporters.py imports the GitHub reporter inside choose_reporter only
    assert ("promotion.reporters", "promotion.github_reporting") in edges
    # verification/providers/base.py names RunMetric under TYPE_CHECKING only
    assert ("verification.providers.base", "verification.templates") not in edges
    # `from kargo_actions.expressions import nodes as n` is an import of the module expressions.nodes
    assert ("expressions.parser", "expressions.nodes") in edges


def test_no_import_cycles() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    lines: dict[tuple[str, str], int] = {}
    for i in IMPORTS:
        edges[i.source].add(i.target)
        edges.setdefault(i.target, set())
        lines.setdefault((i.source, i.target), i.line)
    report = []
    for component in _cycles(edges):
        members = set(component)
        report.append(
            "cycle: "
            + ", ".join(
                f"{a} -> {b} (line {lines[a, b]})" for a in component for b in sorted(edges[a] & members)
            )
        )
    assert not report, "\n".join(report)


def _layer(module: str) -> int:
    top = module.split(".", 1)[0]
    for rank, names in enumerate(LAYERS):
        if top in names:
            return rank
    raise AssertionError(
        f"kargo_actions.{module}: place {top!r} in a layer of LAYERS (and docs/architecture.md)"
    )


def test_layers_are_the_ones_docs_architecture_names() -> None:
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = text.split("## Layers", 1)[1].split("```", 2)[1]
    documented = [line.split(", ") for line in block.strip().splitlines()]
    assert documented == [[n for n in layer if n and not n.startswith("_")] for layer in LAYERS]


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)


def test_imports_point_down_the_layers() -> None:
    upward = {(i.source, i.target): i.line for i in reversed(IMPORTS) if _layer(i.source) > _layer(i.target)}
    new = [f"kargo_actions.{a} (line {line}) imports kargo_actions.{b}" for (a, b), line in upward.items()]
    new = [text for (pair, text) in zip(upward, new, strict=True) if pair not in PENDING]
    gone = [f"{a} -> {b}" for (a, b) in PENDING if (a, b) not in upward]
    assert not new, "a lower layer imports a higher one (docs/architecture.md, Layers):\n" + "\n".join(new)
    assert not gone, "moved, so take them out of PENDING: " + ", ".join(gone)


# `# ---- name ----`, `# -- name -----`, `# ==== name`, `##### name`: a comment framed by a run of rule
# characters. A long flag in a comment (`# --missing: ...`) is no banner.
_BANNER = re.compile(r"^\s*#+\s*([-=*#~_])\1{1,}(\s.*)?$|^\s*#.*\s([-=*#~_])\3{3,}\s*$")


@pytest.mark.parametrize(
    ("line", "banner"),
    [
        ("# ---- selection ----", True),
        ("    # -- auth ------------------------------------", True),
        ("# ==== HTTP", True),
        ("##### parsing", True),
        ("# a note ----------", True),
        ("            # --missing: mktree's existence check is quick", False),
        ("# why this line exists", False),
        ("x = 1  # -- not a comment line", False),
    ],
)
def test_banner_pattern(line: str, banner: bool) -> None:
    assert bool(_BANNER.match(line)) is banner


def test_no_section_banners() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in PENDING_BANNERS:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _BANNER.match(line):
                found.append(f"kargo_actions/{rel}:{number}: {line.strip()}")
    assert not found, "section banners (a section that needs one is a module):\n" + "\n".join(found)


def test_pending_banners_are_still_there() -> None:
    still = {
        rel
        for rel in PENDING_BANNERS
        if any(_BANNER.match(line) for line in (PACKAGE / rel).read_text(encoding="utf-8").splitlines())
    }
    assert still == PENDING_BANNERS, (
        f"no banner left: take {sorted(PENDING_BANNERS - still)} out of PENDING_BANNERS"
    )
