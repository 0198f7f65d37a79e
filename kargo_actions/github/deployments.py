"""A GitHub Deployment per promotion: environment = Stage, ref = the Freight's tag, payload = the Freight.

The promote command calls `start_deployment` before the first step and `finish_deployment` after the last
(whatever the outcome), so the repository's Environments page shows each Stage's Freight and its history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kargo_actions.github.client import GitHubClient
from kargo_actions.github.models import Deployment, DeploymentState, DeploymentStatus
from kargo_actions.model.freight import Freight
from kargo_actions.redact import redact_data

# Kargo's promotion phases and the deployment status each ends in.
PHASE_STATES: dict[str, DeploymentState] = {
    "Succeeded": "success",
    "Failed": "failure",
    "Errored": "error",
    "Aborted": "error",
}
TASK = "deploy:kargo"


@dataclass(frozen=True)
class StartedDeployment:
    """The Deployment of one promotion, for `finish_deployment`."""

    deployment: Deployment
    log_url: str

    @property
    def id(self) -> int:
        return self.deployment.id


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
    log_url: str,
    *,
    promotion: str = "",
    production: bool | None = None,
) -> StartedDeployment:
    """Create the Deployment (auto_merge false, no required contexts) and mark it in_progress with log_url.

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
    client.create_deployment_status(
        deployment.id, state="in_progress", log_url=log_url, description=f"Promoting {name} to {stage}"
    )
    return StartedDeployment(deployment, log_url)


def finish_deployment(
    client: GitHubClient,
    started: StartedDeployment | int,
    phase: Literal["Succeeded", "Failed", "Errored", "Aborted"] | str,
    *,
    log_url: str = "",
    message: str = "",
    environment_url: str = "",
) -> DeploymentStatus:
    """The final status: success for Succeeded, failure for Failed, error for Errored and Aborted."""
    state = PHASE_STATES.get(phase)
    if state is None:
        raise ValueError(f"{phase!r} is not a finished promotion phase ({', '.join(PHASE_STATES)})")
    deployment_id = started if isinstance(started, int) else started.id
    url = log_url or ("" if isinstance(started, int) else started.log_url)
    description = message or f"Promotion {phase.lower()}"
    return client.create_deployment_status(
        deployment_id, state=state, log_url=url, description=description, environment_url=environment_url
    )
