"""docs/kargo-compatibility.md covers every Kargo step, expression function and CRD field, with a status."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from kargo_actions.expressions import KargoEnvironment
from kargo_actions.promotion.registry import step_names
from tests.conftest import REPO_ROOT, shared_path

DOC = REPO_ROOT / "docs" / "kargo-compatibility.md"
STATUSES = ("supported", "different", "not supported", "not applicable", "planned")
# Kargo OSS steps that may be "planned" (none: every one is implemented or not applicable).
PLANNED: frozenset[str] = frozenset()
# Files of the step-schemas folder that are shared definitions, not steps.
NOT_STEPS = frozenset({"common.json", "argocd-common.json"})
# Kargo's paid-platform steps (KARGO-SEMANTICS.md) the page must place too.
PAID_STEPS = (
    "gha-dispatch-workflow",
    "gha-wait-for-workflow",
    "gh-create-issue",
    "send-message",
    "wait-for-approval",
)


@functools.cache
def _rows(section: str) -> dict[str, str]:
    """Names in the first column of a section's tables (several per cell allowed) -> status."""
    text = DOC.read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        assert cells[1] in STATUSES, f"{section}: {cells[0]}: status {cells[1]!r} is not one of {STATUSES}"
        for name in re.findall(r"`([^`]+)`", cells[0]):
            rows[name] = cells[1]
    return rows


def _schema_steps() -> list[str]:
    folder = shared_path("specs", "kargo", "step-schemas")
    return sorted(
        p.name.removesuffix("-config.json") for p in folder.glob("*.json") if p.name not in NOT_STEPS
    )


def test_every_kargo_step_is_implemented_or_not_applicable() -> None:
    rows = _rows("Promotion steps")
    registered = step_names()
    problems = []
    for step in _schema_steps():
        status = rows.get(step)
        if status is None:
            problems.append(f"{step}: not listed")
        elif status == "planned" and step not in PLANNED:
            problems.append(f"{step}: 'planned' is accepted only for {sorted(PLANNED)}")
        elif status in ("supported", "different") and step not in registered:
            problems.append(f"{step}: listed as {status} but not registered")
        elif status not in ("supported", "different", "not applicable", "planned"):
            problems.append(f"{step}: {status!r}: a Kargo step must be implemented or not applicable")
        elif step in registered and status not in ("supported", "different"):
            problems.append(f"{step}: registered but listed as {status}")
    assert not problems, "docs/kargo-compatibility.md: " + "; ".join(problems)


def test_every_registered_step_and_paid_step_is_listed() -> None:
    rows = _rows("Promotion steps")
    missing = sorted(n for n in [*step_names(), *PAID_STEPS] if n not in rows)
    assert not missing, f"docs/kargo-compatibility.md lists no row for {missing}"
    wrong = sorted(n for n in step_names() if rows[n] not in ("supported", "different"))
    assert not wrong, f"registered steps not marked supported/different: {wrong}"


def test_every_expression_function_is_listed() -> None:
    rows = _rows("Expression functions")
    missing = sorted(name for name in KargoEnvironment().functions() if name not in rows)
    assert not missing, f"docs/kargo-compatibility.md lists no row for the functions {missing}"


def _crd_fields() -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    yaml = YAML(typ="safe", pure=True)
    for path in sorted(shared_path("specs", "kargo", "crds").glob("*.yaml")):
        crd: Any = yaml.load(path.read_text())
        kind = crd["spec"]["names"]["kind"]
        props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
        found: list[str] = []
        for top, schema in props.items():
            if top in ("apiVersion", "kind", "metadata", "status"):
                continue
            found.append(top)
            found += _walk(schema, top + ".", 1)
        fields[kind] = found
    return fields


def _walk(schema: dict[str, Any], prefix: str, depth: int) -> list[str]:
    props = schema.get("properties") or (schema.get("items") or {}).get("properties") or {}
    out = []
    for name, sub in props.items():
        out.append(prefix + name)
        if depth > 0:
            out += _walk(sub, prefix + name + ".", depth - 1)
    return out


def test_every_crd_field_is_listed() -> None:
    text = DOC.read_text().split("\n## Manifest fields\n", 1)[1]
    problems = []
    for kind, fields in _crd_fields().items():
        if f"\n### {kind}\n" not in text:
            problems.append(f"no section for {kind}")
            continue
        section = text.split(f"\n### {kind}\n", 1)[1].split("\n### ", 1)[0]
        problems += [f"{kind} {f}" for f in fields if f"| `{f}` |" not in section]
    assert not problems, "docs/kargo-compatibility.md misses: " + ", ".join(problems)


def test_the_page_has_no_machine_paths() -> None:
    assert "/work/" not in DOC.read_text()
    assert Path(DOC).read_text().count("\n## ") == 3
