"""ruamel's round-trip loader, bounded against hostile input: it reads every file the libyaml reader leaves,
words its problems, and gives the line and column of a field.

Aliases may bring in at most MAX_ALIAS_NODES nodes per file and nothing nests (aliases expanded) deeper than
MAX_DEPTH levels: a "billion laughs" file or a list nested 5000 deep is refused at the alias or the level
that goes over, while it is read, instead of hanging or overflowing the stack when the documents are walked.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ruamel.yaml import YAML
from ruamel.yaml.comments import merge_attrib
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode
from ruamel.yaml.scanner import RoundTripScanner

from kargo_actions.errors import Problem
from kargo_actions.manifest_yaml.limits import MAX_ALIAS_NODES, MAX_DEPTH, Documents, Loc

_MERGE_TAG: Final = "tag:yaml.org,2002:merge"


class _BoundedComposer(Composer):
    """ruamel's composer with the depth bound and an alias budget counted as the document is composed."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.expanded = 0  # nodes that aliases brought in, over the whole file
        self._open: set[str] = set()  # anchors whose node is still being composed
        self._measured: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, height) once expanded

    def compose_document(self: Any) -> Any:
        self._measured.clear()  # node ids of an earlier document may be reused
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            self._check_alias(event)
            return super().compose_node(parent, index)
        if self.depth >= MAX_DEPTH:
            raise ComposerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels: flatten the document", event.start_mark
            )
        anchor = event.anchor
        if anchor is not None:
            self._open.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            if anchor is not None:
                self._open.discard(anchor)

    def _check_alias(self, event: Any) -> None:
        target = self.anchors.get(event.anchor)
        if target is None:  # an undefined alias: the base composer reports it
            return
        if event.anchor in self._open:
            raise ComposerError(
                None,
                None,
                f"alias *{event.anchor} is inside the node it names (a recursive alias)",
                event.start_mark,
            )
        nodes, height = self._measure(target)
        self.expanded += nodes
        if self.expanded > MAX_ALIAS_NODES:
            raise ComposerError(
                None,
                None,
                f"aliases expand to more than {MAX_ALIAS_NODES} nodes in this file (nested anchors multiply):"
                " write the repeated parts out or alias fewer of them",
                event.start_mark,
            )
        if self.depth + height > MAX_DEPTH:
            raise ComposerError(
                None,
                None,
                f"alias *{event.anchor} nests the document deeper than {MAX_DEPTH} levels once expanded",
                event.start_mark,
            )

    def _measure(self, node: Node) -> tuple[int, int]:
        """How many nodes the node stands for with its aliases expanded, and how deep it is."""
        known = self._measured.get(id(node))
        if known is not None:
            return known
        if isinstance(node, ScalarNode):
            children: list[Node] = []
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = list(node.value)
        count, height = 1, 0
        for child in children:
            nodes, depth = self._measure(child)
            count, height = count + nodes, max(height, depth)
        self._measured[id(node)] = (count, height + 1)
        return count, height + 1


class _LinearScanner(RoundTripScanner):
    """ruamel's scanner without its quadratic walk over pending simple keys (one per `[` of "[[[[...").

    Keys are saved in reading order, so the first pending key is the oldest by position, line and token
    number: when it is still fresh, so are all the others, and it has the smallest token number.
    """

    def next_possible_simple_key(self) -> Any:
        for key in self.possible_simple_keys.values():
            return key.token_number
        return None

    def stale_possible_simple_keys(self) -> None:
        for key in self.possible_simple_keys.values():
            if key.line == self.reader.line and self.reader.index - key.index <= 1024:
                return  # the oldest is fresh: none is stale
            break
        super().stale_possible_simple_keys()


class _MergeMarkingConstructor(RoundTripConstructor):
    """Keeps where a `<<:` merge key stood (ruamel drops it), so keys it merged in can be located there."""

    def flatten_mapping(self, node: Any) -> Any:
        key = next((k for k, _ in node.value if k.tag == _MERGE_TAG), None)
        merged = super().flatten_mapping(node)
        if key is not None:
            merged.mark = (key.start_mark.line + 1, key.start_mark.column + 1)
        return merged


