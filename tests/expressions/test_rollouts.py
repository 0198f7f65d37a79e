"""Argo Rollouts' environment: result, args and Rollouts' helper functions."""

from __future__ import annotations

from typing import Any

import pytest

from kargo_actions.expressions import ExpressionError, evaluate, rollouts_environment

NAN = float("nan")

ROLLOUTS_CASES: list[tuple[str, Any, Any]] = [
    ("result < 200", 150, True),  # kargo-advanced's pokemon-xp successCondition
    ("result < 200", 250, False),
    ("result >= 0.95", 0.97, True),
    ("result <= 0.01", 0.5, False),
    ("result == true", True, True),
    ("result == 'true'", "true", True),
    ("result == 'It worked!'", "It worked!", True),
    ('result == "I am OK"', "nope", False),
    ("result[0] >= 0.95", [0.96], True),
    ("len(result) > 0 && all(result, {# > 0})", [1, 2, 3], True),
    ("len(result) > 0 && all(result, {# > 0})", [], False),
    ("default(result, 0) < 5", None, True),
    ("default(result, 0) < 0.05", 0.5, False),
    ("isNaN(result) || result >= 0.95", NAN, True),
    ("isInf(result)", float("inf"), True),
    ("result.ok && result.successPercent >= 0.90", {"ok": True, "successPercent": 0.93}, True),
    ("result.successRate >= 0.95", {"successRate": 0.9}, False),
    ("len(result[0].Values) >= 5 and all(result[0].Values, {# <= 0.01})", [{"Values": [0.0] * 5}], True),
    (
        "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})",
        {"service_apdex": {"values": {"values": [{"value": "9950"}, {"value": "9901.5"}]}}},
        True,
    ),
    ("max(result) < 0.05", [0.01, 0.07], False),
    ("asInt(result) > 1", "2", True),
    ("isNil(result)", None, True),
    ("args.threshold == '3'", 1, True),
]


@pytest.mark.parametrize(("condition", "result", "expected"), ROLLOUTS_CASES)
def test_rollouts_condition(condition: str, result: Any, expected: bool) -> None:
    env = rollouts_environment(result, {"threshold": "3"})
    assert evaluate(condition, env) is expected


def test_rollouts_errors_name_the_problem() -> None:
    with pytest.raises(ExpressionError, match=r"mismatched types string and int"):
        evaluate("result < 200", rollouts_environment("abc"))
    with pytest.raises(ExpressionError, match=r'asInt\(\): cannot convert "x" to an integer'):
        evaluate("asInt(result)", rollouts_environment("x"))
    with pytest.raises(ExpressionError, match=r'unknown variable "results" \(did you mean "result"\?\)'):
        evaluate("results[0] >= 90.000000", rollouts_environment([91.0]))
