"""pydantic errors in the project's words: the helpers beside field_problems, and that no caller keeps its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from kargo_actions.model.messages import dotted, one_line

PACKAGE = Path(__file__).resolve().parent.parent.parent / "kargo_actions"


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[_Inner]
    count: int = 0


def _error(data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        _Outer.model_validate(data)
    return caught.value


def test_dotted_names_list_items_by_index() -> None:
    assert dotted(("items", 0, "name")) == "items.0.name"
    assert dotted(()) == ""


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"items": [{"name": 3}]}, "items.0.name: expected a string, found an integer"),
        ({"items": [{"nam": "a"}]}, "items.0.nam: unknown field (did you mean 'name'?)"),
        ({"items": [], "count": "x"}, "count: expected an integer, found a string"),
        (
            {"count": "x", "extra": 1},
            "items: required field is missing (and 2 more problems)",
        ),
        ({"items": [{}], "count": "x"}, "items.0.name: required field is missing (and 1 more problem)"),
        ([], "expected a mapping, found a list"),
    ],
)
def test_one_line_is_the_first_problem_in_the_loaders_words(data: object, expected: str) -> None:
    assert one_line(_error(data), _Outer) == expected


def _own_translations(path: Path) -> list[str]:
    """Lines where a module reads a pydantic ValidationError itself (its .errors() or its text)."""
    found: list[str] = []
    for handler in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(handler, ast.ExceptHandler) and handler.name and handler.type is not None):
            continue
        caught = {
            n.id if isinstance(n, ast.Name) else n.attr
            for n in ast.walk(handler.type)
            if isinstance(n, (ast.Name, ast.Attribute))
        }
        if "ValidationError" not in caught:  # pydantic's; GitHubValidationError is another thing
            continue
        for node in (n for stmt in handler.body for n in ast.walk(stmt)):
            called = isinstance(node, ast.Call) and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "errors")
                or (isinstance(node.func, ast.Name) and node.func.id in ("str", "repr"))
            )
            formatted = isinstance(node, ast.FormattedValue) and ast.unparse(node.value) == handler.name
            if formatted or (called and handler.name in ast.unparse(node)):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def test_every_validation_error_goes_through_the_one_translator() -> None:
    offenders = [
        line
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "model" / "messages.py"
        for line in _own_translations(path)
    ]
    assert offenders == [], "use model/messages.field_problems (or one_line) instead: " + ", ".join(offenders)
