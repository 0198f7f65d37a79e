"""Commit statuses the promote command posts: `kargo/verified/<stage>` on a Freight's commit once verified
in a Stage, and `kargo/gate` on a promotion pull request's head (rulesets made by `github sync` require it)."""

from __future__ import annotations

from collections.abc import Mapping

from kargo_actions.github.client import ClientOptions, GitHubClient
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


def pull_request_location(pr_url: str) -> tuple[str, int]:
    """(OWNER/REPO, number) of a pull request's web URL (https://HOST/OWNER/REPO/pull/N), as git-open-pr
    outputs it in `pr.url`; ValueError otherwise."""
    from urllib.parse import urlsplit

    parts = [p for p in urlsplit(pr_url).path.split("/") if p]
    if len(parts) < 4 or parts[-2] != "pull" or not parts[-1].isdigit():
        raise ValueError(f"{pr_url!r} is not a pull request URL (https://HOST/OWNER/REPO/pull/N)")
    return f"{parts[-4]}/{parts[-3]}", int(parts[-1])


def gate_pull_request(
    pr_url: str,
    stage: str,
    freight: Freight | str,
    *,
    available: bool,
    reason: str = "",
    target_url: str = "",
    env: Mapping[str, str] | None = None,
    options: ClientOptions | None = None,
) -> CommitStatus:
    """`kargo/gate` on the current head of the pull request at pr_url (git-open-pr's `pr.url`), with a client
    for that pull request's repository (GITHUB_API_URL and credentials from env)."""
    repository, number = pull_request_location(pr_url)
    client = GitHubClient.from_env(repository, env=env, options=options)
    head = client.get_pull_request(number).head_sha
    return gate_status(
        client, head, stage, freight, available=available, reason=reason, target_url=target_url
    )
