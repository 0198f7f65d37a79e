"""Actions workflows: dispatching one and following its run."""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import quote

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.github.api.transport import GitHubTransport
from kargo_actions.github.models import DispatchedRun, WorkflowRun
from kargo_actions.github.permissions import Op
from kargo_actions.github.wire import run_from

MAX_DISPATCH_INPUTS = 25


class WorkflowsAPI(GitHubTransport):
    """workflow_dispatch and workflow runs."""

    def dispatch_workflow(
        self, workflow: str | int, *, ref: str, inputs: Mapping[str, str] | None = None
    ) -> DispatchedRun:
        """workflow_dispatch `workflow` (file name or id) on ref; the run it started, in one request: GitHub
        names the run in its answer (`return_run_details`) and takes the file name where the id goes."""
        inputs = dict(inputs or {})
        if len(inputs) > MAX_DISPATCH_INPUTS:
            raise InvalidInputError(
                [
                    Problem(
                        path="inputs",
                        message=f"{len(inputs)} inputs given; a workflow_dispatch takes at most {MAX_DISPATCH_INPUTS}",
                    )
                ]
            )
        url = f"{self._path}/actions/workflows/{quote(str(workflow), safe='')}"
        started = time.time()
        body = {"ref": ref, "inputs": inputs, "return_run_details": True}
        details = self._request(Op.DISPATCH_WORKFLOW, "POST", f"{url}/dispatches", body=body)
        if details and "workflow_run_id" in details:
            return DispatchedRun(int(details["workflow_run_id"]), str(details.get("html_url") or ""))
        # servers from before `return_run_details` answer 204: the newest dispatch run of this workflow on ref
        branch = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")

        def newest() -> DispatchedRun | None:
            runs = self._get(
                Op.READ_WORKFLOW_RUNS,
                f"{url}/runs",
                parameters={"event": "workflow_dispatch", "branch": branch, "per_page": 10},
            )["workflow_runs"]
            fresh = [r for r in runs if _epoch(r["created_at"]) >= started - 5]
            return DispatchedRun(int(fresh[0]["id"]), str(fresh[0]["html_url"])) if fresh else None

        return self._poll(f"the run of {workflow} dispatched on {ref} did not appear", 60.0, None, newest)

    def get_workflow_run(self, run_id: int) -> WorkflowRun:
        return run_from(self._get(Op.READ_WORKFLOW_RUNS, f"{self._path}/actions/runs/{run_id}"))

    def wait_for_workflow_run(
        self, run_id: int, *, timeout: float, poll_interval: float | None = None
    ) -> WorkflowRun:
        """The run once completed (whatever its conclusion)."""

        def probe() -> WorkflowRun | None:
            run = self.get_workflow_run(run_id)
            return run if run.completed else None

        return self._poll(f"workflow run {run_id} did not complete", timeout, poll_interval, probe)


def _epoch(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
