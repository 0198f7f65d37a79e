"""Commit statuses and check runs of a commit."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from kargo_actions.github.api.transport import GitHubTransport
from kargo_actions.github.models import (
    GATE_CONTEXT,
    CheckRun,
    CombinedStatus,
    CommitStatus,
    StatusState,
    verified_context,
)
from kargo_actions.github.permissions import Op
from kargo_actions.github.text import fit_status_description
from kargo_actions.github.wire import status_from

PASSING_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})
FAILING_STATES = frozenset({"failure", "error"})


class StatusesAPI(GitHubTransport):
    """Commit statuses (kargo/verified/<stage>, kargo/gate) and check runs."""

    def create_status(
        self, sha: str, *, state: StatusState, context: str, description: str = "", target_url: str = ""
    ) -> CommitStatus:
        body: dict[str, Any] = {
            "state": state,
            "context": context,
            "description": fit_status_description(description),
        }
        if target_url:
            body["target_url"] = target_url
        data = self._request(Op.CREATE_STATUS, "POST", f"{self._path}/statuses/{sha}", body=body)
        return status_from(data)

    def set_verified_status(
        self, sha: str, stage: str, *, state: StatusState, description: str = "", target_url: str = ""
    ) -> CommitStatus:
        """`kargo/verified/<stage>` on a Freight's commit."""
        if not description and state == "success":
            description = f"Freight verified in {stage}"
        return self.create_status(
            sha, state=state, context=verified_context(stage), description=description, target_url=target_url
        )

    def set_gate_status(
        self, sha: str, *, state: StatusState, description: str, target_url: str = ""
    ) -> CommitStatus:
        """`kargo/gate` on a promotion pull request's head."""
        return self.create_status(
            sha, state=state, context=GATE_CONTEXT, description=description, target_url=target_url
        )

    def combined_status(self, ref: str) -> CombinedStatus:
        data = self._get(
            Op.READ_STATUSES,
            f"{self._path}/commits/{quote(ref, safe='')}/status",
            parameters={"per_page": 100},
        )
        return CombinedStatus(
            sha=data["sha"], state=data["state"], statuses=tuple(status_from(s) for s in data["statuses"])
        )

    def check_runs(self, ref: str) -> tuple[CheckRun, ...]:
        runs = self._paged(
            Op.READ_CHECK_RUNS, f"{self._path}/commits/{quote(ref, safe='')}/check-runs", key="check_runs"
        )
        return tuple(CheckRun(int(r["id"]), r["name"], r["status"], r.get("conclusion")) for r in runs)
