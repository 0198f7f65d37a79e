"""Parse expr-lang text into typed nodes: cached by text in the process and, between processes, in a store of
parsed expressions in the user cache dir, so that a command whose expressions were all parsed before neither
imports lark nor loads its tables (25-30 ms of a promotion's start-up). lark itself is used in syntax.py.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import hashlib
import importlib.util
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from kargo_actions.expressions import nodes as n
from kargo_actions.expressions.cache_files import cache_dir
from kargo_actions.expressions.errors import ExpressionError
from kargo_actions.expressions.runtime import BINARY_OPERATORS, DEFAULT_LIMITS, Limits

STORE_LIMIT = 4096  # parsed expressions kept in the store (the newest)
# Everything that decides what a text parses to: the store's file name carries a digest of these files.
_PARSE_SOURCES = ("grammar.lark", "syntax.py", "nodes.py", "runtime.py", "parser.py")


@functools.lru_cache(maxsize=4096)
def parse(text: str, limits: Limits = DEFAULT_LIMITS) -> n.Node:
    """Parse one expression (cached by its text); raises ExpressionError with the column of the problem."""
    if not text.strip():
        raise ExpressionError(text, 1, "empty expression")
    if len(text) > limits.max_expression_length:
        raise ExpressionError(
            text[:80] + "...",
            1,
            f"expression too long ({len(text)} characters, limit {limits.max_expression_length})",
        )
    # The store holds trees that passed the default depth limit; the text alone decides the rest.
    storable = limits.max_depth == DEFAULT_LIMITS.max_depth
    store = _store() if storable else None
    if store is not None:
        stored = store.get(text)
        if stored is not None:
            return stored
    from kargo_actions.expressions.syntax import parse_text

    node = parse_text(text, limits)
    if store is not None:
        store.add(text, node)
    return node


class ParsedStore:
    """Parsed expressions kept between processes in one JSON file, read once per process, written back at
    exit with what the process parsed (the newest STORE_LIMIT, atomically: a temporary file renamed).

    The file's name carries a digest of the parser's sources and lark's version, so a changed parser never
    reads trees of the old one. Trees are plain JSON rebuilt only into the node classes (no pickle: the
    cache dir may come from a shared CI cache). A damaged file counts as empty and is replaced.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._added: dict[str, n.Node] = {}
        self._trees = self._read()

    def _read(self) -> dict[str, n.Node]:
        try:
            trees = {text: _decode(tree) for text, tree in json.loads(self.path.read_bytes()).items()}
        except Exception:  # missing, damaged, or not what this parser writes
            return {}
        return trees if all(isinstance(tree, n.Node) for tree in trees.values()) else {}

    def get(self, text: str) -> n.Node | None:
        return self._trees.get(text)

    def add(self, text: str, node: n.Node) -> None:
        with self._lock:
            first = not self._added
            self._trees[text] = self._added[text] = node
        if first:
            atexit.register(self.save)

    def save(self) -> None:
        """Write the file: what it holds now (another process may have written it since) plus this process's
        parses. Never raises: the store is only a cache."""
        with self._lock:
            added = dict(self._added)
            self._added.clear()
        if not added or not self.path.parent.is_dir():
            return
        trees = {**self._read(), **added}
        if len(trees) > STORE_LIMIT:
            trees = dict(list(trees.items())[-STORE_LIMIT:])
        with contextlib.suppress(Exception):
            text = json.dumps({key: _encode(tree) for key, tree in trees.items()}, separators=(",", ":"))
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".parsed-")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(text)
                os.replace(temporary, self.path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)


# A node is [class name, fields...], a tuple {"t": [items...]}; Binary's function comes back from its operator.
_NODE_CLASSES: dict[str, type[n.Node]] = {
    cls.__name__: cls
    for cls in vars(n).values()
    if isinstance(cls, type) and issubclass(cls, n.Node) and dataclasses.is_dataclass(cls)
}

_FIELDS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in dataclasses.fields(cls) if f.name != "fn")  # type: ignore[arg-type]
    for name, cls in _NODE_CLASSES.items()
}


def _encode(value: Any) -> Any:
    if isinstance(value, n.Node):
        fields = [getattr(value, name) for name in _FIELDS[type(value).__name__]]
        return [type(value).__name__, *map(_encode, fields)]
    if isinstance(value, tuple):
        return {"t": [_encode(item) for item in value]}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a parsed expression")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        cls = _NODE_CLASSES[value[0]]
        fields = [_decode(item) for item in value[1:]]
        if cls is n.Binary:
            fields.insert(1, BINARY_OPERATORS[fields[0]])
        return cls(*fields)
    if isinstance(value, dict):
        return tuple(_decode(item) for item in value["t"])
    return value


_stores: dict[Path, ParsedStore] = {}
_stores_lock = threading.Lock()


def _store() -> ParsedStore | None:
    """The store of the current cache dir (read on first use); None without a cache dir."""
    root = cache_dir()
    digest = _parser_digest()
    if root is None or digest is None:
        return None
    path = root / f"parsed-{digest}.json"
    with _stores_lock:
        store = _stores.get(path)
        if store is None:
            store = _stores[path] = ParsedStore(path)
    return store


@functools.cache
def _parser_digest() -> str | None:
    """A digest of the parser's sources and lark's version; None when they cannot be read (no store then)."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    try:
        for name in _PARSE_SOURCES:
            digest.update((here / name).read_bytes())
        # lark's version, as its __init__ names it, read without importing lark
        spec = importlib.util.find_spec("lark")
        if spec is None or not spec.origin:
            return None
        digest.update(Path(spec.origin).read_bytes())
    except OSError:
        return None
    return digest.hexdigest()[:16]
