"""Parsed expressions are kept between processes: a process whose expressions were all parsed before does not
import lark, gets the same trees, and a damaged store is replaced, never trusted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kargo_actions.expressions import nodes as n
from kargo_actions.expressions import parser
from kargo_actions.expressions.errors import ExpressionError
from kargo_actions.expressions.parser import ParsedStore, parse
from kargo_actions.expressions.runtime import Limits

# Between them, every node class and every kind of literal.
CORPUS = [
    "1 + 2 * 3 ** 2 - 4 / 5 % 6",
    "1.5e3 >= 2 && !false || nil == nil",
    "'a\\tb' + \"c\" + `raw` matches '^a'",
    "[1, 2, 3][1:2] | map(# * 2) | filter(.x > 0)",
    "all(items, {#.ok})",
    "{a: 1, 'b': 2, 3: 4}?.a?.b?.c(1)",
    "ctx.stage in ['dev'] ? $env : -x",
    "let y = 1; y ?? 2",
    "1 < 2 < 3",
    "not (a contains 'b') and a startsWith 'c' or a endsWith 'd'",
    "a not in b",
    "a ?: b",
    "1..3",
    "a[0] ?? b?.[1]",
    "vars.x.y(1, 2)",
]


def _classes(node: object, seen: set[str]) -> None:
    if isinstance(node, n.Node):
        seen.add(type(node).__name__)
        for name in parser._FIELDS[type(node).__name__]:
            _classes(getattr(node, name), seen)
    elif isinstance(node, tuple):
        for item in node:
            _classes(item, seen)


def test_stored_trees_come_back_equal() -> None:
    seen: set[str] = set()
    for text in CORPUS:
        tree = parse(text)
        _classes(tree, seen)
        stored = json.loads(json.dumps(parser._encode(tree)))
        assert parser._decode(stored) == tree, text
    assert seen == set(parser._NODE_CLASSES)


CHECK = """\
import re, sys
from kargo_actions.expressions.parser import parse
trees = [re.sub(" at 0x[0-9a-f]+", "", repr(parse(text))) for text in sys.argv[1:]]
print("lark" in sys.modules)
print("\\n".join(trees))
"""


def _run(*texts: str) -> tuple[bool, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", CHECK, *texts],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
    )
    first, *trees = proc.stdout.splitlines()
    return first == "True", trees


def test_a_process_with_stored_expressions_does_not_import_lark() -> None:
    imported, trees = _run(*CORPUS[:5])
    assert imported
    again, same = _run(*CORPUS[:5])
    assert not again
    assert same == trees == [re.sub(" at 0x[0-9a-f]+", "", repr(parse(text))) for text in CORPUS[:5]]
    assert "fn=<function op_add>" in trees[0]
    imported, _ = _run(CORPUS[0], "1 + 41")  # a text never parsed here needs lark
    assert imported


def test_errors_and_other_depth_limits_do_not_use_the_store() -> None:
    deep = "((((1))))"
    parse(deep)
    with pytest.raises(ExpressionError, match="nests too deeply"):
        parse(deep, Limits(max_depth=3))
    with pytest.raises(ExpressionError):
        parse("1 +")
    store = parser._store()
    assert store is not None
    assert store.get(deep) is not None
    assert store.get("1 +") is None


@pytest.mark.parametrize(
    "content", [b"", b"garbage\x00", b"[1, 2]", b'{"x": ["NoSuchNode", 1]}', b'{"x": 1}']
)
def test_a_damaged_store_is_empty_and_replaced(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "parsed.json"
    path.write_bytes(content)
    store = ParsedStore(path)
    assert store.get("x") is None
    store.add("1 + 1", parse("1 + 1"))
    store.save()
    assert ParsedStore(path).get("1 + 1") == parse("1 + 1")


def test_two_processes_saving_keep_both_parses(tmp_path: Path) -> None:
    path = tmp_path / "parsed.json"
    one, two = ParsedStore(path), ParsedStore(path)
    one.add("a", parse("a"))
    two.add("b + 1", parse("b + 1"))
    one.save()
    two.save()
    both = ParsedStore(path)
    assert both.get("a") == parse("a")
    assert both.get("b + 1") == parse("b + 1")


def test_store_is_kept_to_its_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser, "STORE_LIMIT", 3)
    path = tmp_path / "parsed.json"
    store = ParsedStore(path)
    for i in range(5):
        store.add(f"x + {i}", parse(f"x + {i}"))
    store.save()
    assert list(json.loads(path.read_text())) == ["x + 2", "x + 3", "x + 4"]


def test_no_cache_dir_means_no_file(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "parsed.json"
    store = ParsedStore(path)
    store.add("a", parse("a"))
    store.save()
    assert not path.parent.exists()
