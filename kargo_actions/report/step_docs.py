"""docs/steps/<step>.md: the config table and outputs of every registered step, generated from its model.

Each page is hand-written prose (purpose, example, differences from Kargo) around one generated part between
BEGIN and END markers. Regenerate with `python -m kargo_actions.report.step_docs --write`; `--check` (and a
test) fails when a generated part is stale or a registered step has no page. Field descriptions come from
the config models: `Field(description=...)` or an attribute docstring under the field.
"""

from __future__ import annotations

import argparse
import ast
import functools
import inspect
import itertools
import json
import re
import sys
import textwrap
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from kargo_actions.model.base import strip_annotation
from kargo_actions.promotion.step_api import StepConfig
from kargo_actions.struct import struct

BEGIN = "<!-- BEGIN GENERATED: config and outputs (python -m kargo_actions.report.step_docs --write) -->"
END = "<!-- END GENERATED -->"
DOCS_DIR = Path("docs") / "steps"


@struct
class FieldRow:
    """One line of a config table."""

    path: str
    type: str
    required: bool
    default: str
    description: str


def field_descriptions(model: type[BaseModel]) -> dict[str, str]:
    """Each field's description: `Field(description=...)`, else for a StepConfig the docstring under it."""
    descriptions: dict[str, str] = {}
    for name, info in model.model_fields.items():
        text = info.description
        if text is None and issubclass(model, StepConfig):
            # The class that declares the field last holds its docstring (a redeclaration without one has none).
            owner = next(c for c in model.__mro__ if name in inspect.get_annotations(c))
            text = _attribute_docstrings(owner).get(name)
        descriptions[name] = text or ""
    return descriptions