def bounded_yaml() -> YAML:
    """A round-trip loader with the bounds above, refusing duplicate keys."""
    yaml = YAML(typ="rt")
    yaml.Scanner = _LinearScanner
    yaml.Composer = _BoundedComposer
    yaml.Constructor = _MergeMarkingConstructor
    yaml.allow_duplicate_keys = False
    return yaml


def read_round_trip(text: str, file: str, problems: list[Problem]) -> Documents:
    """Parse the text into round-trip nodes with their index and start; report malformed text (as `file`) and
    a file of empty documents into problems."""
    yaml = bounded_yaml()
    try:
        docs = list(yaml.load_all(text))
    except DuplicateKeyError as err:
        mark = err.problem_mark
        key = re.search(r'duplicate key "([^"]*)"', str(err.problem))
        first = err.context_mark.line + 1 if err.context_mark is not None else 0
        problems.append(
            Problem(
                file=file,
                line=mark.line + 1 if mark else 0,
                col=mark.column + 1 if mark else 0,
                message=f"duplicate key {key.group(1) if key else ''!r}"
                + (f" (the mapping starts at line {first})" if first else ""),
                hint="each key may appear once in a mapping",
            )
        )
        return []
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        what = (err.problem or err.context or "invalid YAML").strip()
        problems.append(
            Problem(
                file=file,
                line=mark.line + 1 if mark else 0,
                col=mark.column + 1 if mark else 0,
                message=f"invalid YAML: {what}",
            )
        )
        return []
    except YAMLError as err:
        problems.append(Problem(file=file, message=f"invalid YAML: {err}"))
        return []
    except RecursionError:  # the bounds above should make this unreachable: still a problem, not a crash
        problems.append(Problem(file=file, message="invalid YAML: nested too deeply to read"))
        return []
    except (AssertionError, NotImplementedError) as err:
        # ruamel's round trip keeps comments, and a few placements (a comment before a block scalar's
        # indicator on the next line) break that bookkeeping: a problem to fix in the file, not a crash.
        where = re.search(r"line: (\d+)", str(err))
        problems.append(
            Problem(
                file=file,
                line=int(where.group(1)) + 1 if where else 0,
                message=f"cannot read this file's comments ({str(err).split('[', 1)[0].strip() or 'reader error'})",
                hint="put each comment on a line of its own, or after the value it follows",
            )
        )
        return []
    found = [
        (doc, i, node_position(doc) if hasattr(doc, "lc") else None)
        for i, doc in enumerate(docs)
        if doc is not None
    ]
    if any(pos is None for _, _, pos in found):
        # A scalar document carries no position; composing again (rare, error path only) finds its start.
        starts = [(n.start_mark.line + 1, n.start_mark.column + 1) for n in bounded_yaml().compose_all(text)]
        found = [(doc, i, pos or (starts[i] if i < len(starts) else None)) for doc, i, pos in found]
    if not found:
        problems.append(Problem(file=file, message="file is empty: it holds no YAML document"))
    return found


def locate_node(node: Any, loc: Loc, *, value: bool = False) -> tuple[int, int]:
    """Line and column (1-based) of the deepest round-trip node on loc.

    The position is the last key's (or, with value, the last value's). A key that a `<<:` merge brought in
    is located at that merge: its own position is in the anchored mapping, which other places share.
    """
    line, col = node_position(node)
    cur = node
    for i, part in enumerate(loc):
        lc = getattr(cur, "lc", None)
        if lc is None:
            break
        if isinstance(cur, dict) and isinstance(part, str) and part in cur:
            own = lc.data.get(part)
            if own is None:
                line, col = getattr(getattr(cur, merge_attrib, None), "mark", None) or (line, col)
                break
            last = value and i == len(loc) - 1
            line, col = (own[2] + 1, own[3] + 1) if last else (own[0] + 1, own[1] + 1)
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            line, col = lc.item(part)[0] + 1, lc.item(part)[1] + 1
        else:
            break
        cur = cur[part]
    return line, col


def node_position(node: Any) -> tuple[int, int]:
    """Line and column (1-based) where a round-trip node starts; 1, 1 when it carries none."""
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return 1, 1
    return lc.line + 1, lc.col + 1
