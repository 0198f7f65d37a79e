"""expr-lang's predicate functions (all, filter, map, reduce, ...): they take the syntax nodes of their
arguments and evaluate the predicate once per element, with # bound to it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from kargo_actions.expressions.builtins import array_arg, is_descending, number_arg, sort_by_keys
from kargo_actions.expressions.errors import EvalFailure
from kargo_actions.expressions.runtime import Evaluation, op_add
from kargo_actions.expressions.values import type_name


class Node(Protocol):
    """A syntax node as predicates see it (nodes.Node satisfies it; typed here so nodes.py can import us)."""

    def evaluate(self, ev: Evaluation) -> Any: ...

    def predicate_body(self) -> Node: ...


def _iterate(ev: Evaluation, items: list[Any], body: Node, visit: Callable[[int, Any, Any], bool]) -> None:
    """Evaluate body with # bound to each element; visit(index, item, result) returns False to stop."""
    saved = (ev.item, ev.index)
    try:
        for index, item in enumerate(items):
            ev.charge(1)
            ev.item, ev.index = item, index
            if not visit(index, item, body.evaluate(ev)):
                break
    finally:
        ev.item, ev.index = saved


def _bool_result(name: str, value: Any) -> bool:
    if type(value) is not bool:
        raise EvalFailure(f"the predicate of {name}() must return a bool, got {type_name(value)}")
    return value


PredicateImpl = Callable[[Evaluation, tuple[Node, ...]], Any]


def _predicate(name: str, min_args: int, max_args: int) -> Callable[[Callable[..., Any]], PredicateImpl]:
    def wrap(fn: Callable[..., Any]) -> PredicateImpl:
        def impl(ev: Evaluation, nodes: tuple[Node, ...]) -> Any:
            if not min_args <= len(nodes) <= max_args:
                raise EvalFailure(f"{name}() takes {min_args} to {max_args} arguments, got {len(nodes)}")
            collection = nodes[0].evaluate(ev)
            if collection is None:
                raise EvalFailure(f"{name}() needs an array, got nil")
            if isinstance(collection, Mapping):
                collection = list(collection.values())
            items = array_arg(collection, f"the first argument of {name}()")
            return fn(ev, items, *nodes[1:])

        return impl

    return wrap


@_predicate("all", 2, 2)
def _all(ev: Evaluation, items: list[Any], body: Node) -> Any:
    outcome = [True]

    def visit(i: int, item: Any, value: Any) -> bool:
        if not _bool_result("all", value):
            outcome[0] = False
        return outcome[0]

    _iterate(ev, items, body.predicate_body(), visit)
    return outcome[0]


@_predicate("any", 2, 2)
def _any(ev: Evaluation, items: list[Any], body: Node) -> Any:
    outcome = [False]

    def visit(i: int, item: Any, value: Any) -> bool:
        if _bool_result("any", value):
            outcome[0] = True
        return not outcome[0]

    _iterate(ev, items, body.predicate_body(), visit)
    return outcome[0]


@_predicate("none", 2, 2)
def _none(ev: Evaluation, items: list[Any], body: Node) -> Any:
    outcome = [True]

    def visit(i: int, item: Any, value: Any) -> bool:
        if _bool_result("none", value):
            outcome[0] = False
        return outcome[0]

    _iterate(ev, items, body.predicate_body(), visit)
    return outcome[0]


def _matching(ev: Evaluation, name: str, items: list[Any], body: Node) -> list[tuple[int, Any]]:
    found: list[tuple[int, Any]] = []

    def visit(i: int, item: Any, value: Any) -> bool:
        if _bool_result(name, value):
            found.append((i, item))
        return True

    _iterate(ev, items, body.predicate_body(), visit)
    return found


@_predicate("one", 2, 2)
def _one(ev: Evaluation, items: list[Any], body: Node) -> Any:
    return len(_matching(ev, "one", items, body)) == 1


