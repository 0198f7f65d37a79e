"""The syntax of every `${{ }}` / `${% %}` expression in the manifests, checked when they load.

A promotion evaluates its expressions step by step, so a typo in the fifth step's config would only show
after four steps changed things. Parsing them all up front reports each one with the file, line and column
of its YAML value (and the column inside the expression) before any promotion starts. Only the syntax: the
values they read (vars, outputs, Freight) exist at run time alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kargo_actions.errors import Problem
from kargo_actions.manifest_yaml import Loc, locate

# Where a Stage's and a PromotionTask's steps and variables sit in their documents.
_STEP_LISTS: dict[str, list[Loc]] = {
    "Stage": [("spec", "promotionTemplate", "spec", "steps")],
    "PromotionTask": [("spec", "steps")],
    "ClusterPromotionTask": [("spec", "steps")],
}
_VAR_LISTS: dict[str, list[Loc]] = {
    "Stage": [("spec", "vars"), ("spec", "promotionTemplate", "spec", "vars")],
    "PromotionTask": [("spec", "vars")],
    "ClusterPromotionTask": [("spec", "vars")],
}
_SNIPPET = 60
_LITERAL_HINT = 'a literal "${{" is written ${{ "${{" }}'


def expression_problems(file: str, kind: str, node: Any) -> list[Problem]:
    """One problem per string value that holds an expression which does not parse."""
    problems: list[Problem] = []
    for loc, text in _expression_values(kind, node):
        from kargo_actions.expressions import ExpressionError, parse_template  # the grammar: only when needed

        try:
            parse_template(text)
        except ExpressionError as err:
            line, col, path = locate(node, loc, value=True)
            problems.append(
                Problem(
                    file=file,
                    line=line,
                    col=col,
                    path=path,
                    message=f"invalid expression: {err.message}, {_where(text, err.column)}",
                    hint=err.hint or (_LITERAL_HINT if err.message.startswith("unclosed") else ""),
                )
            )
    return problems


def _expression_values(kind: str, node: Any) -> Iterator[tuple[Loc, str]]:
    """(location, text) of every string that `if`, a variable's value or a step's config holds with `${`."""
    for base in _VAR_LISTS.get(kind, []):
        yield from _var_values(node, base)
    for base in _STEP_LISTS.get(kind, []):
        steps = _at(node, base)
        if not isinstance(steps, list):
            continue
        for i, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            if _holds_expression(step.get("if")):
                yield (*base, i, "if"), step["if"]
            yield from _var_values(node, (*base, i, "vars"))
            yield from _strings(step.get("config"), (*base, i, "config"))


def _var_values(node: Any, base: Loc) -> Iterator[tuple[Loc, str]]:
    variables = _at(node, base)
    if not isinstance(variables, list):
        return
    for i, var in enumerate(variables):
        if isinstance(var, dict) and _holds_expression(var.get("value")):
            yield (*base, i, "value"), var["value"]


def _strings(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    """Every string inside a config value (keys are never evaluated, so never checked)."""
    if _holds_expression(value):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*loc, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*loc, i))


def _holds_expression(value: Any) -> bool:
    return isinstance(value, str) and ("${{" in value or "${%" in value)


def _at(node: Any, loc: Loc) -> Any:
    for part in loc:
        found = isinstance(node, dict) and part in node
        found |= isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not found:
            return None
        node = node[part]
    return node


def _where(text: str, column: int) -> str:
    """Where in the value the problem is: its column, with the line of a multi-line value and a snippet."""
    start = text.rfind("\n", 0, column - 1) + 1
    end = text.find("\n", column - 1)
    line = text[start : end if end >= 0 else len(text)]
    at = column - start
    if len(line) > _SNIPPET:
        first = max(0, min(at - _SNIPPET // 2, len(line) - _SNIPPET))
        line = (
            ("..." if first else "")
            + line[first : first + _SNIPPET]
            + ("..." if first + _SNIPPET < len(line) else "")
        )
    if start == 0 and end < 0:
        return f"at column {at} of {line!r}"
    return f"at line {text.count(chr(10), 0, start) + 1}, column {at} of the value: {line!r}"
