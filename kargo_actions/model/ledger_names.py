"""The ledger's settings by name: the environment variable of each, and which names git takes as refs.

Below both the Settings model (which checks ledgerBranch and tagPrefix) and the CLI's quick commands (which
read them without loading pydantic), so it imports nothing.
"""

from __future__ import annotations

import re

# git check-ref-format's rules, enough to refuse names git would refuse.
_BAD_REF = re.compile(r"(^[/.]|[/.]$|\.\.|//|@\{|[\x00-\x20~^:?*\[\\\x7f]|\.lock(/|$)|/\.)")
# The environment variable of each ledger setting (the Settings manifest's spec field -> variable).
LEDGER_ENV_VARS: dict[str, str] = {
    "ledger_branch": "KARGO_ACTIONS_LEDGER_BRANCH",
    "remote": "KARGO_ACTIONS_LEDGER_REMOTE",
    "tag_prefix": "KARGO_ACTIONS_TAG_PREFIX",
    "signing": "KARGO_ACTIONS_SIGN",
}


def is_ref_name(value: str) -> bool:
    """A name git would take as (part of) a ref: the Settings manifest's check of ledgerBranch and tagPrefix."""
    return bool(value) and not _BAD_REF.search(value)
