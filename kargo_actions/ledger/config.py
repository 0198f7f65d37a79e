"""Where the ledger lives and how Freight tags are named and signed."""

from __future__ import annotations

import enum
import re

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.struct import struct

# A conservative subset of git's ref-name rules: no `..`, no `//`, no leading/trailing `/` or `.`.
_REF_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


class SigningPolicy(enum.StrEnum):
    NEVER = "never"  # never sign tags; verification checks integrity only
    AUTO = "auto"  # sign when git has a signing key configured
    REQUIRED = "required"  # refuse to record or promote an unsigned or unverifiable Freight


def _check_ref_path(value: str, field: str) -> list[Problem]:
    parts = value.split("/")
    if (
        not value
        or ".." in value
        or not all(_REF_PART.match(p) and not p.endswith((".", ".lock")) for p in parts)
    ):
        return [
            Problem(
                path=field,
                message=f"{value!r} is not a usable git ref name",
                hint="use letters, digits, '-', '_', '.' and '/' between parts, e.g. kargo/ledger",
            )
        ]
    return []


@struct
class LedgerConfig:
    """Ledger settings (a Settings manifest, flags and KARGO_ACTIONS_* variables feed this)."""

    branch: str = "kargo/ledger"
    remote: str | None = "origin"  # None or "": local only; a missing remote also means local only
    tag_prefix: str = "kargo/freight"
    signing: SigningPolicy = SigningPolicy.AUTO
    max_attempts: int = 60  # compare-and-swap rounds before giving up on a busy remote
    backoff_base: float = 0.05  # seconds; full jitter, doubled each round up to backoff_cap
    backoff_cap: float = 1.0

    def __post_init__(self) -> None:
        problems = [
            *_check_ref_path(self.branch, "ledger.branch"),
            *_check_ref_path(self.tag_prefix, "ledger.tagPrefix"),
        ]
        if self.remote and not _REF_PART.match(self.remote):
            problems.append(Problem(path="ledger.remote", message=f"{self.remote!r} is not a remote name"))
        if self.max_attempts < 1:
            problems.append(Problem(path="ledger.maxAttempts", message="must be at least 1"))
        if not isinstance(self.signing, SigningPolicy):
            problems.append(
                Problem(
                    path="ledger.signing", message=f"{self.signing!r} is not one of never, auto, required"
                )
            )
        if problems:
            raise InvalidInputError(problems)

    @property
    def branch_ref(self) -> str:
        return f"refs/heads/{self.branch}"

    def remote_tracking_ref(self) -> str | None:
        return f"refs/remotes/{self.remote}/{self.branch}" if self.remote else None

    def tag_name(self, warehouse: str, freight_id: str) -> str:
        return f"{self.tag_prefix}/{warehouse}/{freight_id}"

    def tag_ref(self, warehouse: str, freight_id: str) -> str:
        return f"refs/tags/{self.tag_name(warehouse, freight_id)}"
