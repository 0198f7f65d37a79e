"""The ledger branch (git plumbing, compare-and-swap push) and Freight tags (sign, verify).

Names are imported on first use: reading a submodule such as `kargo_actions.ledger.reader` must not load the
record models (and pydantic) that `Ledger` needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kargo_actions.ledger.config import LedgerConfig, SigningPolicy
    from kargo_actions.ledger.store import Ledger, NoWrite, RecordResult, Snapshot, WritePlan
    from kargo_actions.ledger.verify import Finding, FreightCheck, read_for_promotion, verify_freight

_HOMES = {
    "LedgerConfig": "config",
    "SigningPolicy": "config",
    "Ledger": "store",
    "NoWrite": "store",
    "RecordResult": "store",
    "Snapshot": "store",
    "WritePlan": "store",
    "Finding": "verify",
    "FreightCheck": "verify",
    "read_for_promotion": "verify",
    "verify_freight": "verify",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "Finding",
    "FreightCheck",
    "Ledger",
    "LedgerConfig",
    "NoWrite",
    "RecordResult",
    "SigningPolicy",
    "Snapshot",
    "WritePlan",
    "read_for_promotion",
    "verify_freight",
]
