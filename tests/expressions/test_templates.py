"""Templates: typed single expressions, text when mixed, Kargo's string reading, keys untouched, errors."""

from __future__ import annotations

from typing import Any

import pytest

from kargo_actions.expressions import ExpressionError, has_expression, render_template, render_value
from tests.expressions.fixtures import IMAGE_REPO, kargo_environment

TEMPLATE_CASES: list[tuple[str, Any]] = [
    ("plain text", "plain text"),
    ("42", "42"),  # no expression: kept as written, never read as a number
    ("${{ 40 + 2 }}", 42),
    ("${{ 1.5 }}", 1.5),
    ("${{ true }}", True),
    ("${{ nil }}", None),
    ("${{ [1, 'a'] }}", [1, "a"]),
    ("${{ {'a': 1} }}", {"a": 1}),
    ('${% {"labels": {"app": "nginx"}} %}', {"labels": {"app": "nginx"}}),
    ("${{ quote(40 + 2) }}", "42"),
    ("${{ quote(true) }}", "true"),
    ('${{ quote("string") }}', "string"),
    ("${{ unsafeQuote(40 + 2) }}", "42"),
    ('${{ unsafeQuote("string") }}', '"string"'),
    # a single expression's string result is read as Kargo reads it
    ("${{ '42' }}", 42),
    ("${{ '1.50' }}", 1.5),
    ("${{ 'true' }}", True),
    ("${{ 'F' }}", False),
    ("${{ '{\"a\": 1}' }}", {"a": 1}),
    ("${{ '[1]' }}", [1]),
    ("${{ 'null' }}", None),
    ("${{ '\"quoted\"' }}", "quoted"),
    ("${{ 'v1.2.3' }}", "v1.2.3"),
    ("${{ vars.openpr }}", True),
    ("${{ vars.replicas }}", 3),
    ("${{ ctx.stage }}\n", "dev\n"),
    ("${{ '42' }}\n", 42),
    # mixed text is text
    ("env/${{ ctx.stage }}", "env/dev"),
    ("./src/env/${{ ctx.stage }}", "./src/env/dev"),
    ("guestbook-${{ ctx.stage }}", "guestbook-dev"),
    ("${{ 40 }}${{ 2 }}", "402"),
    ("n=${{ 1.0 }} b=${{ false }} z=${{ nil }}", "n=1 b=false z=null"),
    ("list ${{ [1, 2] }}", "list [1,2]"),
    ("map ${{ {'b': 1, 'a': 2} }}", 'map {"a":2,"b":1}'),
    (" ${{ 42 }}", " 42"),
    ("${{ ctx.stage }} and ${% ctx.project %}", "dev and kargo-advanced"),
    ("${{ '}' + '}' }}", "}}"),
    ("${{ '}}' }}", Exception),
    ("${% '}}' %}", "}}"),
    ("${{ '%}' }}", "%}"),
    # the escape for a literal ${{
    ('${{ "${{" }} vars.x }}', "${{ vars.x }}"),
    ("${{ '${{' }}", "${{"),
    ("Tag: ${{ imageFrom(vars.image).Tag }}", "Tag: v0.0.3"),
    ("${{ imageFrom(vars.image).Tag }}", "v0.0.3"),
    (
        "${{ imageFrom(vars.image) }}",
        {
            "repoURL": IMAGE_REPO,
            "tag": "v0.0.3",
            "digest": "sha256:1e2d3c",
            "annotations": {"org.opencontainers.image.revision": "abc"},
        },
    ),
    ("${{ asJSON({'a': 1}) }}", '{\n  "a": 1\n}\n'),
    ("${{ semverParse('1.2.3') }}", "1.2.3"),
]


@pytest.mark.parametrize(("template", "expected"), TEMPLATE_CASES, ids=[c[0] for c in TEMPLATE_CASES])
def test_render_template(template: str, expected: Any) -> None:
    env = kargo_environment().build()
    if expected is Exception:
        with pytest.raises(ExpressionError):
            render_template(template, env)
        return
    result = render_template(template, env)
    assert result == expected
    assert type(result) is type(expected)


def test_values_are_rendered_recursively_and_keys_never() -> None:
    config = {
        "repoURL": "${{ vars.repoURL }}",
        "${{ ctx.stage }}": "key kept",
        "checkout": [{"branch": "env/${{ ctx.stage }}", "create": True, "depth": 1}],
        "nested": {"deeper": [["${{ 1 + 1 }}"]], "none": None},
    }
    rendered = render_value(config, kargo_environment().build())
    assert rendered == {
        "repoURL": "https://github.com/akuity/kargo-advanced.git",
        "${{ ctx.stage }}": "key kept",
        "checkout": [{"branch": "env/dev", "create": True, "depth": 1}],
        "nested": {"deeper": [[2]], "none": None},
    }
    assert config["repoURL"] == "${{ vars.repoURL }}", "the input is not changed"


@pytest.mark.parametrize(
    ("template", "message", "column"),
    [
        ("x ${{ imageFrom('nope').Tag }}", 'cannot read "Tag" of nil', 25),
        ("a ${{ 1 + }}", "unexpected end of expression", 11),
        ("a ${{ vars.x", 'unclosed expression: expected "}}"', 3),
        ("${% 1 + 1 ", 'unclosed expression: expected "%}"', 1),
        ("${{ var.x }}", 'cannot read "x" of "var", which is not defined (did you mean "vars"?)', 5),
        ("${{ }}", "empty expression", 4),
    ],
)
def test_template_errors_point_into_the_template(template: str, message: str, column: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        render_template(template, kargo_environment().build())
    assert message in caught.value.message
    assert caught.value.text == template
    assert caught.value.column == column
    caret = caught.value.caret_lines(indent="")
    assert caret[0] == template
    assert caret[1].index("^") == column - 1


def test_ctx_stage_of_a_missing_field_is_nil_in_text() -> None:
    assert render_template("env/${{ ctx.stag }}", kargo_environment().build()) == "env/null"


def test_has_expression() -> None:
    assert has_expression("a ${{ b }}")
    assert has_expression("${% b %}")
    assert not has_expression("a { b } $HOME ${VAR}")
