"""Sandbox limits (depth, string size, work) and the parse cache."""

from __future__ import annotations

import pytest

from kargo_actions.expressions import Environment, ExpressionError, Limits, compile_expression, evaluate
from kargo_actions.expressions.parser import parse


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("-" * 150 + "1", "expression nests too deeply (more than 100 levels)"),
        ("[" * 120 + "]" * 120, "expression nests too deeply"),
        ("repeat('a', 2000000)", "string too long (2000000 characters, limit 1000000)"),
        ("len(join(map(1..200000, 'abcdefghij'), ''))", "string too long (2000000 characters"),
        ("len(1..5000000)", "expression does too much work (over 1000000 steps)"),
        ("reduce(1..2000, #acc + repeat('x', 1000), '')", "expression does too much work"),
        ("1 + " * 4000 + "1", "expression too long"),
    ],
)
def test_limits_give_clear_errors(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(expression)
    assert message in caught.value.message


def test_limits_are_configurable() -> None:
    env = Environment(limits=Limits(max_work=50))
    assert evaluate("len(1..40)", env) == 40
    with pytest.raises(ExpressionError, match="over 50 steps"):
        evaluate("len(1..60)", env)


def test_the_work_budget_is_per_evaluation() -> None:
    compiled = compile_expression("len(1..600000)")
    env = Environment()
    assert compiled.evaluate(env) == 600000
    assert compiled.evaluate(env) == 600000  # a fresh budget each time


def test_parse_is_cached_by_text() -> None:
    text = "vars.a + 1 + 0"
    assert parse(text) is parse(text)
    assert compile_expression(text).node is compile_expression(text).node
    env = Environment({"vars": {"a": 1}})
    assert [compile_expression(text).evaluate(env.with_variables(vars={"a": i})) for i in range(3)] == [
        1,
        2,
        3,
    ]


def test_evaluation_error_carries_text_and_column() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("vars.a +  unknownThing.x", Environment({"vars": {}}))
    err = caught.value
    assert (err.text, err.column) == ("vars.a +  unknownThing.x", 11)
    assert err.caret_lines() == ["  vars.a +  unknownThing.x", "            ^"]
    assert err.exit_code == 2
