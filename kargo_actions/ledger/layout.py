"""Where each record lives on the ledger branch, and the names that may appear in those paths.

Plain Python (no pydantic), so the quick read path of `freight show` can use it without loading the models.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from kargo_actions.errors import InvalidInputError, Problem

SCHEMA_VERSION = 1
LEDGER_FORMAT = 1
MARKER_PATH = ".kargo-ledger.json"
MARKER_KIND = "KargoActionsLedger"
# Top-level entries a ledger branch may hold; anything else means the branch is not ours.
TOP_LEVEL = frozenset(
    {
        MARKER_PATH,
        "freight",
        "aliases",
        "discovered",
        "promotions",
        "verifications",
        "approvals",
        "stages",
        "metadata",
        "freezes",
        "deferred",
    }
)

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_FREIGHT_ID = re.compile(r"^[0-9a-f]{40}$")
_RECORD_ID = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9._]*[A-Za-z0-9])?$")

MetadataKind = Literal["Stage", "Freight"]


class LedgerRecordError(InvalidInputError):
    """A record file on the ledger branch cannot be read; names the file."""


def is_name(value: str) -> bool:
    """A Kubernetes-style name (Warehouse, Stage, alias) that is safe as one path component."""
    return len(value) <= 253 and bool(_NAME.match(value))


def is_freight_id(value: str) -> bool:
    return bool(_FREIGHT_ID.match(value))


def check_name(value: str, what: str) -> str:
    if not is_name(value):
        raise InvalidInputError(
            [
                Problem(
                    path=what,
                    message=f"{value!r} is not a valid {what} name",
                    hint="lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
                )
            ]
        )
    return value


def check_freight_id(value: str) -> str:
    if not is_freight_id(value):
        raise InvalidInputError(f"{value!r} is not a Freight ID (40 lowercase hex characters)")
    return value


def check_record_id(value: str, what: str) -> str:
    if len(value) > 200 or not _RECORD_ID.match(value):
        raise InvalidInputError(f"{value!r} is not a valid {what} (letters, digits, '-', '_', '.')")
    return value


def metadata_path(kind: MetadataKind, name: str) -> str:
    if kind == "Freight":
        return f"metadata/freight/{check_freight_id(name)}.json"
    return f"metadata/stage/{check_name(name, 'Stage')}.json"


def marker_path() -> str:
    return MARKER_PATH


def freight_path(warehouse: str, freight_id: str) -> str:
    return f"freight/{check_name(warehouse, 'Warehouse')}/{check_freight_id(freight_id)}.json"


def alias_path(alias: str) -> str:
    return f"aliases/{check_name(alias, 'alias')}.json"


def discovered_path(warehouse: str) -> str:
    return f"discovered/{check_name(warehouse, 'Warehouse')}.json"


def promotion_path(stage: str, name: str) -> str:
    return f"promotions/{check_name(stage, 'Stage')}/{check_record_id(name, 'Promotion name')}.json"


def verification_path(stage: str, run_id: str) -> str:
    return f"verifications/{check_name(stage, 'Stage')}/{check_record_id(run_id, 'verification id')}.json"


def approval_path(stage: str, freight_id: str) -> str:
    return f"approvals/{check_name(stage, 'Stage')}/{check_freight_id(freight_id)}.json"


def stage_path(stage: str) -> str:
    return f"stages/{check_name(stage, 'Stage')}.json"


def freeze_path(stage: str | None) -> str:
    """freezes/all.json (every Stage) or freezes/stages/<stage>.json."""
    return "freezes/all.json" if stage is None else f"freezes/stages/{check_name(stage, 'Stage')}.json"


def deferred_path(stage: str) -> str:
    return f"deferred/{check_name(stage, 'Stage')}.json"


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 time of a ledger record (``...Z``) as an aware datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    """A time as ledger records write it: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
