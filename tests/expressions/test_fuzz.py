"""Whatever the text, parsing and evaluation end in a value or an ExpressionError, never another error."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kargo_actions.expressions import ExpressionError, evaluate_plain, render_template
from tests.expressions.fixtures import table_environment

TOKENS = [
    "0",
    "1",
    "2",
    "-1",
    "1.5",
    ".5",
    "1e3",
    "0x1F",
    "'a'",
    '"b"',
    "`c`",
    "true",
    "false",
    "nil",
    "+",
    "-",
    "*",
    "/",
    "%",
    "**",
    "^",
    "==",
    "!=",
    "<",
    ">",
    "<=",
    ">=",
    "&&",
    "||",
    "!",
    "and",
    "or",
    "not",
    "in",
    "matches",
    "contains",
    "startsWith",
    "endsWith",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "?",
    "?:",
    "??",
    "?.",
    ".",
    "..",
    "|",
    "#",
    "#index",
    "#acc",
    ";",
    "let",
    "=",
    "$env",
    "vars",
    "ctx",
    "outputs",
    "task",
    "result",
    "users",
    "nested",
    "nothing",
    "text",
    "flag",
    "scalar",
    "empty",
    "len",
    "filter",
    "map",
    "all",
    "any",
    "count",
    "sum",
    "reduce",
    "join",
    "split",
    "upper",
    "string",
    "int",
    "float",
    "toJSON",
    "fromJSON",
    "imageFrom",
    "commitFrom",
    "semverParse",
    "quote",
    "asYAML",
    "keys",
    "sort",
    "repeat",
    "date",
    "duration",
    "now",
    "Tag",
    "ID",
    "Major",
    "IncMinor",
    "String",
    "repoURL",
    "name",
    "stage",
    "Name",
    "Age",
]

ENV = table_environment()


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=12))
def test_token_soup_never_escapes_as_another_error(tokens: list[str]) -> None:
    text = " ".join(tokens)
    try:
        evaluate_plain(text, ENV)
    except ExpressionError as err:
        problem = (err.text, err.column)
    else:
        return
    assert problem[0] == text
    assert 1 <= problem[1] <= len(text) + 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_as_a_template(text: str) -> None:
    try:
        render_template(text, ENV)
    except ExpressionError as err:
        problem = (err.text, err.column)
    else:
        return
    assert problem[0] == text
    assert 1 <= problem[1] <= len(text) + 1
