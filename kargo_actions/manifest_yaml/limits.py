"""The bounds on one manifest file, the shape of a file's documents and of a field's location."""

from __future__ import annotations

from typing import Any, Final

MAX_FILE_BYTES: Final = 10 * 1024 * 1024
# Kargo manifests nest about 15 levels (a step config a few more): 100 is far above that and far below the
# 1000 frames Python allows to the recursive walks (composing, to_plain, pydantic) that follow.
MAX_DEPTH: Final = 100
# Anchors reused by a few Stages bring in hundreds of nodes; 100000 still loads in a fraction of a second.
MAX_ALIAS_NODES: Final = 100_000

Loc = tuple[str | int, ...]
# Each document of a file that is not empty: the document, its index in the file, and its start (line, column).
Documents = list[tuple[Any, int, tuple[int, int] | None]]
