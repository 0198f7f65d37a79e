"""The typed syntax tree of an expression; each node evaluates itself against an Evaluation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kargo_actions.expressions.builtins import UNSUPPORTED_FUNCTIONS
from kargo_actions.expressions.errors import EvalFailure, did_you_mean
from kargo_actions.expressions.predicates import PREDICATES
from kargo_actions.expressions.runtime import (
    Evaluation,
    call_method,
    get_index,
    get_member,
    get_slice,
    no_item,
)
from kargo_actions.expressions.values import type_name
from kargo_actions.struct import struct


class Node:
    """Base of every node: `pos` is the 0-based offset in the expression that errors point at."""

    __slots__ = ()
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        raise NotImplementedError

    def predicate_body(self) -> Node:
        """What a predicate function evaluates per element: a closure's body, any other node itself."""
        return self


class NilChain(Exception):
    """Raised by `?.` on nil; the enclosing Chain turns the whole member chain into nil."""


NIL_CHAIN = NilChain()


def _fail_at(err: EvalFailure, pos: int) -> EvalFailure:
    if err.pos is None:
        err.pos = pos
    return err


@struct(slots=True)
class Literal(Node):
    value: Any
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        return self.value


@struct(slots=True)
class ArrayLiteral(Node):
    items: tuple[Node, ...]
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        return [item.evaluate(ev) for item in self.items]


@struct(slots=True)
class MapLiteral(Node):
    pairs: tuple[tuple[Node, Node], ...]
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        result: dict[Any, Any] = {}
        for key_node, value_node in self.pairs:
            key = key_node.evaluate(ev)
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise EvalFailure(f"map keys must be strings or integers, got {type_name(key)}", key_node.pos)
            result[key] = value_node.evaluate(ev)
        return result


@struct(slots=True)
class Variable(Node):
    name: str
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        if ev.locals is not None and self.name in ev.locals:
            return ev.locals[self.name]
        try:
            return ev.variables[self.name]
        except KeyError:
            pass
        if self.name in ev.functions:
            raise EvalFailure(f'"{self.name}" is a function; call it as {self.name}(...)', self.pos)
        if ev.undefined_is_nil:
            return None  # expr-lang compiled without an environment, as Kargo does
        raise EvalFailure(f'unknown variable "{self.name}"{self.suggestion(ev)}', self.pos)

    def suggestion(self, ev: Evaluation) -> str:
        return did_you_mean(self.name, [*ev.variables, *(ev.locals or ())])

    def undefined(self, ev: Evaluation) -> bool:
        return self.name not in ev.variables and (ev.locals is None or self.name not in ev.locals)


def _undefined_target(err: EvalFailure, target: Node, ev: Evaluation, what: str) -> EvalFailure:
    """Reading through an undefined name: say so (with a did-you-mean), at the name's column."""
    if isinstance(target, Variable) and target.undefined(ev):
        suggestion = target.suggestion(ev)
        message = f'cannot {what} "{target.name}", which is not defined{suggestion}'
        return EvalFailure(message, target.pos, "" if suggestion else err.hint)
    return err


@struct(slots=True)
class EnvVariable(Node):
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        return dict(ev.variables)


@struct(slots=True)
class Pointer(Node):
    """`#` (the current element), `#index` or `#acc` inside a predicate."""

    name: str
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        if no_item(ev.item):
            raise EvalFailure(
                f"{self.name} can only be used inside a predicate (all, filter, map, ...)", self.pos
            )
        if self.name == "#":
            return ev.item
        if self.name == "#index":
            return ev.index
        if self.name == "#acc":
            return ev.acc
        raise EvalFailure(f"unknown predicate variable {self.name} (use #, #index or #acc)", self.pos)


@struct(slots=True)
class ItemMember(Node):
    """`.Name` inside a predicate: a member of the current element."""

    name: str
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        if no_item(ev.item):
            raise EvalFailure(
                f".{self.name} can only be used inside a predicate (all, filter, map, ...)", self.pos
            )
        try:
            return get_member(ev.item, self.name)
        except EvalFailure as err:
            raise _fail_at(err, self.pos) from None


@struct(slots=True)
class Member(Node):
    target: Node
    name: str
    optional: bool
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        value = self.target.evaluate(ev)
        if value is None and self.optional:
            raise NIL_CHAIN
        if type(value) is dict:  # the common case first, for speed
            return value.get(self.name)
        try:
            return get_member(value, self.name)
        except EvalFailure as err:
            if value is None:
                err = _undefined_target(err, self.target, ev, f'read "{self.name}" of')
            raise _fail_at(err, self.pos) from None


@struct(slots=True)
class Chain(Node):
    """A member chain holding `?.`: `a?.b.c` is nil when a is nil, as in expr-lang."""

    inner: Node
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        try:
            return self.inner.evaluate(ev)
        except NilChain:
            return None


@struct(slots=True)
class Index(Node):
    target: Node
    key: Node
    optional: bool
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        value = self.target.evaluate(ev)
        if value is None and self.optional:
            raise NIL_CHAIN
        key = self.key.evaluate(ev)
        if type(value) is dict and type(key) is str:
            return value.get(key)
        try:
            return get_index(value, key, ev)
        except EvalFailure as err:
            if value is None:
                err = _undefined_target(err, self.target, ev, "index")
            raise _fail_at(err, self.pos) from None


@struct(slots=True)
class Slice(Node):
    target: Node
    start: Node | None
    end: Node | None
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        value = self.target.evaluate(ev)
        start = None if self.start is None else self.start.evaluate(ev)
        end = None if self.end is None else self.end.evaluate(ev)
        try:
            return get_slice(value, start, end, ev)
        except EvalFailure as err:
            raise _fail_at(err, self.pos) from None


