"""The `${{ }}` expression language (expr-lang as Kargo and Argo Rollouts use it): parse, evaluate, render.

Typical use: build an Environment (KargoEnvironment(...).build() or rollouts_environment(result)), then
`evaluate(text, env)`, `render_value(config, env)`, or `compile_expression(text).evaluate(env)` to parse
once and evaluate many times. Every error is an ExpressionError carrying the text and the column.
"""

from __future__ import annotations

from kargo_actions.expressions.environment import (
    CompiledExpression,
    Environment,
    compile_expression,
    evaluate,
    evaluate_plain,
)
from kargo_actions.expressions.errors import ExpressionError
from kargo_actions.expressions.kargo import (
    CONFIG_MAP_ENV_PREFIX,
    SECRET_ENV_PREFIX,
    KargoEnvironment,
    config_maps_from_environment,
    environ_provider,
    secrets_from_environment,
)
from kargo_actions.expressions.rollouts import rollouts_environment
from kargo_actions.expressions.runtime import DEFAULT_LIMITS, Function, Limits
from kargo_actions.expressions.templates import has_expression, parse_template, render_template, render_value
from kargo_actions.expressions.values import to_plain

__all__ = [
    "CONFIG_MAP_ENV_PREFIX",
    "DEFAULT_LIMITS",
    "SECRET_ENV_PREFIX",
    "CompiledExpression",
    "Environment",
    "ExpressionError",
    "Function",
    "KargoEnvironment",
    "Limits",
    "compile_expression",
    "config_maps_from_environment",
    "environ_provider",
    "evaluate",
    "evaluate_plain",
    "has_expression",
    "parse_template",
    "render_template",
    "render_value",
    "rollouts_environment",
    "secrets_from_environment",
    "to_plain",
]
