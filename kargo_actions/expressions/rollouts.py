"""Argo Rollouts' environment for AnalysisTemplate successCondition / failureCondition."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from kargo_actions.expressions.environment import Environment
from kargo_actions.expressions.errors import EvalFailure
from kargo_actions.expressions.runtime import DEFAULT_LIMITS, Evaluation, Function, Limits
from kargo_actions.expressions.values import is_number, type_name


def _as_float(ev: Evaluation, args: list[Any]) -> Any:
    value = args[0]
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise EvalFailure(f'asFloat(): cannot convert "{value}" to a float') from None
    raise EvalFailure(f"asFloat(): cannot convert a {type_name(value)} to a float")


def _as_int(ev: Evaluation, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise EvalFailure(f'asInt(): cannot convert "{value}" to an integer') from None
    raise EvalFailure(f"asInt(): cannot convert a {type_name(value)} to an integer")


def _is_nan(ev: Evaluation, args: list[Any]) -> Any:
    return is_number(args[0]) and math.isnan(args[0])


def _is_inf(ev: Evaluation, args: list[Any]) -> Any:
    return is_number(args[0]) and math.isinf(args[0])


def _is_nil(ev: Evaluation, args: list[Any]) -> Any:
    return args[0] is None


def _default(ev: Evaluation, args: list[Any]) -> Any:
    return args[1] if args[0] is None else args[0]


ROLLOUTS_FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("asFloat", _as_float, 1, 1, "value"),
        Function("asInt", _as_int, 1, 1, "value"),
        Function("isNaN", _is_nan, 1, 1, "value"),
        Function("isInf", _is_inf, 1, 1, "value"),
        Function("isNil", _is_nil, 1, 1, "value"),
        Function("default", _default, 2, 2, "value, fallback"),
    )
}


def rollouts_environment(
    result: Any, args: Mapping[str, str] | None = None, limits: Limits = DEFAULT_LIMITS
) -> Environment:
    """`result` (the metric value: number, string, list or map) and `args` (the analysis arguments)."""
    # Argo Rollouts compiles with expr.Env, so an unknown name is an error there, not nil.
    return Environment(
        {"result": result, "args": dict(args or {})}, ROLLOUTS_FUNCTIONS, limits, undefined_is_nil=False
    )