@functools.cache
def _attribute_docstrings(cls: type) -> dict[str, str]:
    """`field: T` followed by a string statement in the class body -> {field: cleaned string} (as pydantic)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for stmt, after in itertools.pairwise(body):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[stmt.target.id] = inspect.cleandoc(after.value.value)
    return docs


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def type_text(annotation: Any) -> str:
    """A reader's name of a field's type: string, boolean, list of objects, `A` or `B`, ..."""
    annotation = strip_annotation(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is str:
        return "string"
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    if annotation is float:
        return "number"
    if annotation is Any or annotation is object:
        return "any"
    if _is_model(annotation):
        return "object"
    if origin is typing.Literal:
        return " or ".join(f"`{json.dumps(a)[1:-1] if isinstance(a, str) else json.dumps(a)}`" for a in args)
    if origin is typing.Union or origin is types.UnionType:
        return " or ".join(type_text(a) for a in args if a is not type(None))
    if origin in (list, tuple, set, frozenset) or (
        isinstance(origin, type) and issubclass(origin, typing.Sequence)
    ):
        inner = type_text(args[0]) if args else "any"
        return f"list of {_plural(inner)}"
    if origin is dict or (isinstance(origin, type) and issubclass(origin, Mapping)):
        value = type_text(args[1]) if len(args) == 2 else "any"
        return "object" if value == "any" else f"object of {_plural(value)}"
    return getattr(annotation, "__name__", str(annotation))


def _plural(name: str) -> str:
    if name in ("string", "boolean", "integer", "number", "object"):
        return name + "s"
    if name == "any":
        return "values"
    return name


def _min_items(info: FieldInfo) -> int:
    for meta in info.metadata:
        least = getattr(meta, "min_length", None)
        if isinstance(least, int):
            return least
    return 0


def _nested_model(annotation: Any) -> tuple[type[BaseModel], str] | None:
    """The model inside a field (itself, list items or object values) and the path suffix to reach it."""
    annotation = strip_annotation(annotation)
    if _is_model(annotation):
        return annotation, ""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args and _is_model(strip_annotation(args[0])):
        return strip_annotation(args[0]), "[]"
    if origin is dict and len(args) == 2 and _is_model(strip_annotation(args[1])):
        return strip_annotation(args[1]), ".<key>"
    return None


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return ""
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if value is None or value is PydanticUndefined or value in ([], {}, (), ""):
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, BaseModel):
        return ""
    try:
        return f"`{json.dumps(value)}`"
    except TypeError:
        return f"`{value}`"


def field_rows(model: type[BaseModel], prefix: str = "") -> Iterator[FieldRow]:
    """Every field of a config model, nested ones as `parent.child` / `list[].child`."""
    descriptions = field_descriptions(model)
    for name, info in model.model_fields.items():
        wire = info.alias or name
        path = f"{prefix}{wire}"
        kind = type_text(info.annotation)
        least = _min_items(info)
        if least and kind.startswith(("list of", "object")):
            kind += f" (at least {least})"
        yield FieldRow(
            path=path,
            type=kind,
            required=info.is_required(),
            default=_default(info),
            description=" ".join(descriptions[name].split()),
        )
        nested = _nested_model(info.annotation)
        if nested is not None:
            yield from field_rows(nested[0], f"{path}{nested[1]}.")
    if model.model_config.get("extra") == "allow":
        yield FieldRow(
            path=f"{prefix}<any key>",
            type="any",
            required=False,
            default="",
            description="Any other key is accepted.",
        )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def generated_part(step_name: str) -> str:
    """The generated Markdown of one step: the config table and, when the step declares them, its outputs."""
    from kargo_actions.promotion.registry import get_step

    step = get_step(step_name)
    lines = [BEGIN, "", "## Config", ""]
    rows = list(field_rows(step.config_model))
    if rows:
        lines += ["| Field | Type | Required | Default | Description |", "|---|---|---|---|---|"]
        for row in rows:
            lines.append(
                f"| `{_cell(row.path)}` | {_cell(row.type)} | {'yes' if row.required else 'no'} | "
                f"{_cell(row.default)} | {_cell(row.description)} |"
            )
    else:
        lines.append("No fields.")
    outputs: Mapping[str, str] | None = getattr(type(step), "outputs", None)
    if outputs is not None:
        lines += ["", "## Outputs", ""]
        if outputs:
            lines += ["| Name | Description |", "|---|---|"]
            lines += [f"| `{_cell(name)}` | {_cell(text)} |" for name, text in outputs.items()]
        else:
            lines.append("None.")
    lines += ["", END]
    return "\n".join(lines)


_CONFIG_SECTION = re.compile(r"^## Config[^\n]*\n(?:[ \t]*\n)*(?:\|[^\n]*\n)*", re.MULTILINE)


def render_page(step_name: str, current: str | None) -> str:
    """The page with its generated part brought up to date; hand-written text is kept as it is.

    A page without markers has its `## Config` heading and table replaced; a missing page gets a skeleton.
    """
    part = generated_part(step_name)
    if current is None:
        return _skeleton(step_name, part)
    if BEGIN in current and END in current:
        head, _, rest = current.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return head + part + tail
    match = _CONFIG_SECTION.search(current)
    if match is not None:
        return current[: match.start()] + part + "\n" + current[match.end() :]
    title_end = current.find("\n\n", current.find("\n") + 1)
    cut = len(current) if title_end < 0 else title_end + 2
    return current[:cut] + part + "\n\n" + current[cut:]


def _skeleton(step_name: str, part: str) -> str:
    from kargo_actions.promotion.registry import get_step

    module = sys.modules[type(get_step(step_name)).__module__]
    summary = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
    summary = summary.split(":", 1)[1].strip() if summary.startswith(f"{step_name}:") else summary
    summary = summary[:1].upper() + summary[1:]
    return (
        f"# `{step_name}`\n\n{summary}\n\n{part}\n\n## Example\n\n(no example yet)\n\n"
        "## Differences from Kargo\n\nNone known.\n"
    )


def stale_pages(docs_dir: Path) -> list[str]:
    """Registered steps whose page is missing or whose generated part is not what the models give."""
    from kargo_actions.promotion.registry import step_names

    stale = []
    for name in sorted(step_names()):
        path = docs_dir / f"{name}.md"
        current = path.read_text() if path.exists() else None
        if current is None or BEGIN not in current or render_page(name, current) != current:
            stale.append(name)
    return stale


def write_pages(docs_dir: Path) -> list[str]:
    """Bring every registered step's page up to date; returns the pages written."""
    from kargo_actions.promotion.registry import step_names

    docs_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(step_names()):
        path = docs_dir / f"{name}.md"
        current = path.read_text() if path.exists() else None
        page = render_page(name, current)
        if page != current:
            path.write_text(page)
            written.append(str(path))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="rewrite the generated parts of the pages")
    parser.add_argument("--check", action="store_true", help="exit 1 when a page is missing or stale")
    parser.add_argument("--docs-dir", type=Path, default=DOCS_DIR, help="default: docs/steps")
    args = parser.parse_args(argv)
    if args.write:
        for path in write_pages(args.docs_dir):
            print(f"wrote {path}")
        return 0
    stale = stale_pages(args.docs_dir)
    for name in stale:
        print(f"{args.docs_dir / (name + '.md')}: missing or stale (run with --write)", file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
