"""Deployments and deployment statuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kargo_actions.github.api.transport import GitHubTransport
from kargo_actions.github.models import Deployment, DeploymentState, DeploymentStatus
from kargo_actions.github.permissions import Op
from kargo_actions.github.text import fit_status_description
from kargo_actions.github.wire import deployment_from, deployment_status_from


class DeploymentsAPI(GitHubTransport):
    """Deployments of a ref to an environment and their statuses."""

    def create_deployment(
        self,
        *,
        ref: str,
        environment: str,
        payload: Mapping[str, Any],
        description: str = "",
        task: str = "deploy",
        production: bool | None = None,
    ) -> Deployment:
        """A Deployment of ref to environment; no auto-merge, no required contexts (gates live elsewhere)."""
        extra: dict[str, Any] = {}
        if production is not None:
            extra["production_environment"] = production
        deployment = self._call(
            Op.CREATE_DEPLOYMENT,
            lambda: self._repo.create_deployment(
                ref=ref,
                task=task,
                auto_merge=False,
                required_contexts=[],
                payload=dict(payload),
                environment=environment,
                description=fit_status_description(description),
                **extra,
            ),
        )
        return deployment_from(deployment.raw_data)

    def create_deployment_status(
        self,
        deployment_id: int,
        *,
        state: DeploymentState,
        log_url: str = "",
        description: str = "",
        environment_url: str = "",
    ) -> DeploymentStatus:
        body: dict[str, Any] = {
            "state": state,
            "description": fit_status_description(description),
            "auto_inactive": True,
        }
        if log_url:
            body["log_url"] = log_url
        if environment_url:
            body["environment_url"] = environment_url
        data = self._request(
            Op.CREATE_DEPLOYMENT, "POST", f"{self._path}/deployments/{deployment_id}/statuses", body=body
        )
        return deployment_status_from(deployment_id, data)

    def list_deployments(
        self, *, environment: str = "", ref: str = "", sha: str = ""
    ) -> tuple[Deployment, ...]:
        params = {k: v for k, v in (("environment", environment), ("ref", ref), ("sha", sha)) if v}
        return tuple(
            deployment_from(d)
            for d in self._paged(Op.READ_DEPLOYMENTS, f"{self._path}/deployments", parameters=params)
        )

    def deployment_statuses(self, deployment_id: int) -> tuple[DeploymentStatus, ...]:
        """Newest first, as GitHub lists them."""
        items = self._paged(Op.READ_DEPLOYMENTS, f"{self._path}/deployments/{deployment_id}/statuses")
        return tuple(deployment_status_from(deployment_id, s) for s in items)