@struct(slots=True)
class Closure(Node):
    """`{ ... }` as a predicate argument; anywhere else it is an error."""

    body: Node
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        raise EvalFailure(
            "a predicate { ... } can only be an argument of all, any, none, one, filter, map, count, "
            "sum, find, findIndex, findLast, findLastIndex, groupBy, sortBy or reduce",
            self.pos,
        )

    def predicate_body(self) -> Node:
        return self.body


@struct(slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        function = ev.functions.get(self.name)
        if function is None:
            predicate = PREDICATES.get(self.name)
            if predicate is not None:
                try:
                    return predicate(ev, self.args)
                except EvalFailure as err:
                    raise _fail_at(err, self.pos) from None
            if self.name in UNSUPPORTED_FUNCTIONS:
                raise EvalFailure(f"function {self.name}() of expr-lang is not supported here", self.pos)
            names = [*ev.functions, *PREDICATES]
            raise EvalFailure(f'unknown function "{self.name}"{did_you_mean(self.name, names)}', self.pos)
        args = [arg.evaluate(ev) for arg in self.args]
        try:
            function.check_arity(len(args))
            return function.impl(ev, args)
        except EvalFailure as err:
            raise _fail_at(err, self.pos) from None


@struct(slots=True)
class MethodCall(Node):
    target: Node
    name: str
    args: tuple[Node, ...]
    optional: bool
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        value = self.target.evaluate(ev)
        if value is None and self.optional:
            raise NIL_CHAIN
        args = [arg.evaluate(ev) for arg in self.args]
        try:
            return call_method(value, self.name, args)
        except EvalFailure as err:
            raise _fail_at(err, self.pos) from None


@struct(slots=True)
class Not(Node):
    operand: Node
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        value = self.operand.evaluate(ev)
        if type(value) is not bool:
            raise EvalFailure(f"invalid operation: ! needs a bool, got {type_name(value)}", self.pos)
        return not value


@struct(slots=True)
class Negate(Node):
    operand: Node
    negative: bool
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        value = self.operand.evaluate(ev)
        if not isinstance(value, int | float) or isinstance(value, bool):
            sign = "-" if self.negative else "+"
            raise EvalFailure(f"invalid operation: {sign} needs a number, got {type_name(value)}", self.pos)
        return -value if self.negative else value


@struct(slots=True)
class Binary(Node):
    op: str
    fn: Callable[[Any, Any], Any]
    left: Node
    right: Node
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        left = self.left.evaluate(ev)
        right = self.right.evaluate(ev)
        try:
            result = self.fn(left, right)
        except EvalFailure as err:
            raise _fail_at(err, self.pos) from None
        if type(result) is str and len(result) > 4096:
            ev.charge(len(result) // 64)
            ev.check_string(result)
        return result


@struct(slots=True)
class Negated(Node):
    """`a not in b`, `a not matches b`, ...: the negation of a bool operator."""

    inner: Node
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        return not self.inner.evaluate(ev)


@struct(slots=True)
class Logical(Node):
    """`&&`/`and` and `||`/`or`, short-circuiting; operands must be bools."""

    is_and: bool
    left: Node
    right: Node
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        left = self.left.evaluate(ev)
        if type(left) is not bool:
            raise self._not_bool(left, self.left.pos)
        if left is not self.is_and:
            return left
        right = self.right.evaluate(ev)
        if type(right) is not bool:
            raise self._not_bool(right, self.right.pos)
        return right

    def _not_bool(self, value: Any, pos: int) -> EvalFailure:
        op = "&&" if self.is_and else "||"
        return EvalFailure(f"invalid operation: {op} needs bools, got {type_name(value)}", pos)


@struct(slots=True)
class Ternary(Node):
    condition: Node
    then: Node | None  # None: `a ?: b`, the condition itself
    otherwise: Node
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        condition = self.condition.evaluate(ev)
        if type(condition) is not bool:
            if self.then is None:
                # expr-lang's `a ?: b` keeps a when a is neither nil nor false.
                return self.otherwise.evaluate(ev) if condition is None else condition
            raise EvalFailure(
                f"the condition of ?: must be a bool, got {type_name(condition)}", self.condition.pos
            )
        if condition:
            return condition if self.then is None else self.then.evaluate(ev)
        return self.otherwise.evaluate(ev)


@struct(slots=True)
class Coalesce(Node):
    left: Node
    right: Node
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        value = self.left.evaluate(ev)
        return self.right.evaluate(ev) if value is None else value


@struct(slots=True)
class Range(Node):
    low: Node
    high: Node
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        low = self.low.evaluate(ev)
        high = self.high.evaluate(ev)
        for bound in (low, high):
            if not isinstance(bound, int) or isinstance(bound, bool):
                raise EvalFailure(f"range bounds must be integers, got {type_name(bound)}", self.pos)
        if high < low:
            return []
        try:
            ev.charge(high - low + 1)
        except EvalFailure as err:
            raise _fail_at(err, self.pos) from None
        return list(range(low, high + 1))


@struct(slots=True)
class Let(Node):
    name: str
    value: Node
    body: Node
    pos: int

    def evaluate(self, ev: Evaluation) -> Any:
        value = self.value.evaluate(ev)
        saved = ev.locals
        ev.locals = {**(saved or {}), self.name: value}
        try:
            return self.body.evaluate(ev)
        finally:
            ev.locals = saved
