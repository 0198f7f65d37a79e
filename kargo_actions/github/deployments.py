"""A GitHub Deployment per promotion: environment = Stage, ref = the Freight's tag, payload = the Freight.

The promote command calls `start_deployment` before the first step and `finish_deployment` after the last
(whatever the outcome), so the repository's Environments page shows each Stage's Freight and its history.
It is a promotion's only Deployment: the generated jobs name their environment with `deployment: false`
(Settings `deployments: promotion`; with `job` the promote job's environment makes it instead).
Every status carries the same links (github/deployment_links.py): the run's log and the Stage's URL.
"""

from __future__ import annotations

from typing import Literal

from kargo_actions.github.client import GitHubClient
from kargo_actions.github.deployment_links import DeploymentLinks
from kargo_actions.github.models import Deployment, DeploymentState, DeploymentStatus
from kargo_actions.model.freight import Freight
from kargo_actions.redact import redact_data
from kargo_actions.struct import struct

# Kargo's promotion phases and the deployment status each ends in.
PHASE_STATES: dict[str, DeploymentState] = {
    "Succeeded": "success",
    "Failed": "failure",
    "Errored": "error",
    "Aborted": "error",
}
TASK = "deploy:kargo"


@struct
class StartedDeployment:
    """The Deployment of one promotion, for `finish_deployment`."""

    deployment: Deployment
    links: DeploymentLinks

    @property
    def id(self) -> int:
        return self.deployment.id

    @property
    def log_url(self) -> str:
        return self.links.log_url


def post_status(
    client: GitHubClient, deployment_id: int, state: DeploymentState, description: str, links: DeploymentLinks
) -> DeploymentStatus:
    """One status of a promotion's Deployment, with its links."""
    return client.create_deployment_status(
        deployment_id,
        state=state,
        description=description,
        log_url=links.log_url,
        environment_url=links.environment_url,
    )


def freight_payload(freight: Freight, promotion: str = "") -> dict[str, object]:
    """The Deployment's payload: the Freight as Kargo's JSON (a repoURL's password redacted), plus the
    promotion's name."""
    payload: dict[str, object] = {
        "freight": redact_data(freight.model_dump(mode="json", by_alias=True, exclude_none=True))
    }
    if promotion:
        payload["promotion"] = promotion
    return payload


def start_deployment(
    client: GitHubClient,
    stage: str,
    freight: Freight,
    tag_ref: str,
    links: DeploymentLinks | str,
    *,
    promotion: str = "",
    production: bool | None = None,
) -> StartedDeployment:
    """Create the Deployment (auto_merge false, no required contexts) and mark it in_progress with its links
    (a str: the log URL alone).

    tag_ref is the Freight's tag (`refs/tags/<tagPrefix>/<warehouse>/<id>` or the short name); it must be on
    GitHub already (push tags before calling).
    """
    name = freight.alias or freight.name[:7]
    deployment = client.create_deployment(
        ref=tag_ref.removeprefix("refs/tags/"),
        environment=stage,
        payload=freight_payload(freight, promotion),
        description=f"Promote {name} to {stage}",
        task=TASK,
        production=production,
    )
    links = DeploymentLinks(log_url=links) if isinstance(links, str) else links
    post_status(client, deployment.id, "in_progress", f"Promoting {name} to {stage}", links)
    return StartedDeployment(deployment, links)


def finish_deployment(
    client: GitHubClient,
    started: StartedDeployment | int,
    phase: Literal["Succeeded", "Failed", "Errored", "Aborted"] | str,
    *,
    log_url: str = "",
    message: str = "",
    environment_url: str = "",
) -> DeploymentStatus:
    """The final status: success for Succeeded, failure for Failed, error for Errored and Aborted; links
    given here replace the started Deployment's."""
    state = PHASE_STATES.get(phase)
    if state is None:
        raise ValueError(f"{phase!r} is not a finished promotion phase ({', '.join(PHASE_STATES)})")
    deployment_id = started if isinstance(started, int) else started.id
    links = DeploymentLinks() if isinstance(started, int) else started.links
    links = DeploymentLinks(
        log_url=log_url or links.log_url, environment_url=environment_url or links.environment_url
    )
    return post_status(client, deployment_id, state, message or f"Promotion {phase.lower()}", links)
