"""Deferred auto-promotions (deferred/<stage>.json) read without the models, for reconcile's quick look."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from kargo_actions.ledger.layout import parse_time

if TYPE_CHECKING:
    from kargo_actions.ledger.reader import LedgerTree


def deferred_stages(tree: LedgerTree, now: datetime, *, due_only: bool = True) -> list[str]:
    """Stages with a deferred auto-promotion; `due_only`: those whose opening is not known to be ahead."""
    stages: list[str] = []
    for name in tree.names("deferred"):
        try:
            data = json.loads(tree.read(f"deferred/{name}") or b"{}")
        except ValueError:
            data = {}
        opens = parse_time(data.get("opensAt")) if isinstance(data, dict) else None
        if not due_only or opens is None or opens <= now:
            stages.append(name.removesuffix(".json"))
    return stages
