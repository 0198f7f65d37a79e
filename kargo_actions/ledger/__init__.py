"""The ledger branch (git plumbing, compare-and-swap push) and Freight tags (sign, verify)."""

from __future__ import annotations

from kargo_actions.ledger.config import LedgerConfig, SigningPolicy
from kargo_actions.ledger.store import Ledger, NoWrite, RecordResult, Snapshot, WritePlan
from kargo_actions.ledger.verify import Finding, FreightCheck, read_for_promotion, verify_freight

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