@_predicate("filter", 2, 2)
def _filter(ev: Evaluation, items: list[Any], body: Node) -> Any:
    return [item for _, item in _matching(ev, "filter", items, body)]


@_predicate("count", 1, 2)
def _count(ev: Evaluation, items: list[Any], body: Node | None = None) -> Any:
    if body is None:
        return sum(1 for item in items if _bool_result("count", item))
    return len(_matching(ev, "count", items, body))


def _mapped(ev: Evaluation, items: list[Any], body: Node) -> list[Any]:
    results: list[Any] = []

    def visit(index: int, item: Any, value: Any) -> bool:
        results.append(value)
        return True

    _iterate(ev, items, body.predicate_body(), visit)
    return results


@_predicate("map", 2, 2)
def _map_fn(ev: Evaluation, items: list[Any], body: Node) -> Any:
    return _mapped(ev, items, body)


@_predicate("sum", 1, 2)
def _sum(ev: Evaluation, items: list[Any], body: Node | None = None) -> Any:
    values = items if body is None else _mapped(ev, items, body)
    total: Any = 0
    for value in values:
        total = op_add(total, number_arg(value, "each element given to sum()"))
    return total


def _finder(name: str, last: bool, want_index: bool) -> PredicateImpl:
    @_predicate(name, 2, 2)
    def impl(ev: Evaluation, items: list[Any], body: Node) -> Any:
        order = list(reversed(items)) if last else items
        found: list[tuple[int, Any]] = []

        def visit(i: int, item: Any, value: Any) -> bool:
            if _bool_result(name, value):
                found.append((len(items) - 1 - i if last else i, item))
                return False
            return True

        _iterate(ev, order, body.predicate_body(), visit)
        if not found:
            return -1 if want_index else None
        return found[0][0] if want_index else found[0][1]

    return impl


@_predicate("groupBy", 2, 2)
def _group_by(ev: Evaluation, items: list[Any], body: Node) -> Any:
    groups: dict[Any, list[Any]] = {}
    keys = _mapped(ev, items, body)
    for key, item in zip(keys, items, strict=True):
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise EvalFailure(f"groupBy() keys must be scalars, got {type_name(key)}")
        groups.setdefault(key, []).append(item)
    return groups


@_predicate("sortBy", 2, 3)
def _sort_by(ev: Evaluation, items: list[Any], body: Node, order: Node | None = None) -> Any:
    descending = is_descending(order.evaluate(ev)) if order is not None else False
    return sort_by_keys(ev, items, _mapped(ev, items, body), descending)


@_predicate("reduce", 2, 3)
def _reduce(ev: Evaluation, items: list[Any], body: Node, initial: Node | None = None) -> Any:
    if initial is not None:
        acc = initial.evaluate(ev)
        rest = list(enumerate(items))
    else:
        if not items:
            raise EvalFailure("reduce() of an empty array needs an initial value")
        acc = items[0]
        rest = list(enumerate(items))[1:]
    saved = (ev.item, ev.index, ev.acc)
    predicate = body.predicate_body()
    try:
        for index, item in rest:
            ev.charge(1)
            ev.item, ev.index, ev.acc = item, index, acc
            acc = predicate.evaluate(ev)
    finally:
        ev.item, ev.index, ev.acc = saved
    return acc


PREDICATES: dict[str, PredicateImpl] = {
    "all": _all,
    "any": _any,
    "none": _none,
    "one": _one,
    "filter": _filter,
    "map": _map_fn,
    "count": _count,
    "sum": _sum,
    "find": _finder("find", last=False, want_index=False),
    "findIndex": _finder("findIndex", last=False, want_index=True),
    "findLast": _finder("findLast", last=True, want_index=False),
    "findLastIndex": _finder("findLastIndex", last=True, want_index=True),
    "groupBy": _group_by,
    "sortBy": _sort_by,
    "reduce": _reduce,
}
