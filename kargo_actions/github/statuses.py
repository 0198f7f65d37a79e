"""Commit statuses the promote command posts: `kargo/verified/<stage>` on a Freight's commit once verified
in a Stage, and `kargo/gate` on a promotion pull request's head (rulesets made by `github sync` require it)."""

from __future__ import annotations

from kargo_actions.github.client import GitHubClient
from kargo_actions.github.models import CommitStatus, StatusState
from kargo_actions.model.freight import Freight


def _name(freight: Freight | str) -> str:
    if isinstance(freight, str):
        return freight[:7]
    return freight.alias or freight.name[:7]


def mark_verified(
    client: GitHubClient,
    stage: str,
    freight_commit: str,
    *,
    freight: Freight | str = "",
    state: StatusState = "success",
    target_url: str = "",
) -> CommitStatus:
    """`kargo/verified/<stage>` on freight_commit: success when verified, failure when verification failed."""
    what = f"Freight {_name(freight)}" if freight else "Freight"
    description = {
        "success": f"{what} verified in {stage}",
        "failure": f"{what} failed verification in {stage}",
        "pending": f"{what} being verified in {stage}",
        "error": f"{what} could not be verified in {stage}",
    }[state]
    return client.set_verified_status(
        freight_commit, stage, state=state, description=description, target_url=target_url
    )


def gate_status(
    client: GitHubClient,
    head_sha: str,
    stage: str,
    freight: Freight | str,
    *,
    available: bool,
    reason: str = "",
    target_url: str = "",
) -> CommitStatus:
    """`kargo/gate` on a promotion PR's head: success when the Freight is available to the Stage, else failure
    with the reason (e.g. "not verified in staging")."""
    name = _name(freight)
    if available:
        description = f"Freight {name} is available to {stage}"
    else:
        description = f"Freight {name} is not available to {stage}" + (f": {reason}" if reason else "")
    return client.set_gate_status(
        head_sha, state="success" if available else "failure", description=description, target_url=target_url
    )
