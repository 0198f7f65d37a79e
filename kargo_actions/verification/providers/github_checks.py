"""`plugin: {kargo-actions/github-checks: {...}}`: wait for the GitHub checks of the Freight's commit.

An Argo Rollouts plugin-provider name of this project's own. One measurement polls the commit's check runs
and commit statuses (kargo_actions.github client) until every selected one has completed, or `timeout`
passes. Config (all optional): `repository` (OWNER/NAME, default GITHUB_REPOSITORY), `ref` (default: the
Freight's commit of that repository), `checks` (names of check runs or status contexts to wait for; default
every one present, except this project's own `kargo/` statuses), `timeout` (Go duration, default 10m),
`pollInterval` (default 10s). The result is `{state, checks, failed, pending}` with state `success`,
`failure` or `pending` (timed out); with no conditions set, `result.state == "success"` succeeds and
`result.state == "failure"` fails (pending is then Inconclusive).
"""

from __future__ import annotations

import time
from typing import Any

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.model.analysis import Metric
from kargo_actions.model.fields import parse_go_duration
from kargo_actions.verification.phases import MeasurementError
from kargo_actions.verification.providers.base import MeasureContext, Reading, go_text
from kargo_actions.verification.templates import GITHUB_CHECKS_PLUGIN

_KEYS = {"repository", "ref", "checks", "timeout", "pollInterval"}


class GitHubChecksProvider:
    def __init__(self, metric: Metric, ctx: MeasureContext) -> None:
        plugin = metric.provider.plugin or {}
        config: Any = plugin.get(GITHUB_CHECKS_PLUGIN) or {}
        where = f"metric {metric.name}: provider.plugin.{GITHUB_CHECKS_PLUGIN}"
        problems: list[Problem] = []
        if not isinstance(config, dict):
            raise InvalidInputError([Problem(path=where, message="the plugin's config must be a map")])
        unknown = sorted(set(config) - _KEYS)
        if unknown:
            problems.append(
                Problem(
                    path=where,
                    message=f"unknown keys {', '.join(unknown)}",
                    hint=f"known: {', '.join(sorted(_KEYS))}",
                )
            )
        self.ctx = ctx
        self.repository = str(config.get("repository") or ctx.env.get("GITHUB_REPOSITORY", ""))
        if not self.repository:
            problems.append(
                Problem(path=f"{where}.repository", message="no repository: set it or GITHUB_REPOSITORY")
            )
        checks = config.get("checks") or []
        if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
            problems.append(Problem(path=f"{where}.checks", message="checks must be a list of names"))
            checks = []
        self.checks: tuple[str, ...] = tuple(checks)
        try:
            self.timeout = parse_go_duration(str(config.get("timeout") or "10m")).total_seconds()
            self.poll = parse_go_duration(str(config.get("pollInterval") or "10s")).total_seconds()
        except ValueError as err:
            problems.append(Problem(path=where, message=str(err)))
            self.timeout, self.poll = 600.0, 10.0
        self.ref = str(config.get("ref") or "") or self._freight_commit()
        if not self.ref and self.repository:
            problems.append(
                Problem(
                    path=f"{where}.ref",
                    message=f"the Freight has no commit of {self.repository} to check",
                    hint="set ref (a commit SHA, e.g. from {{args.commit}})",
                )
            )
        if problems:
            raise InvalidInputError(problems)
        self._client: Any = None

    def _freight_commit(self) -> str:
        from kargo_actions.github.repourl import repository_from_url

        freight = self.ctx.freight
        if freight is None:
            return ""
        for commit in freight.commits:
            try:
                if commit.id and repository_from_url(commit.repo_url).lower() == self.repository.lower():
                    return commit.id
            except ValueError:
                continue
        return ""

    def _states(self) -> dict[str, str]:
        """Each check's state: success, failure or pending (the newest check run of a name counts)."""
        from kargo_actions.github.client import (
            FAILING_STATES,
            PASSING_CONCLUSIONS,
            ClientOptions,
            GitHubClient,
        )

        if self._client is None:
            self._client = GitHubClient.from_env(
                self.repository, env=self.ctx.env, options=ClientOptions(retries=2, timeout=10)
            )
        states: dict[str, str] = {}
        for status in self._client.combined_status(self.ref).statuses:
            if status.context.startswith("kargo/"):
                continue
            states[status.context] = (
                "success"
                if status.state == "success"
                else "failure"
                if status.state in FAILING_STATES
                else "pending"
            )
        for run in sorted(self._client.check_runs(self.ref), key=lambda r: r.id):
            if run.status != "completed":
                states[run.name] = "pending"
            else:
                states[run.name] = "success" if run.conclusion in PASSING_CONCLUSIONS else "failure"
        if self.checks:
            return {name: states.get(name, "pending") for name in self.checks}
        return states

    def measure(self) -> Reading:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                states = self._states()
            except Exception as err:  # any GitHub failure is this measurement's Error, with its message
                raise MeasurementError(
                    f"reading the checks of {self.ref[:12]} in {self.repository}: {err}"
                ) from err
            pending = sorted(n for n, s in states.items() if s == "pending")
            failed = sorted(n for n, s in states.items() if s == "failure")
            if failed or not pending or time.monotonic() >= deadline or self.ctx.abort.is_set():
                break
            wait = min(self.poll, max(0.0, deadline - time.monotonic()))
            if self.ctx.sleep is not None:
                self.ctx.sleep(wait)
            else:
                self.ctx.abort.wait(wait)
        state = "failure" if failed else "pending" if pending else "success"
        result = {"state": state, "checks": states, "failed": failed, "pending": pending}
        return Reading(
            result=result,
            value=go_text(result),
            default_success='result.state == "success"',
            default_failure='result.state == "failure"',
        )

    def close(self) -> None:
        self._client = None
