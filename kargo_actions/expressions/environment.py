"""The environment an expression runs in, and compiled expressions that evaluate against it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

from kargo_actions.expressions.builtins import BUILTINS
from kargo_actions.expressions.errors import EvalFailure, ExpressionError
from kargo_actions.expressions.nodes import Node
from kargo_actions.expressions.parser import parse
from kargo_actions.expressions.runtime import DEFAULT_LIMITS, Evaluation, Function, Limits
from kargo_actions.expressions.values import to_plain
from kargo_actions.struct import struct


@struct
class Environment:
    """Variables and functions visible to expressions; builtins are always there, extras may shadow none.

    `undefined_is_nil`: an undefined top-level name is nil, as where Kargo compiles expr-lang without an
    environment; False where the caller compiles with one (Argo Rollouts), so the name is an error.
    """

    variables: Mapping[str, Any] = field(default_factory=dict)
    extra_functions: Mapping[str, Function] = field(default_factory=dict)
    limits: Limits = DEFAULT_LIMITS
    undefined_is_nil: bool = True
    functions: Mapping[str, Function] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "functions", {**BUILTINS, **self.extra_functions})

    def with_variables(self, **variables: Any) -> Environment:
        """A copy with more (or replaced) variables."""
        return Environment(
            {**self.variables, **variables}, self.extra_functions, self.limits, self.undefined_is_nil
        )


@struct(slots=True)
class CompiledExpression:
    """A parsed expression: evaluate it many times against different environments."""

    text: str
    node: Node

    def evaluate(self, env: Environment) -> Any:
        """The value of the expression; an ExpressionError carries the column of any problem."""
        ev = Evaluation(env.variables, env.functions, env.limits, env.undefined_is_nil)
        try:
            return self.node.evaluate(ev)
        except EvalFailure as err:
            raise ExpressionError(self.text, (err.pos or 0) + 1, err.message, err.hint) from None
        except RecursionError:
            raise ExpressionError(self.text, 1, "expression nests too deeply to evaluate") from None

    def evaluate_plain(self, env: Environment) -> Any:
        """The value as plain JSON data (Kargo's JSON form of objects); errors carry the column."""
        value = self.evaluate(env)
        try:
            return to_plain(value)
        except EvalFailure as err:
            raise ExpressionError(self.text, 1, f"the result {err.message}") from None


def compile_expression(text: str, limits: Limits = DEFAULT_LIMITS) -> CompiledExpression:
    """Parse an expression once (the parse is cached by its text)."""
    return CompiledExpression(text, parse(text, limits))


def evaluate(text: str, env: Environment | None = None) -> Any:
    """Parse (cached) and evaluate one expression."""
    environment = env if env is not None else Environment()
    return compile_expression(text, environment.limits).evaluate(environment)


def evaluate_plain(text: str, env: Environment | None = None) -> Any:
    """Parse (cached) and evaluate one expression to plain JSON data."""
    environment = env if env is not None else Environment()
    return compile_expression(text, environment.limits).evaluate_plain(environment)
