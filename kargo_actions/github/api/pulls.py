"""Pull requests, and the required checks (rulesets and branch protection) that decide when one merges."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from github.GithubObject import NotSet
from github.PullRequest import PullRequest as GhPullRequest

from kargo_actions.github.api.statuses import PASSING_CONCLUSIONS, StatusesAPI
from kargo_actions.github.errors import (
    GitHubError,
    GitHubNotFoundError,
    GitHubTimeoutError,
    MergeBlockedError,
    PullRequestClosedError,
    RefMovedError,
)
from kargo_actions.github.models import MergeMethod, MergeResult, PullRequest
from kargo_actions.github.permissions import Op
from kargo_actions.github.text import fit_body
from kargo_actions.github.wire import pull_from


class PullRequestsAPI(StatusesAPI):
    """Pull requests: open, find, wait for, update and merge them once the required checks pass."""

    def open_pull_request(
        self,
        *,
        title: str,
        head: str,
        base: str,
        body: str = "",
        labels: Sequence[str] = (),
        draft: bool = False,
    ) -> PullRequest:
        """Open head -> base, or update the open pull request that already exists for them (re-runs are safe)."""
        body = fit_body(body)
        existing = self._find_pull(head, base, "open", Op.OPEN_PULL_REQUEST)
        if existing is not None:
            pr = self._call(Op.OPEN_PULL_REQUEST, lambda: self._repo.get_pull(existing), idempotent=True)
            self._call(Op.OPEN_PULL_REQUEST, lambda: pr.edit(title=title, body=body), idempotent=True)
        else:
            pr = self._call(
                Op.OPEN_PULL_REQUEST,
                lambda: self._repo.create_pull(base=base, head=head, title=title, body=body, draft=draft),
            )
        if labels:
            # the object form: GitHub's API description does not admit PyGithub's bare list
            self._request(
                Op.LABEL_PULL_REQUEST,
                "POST",
                f"{self._path}/issues/{pr.number}/labels",
                body={"labels": list(labels)},
            )
        return self.get_pull_request(pr.number)

    def get_pull_request(self, number: int) -> PullRequest:
        return pull_from(self._get(Op.READ_PULL_REQUEST, f"{self._path}/pulls/{number}"))

    def _get_pull(self, number: int) -> GhPullRequest:
        return self._call(Op.READ_PULL_REQUEST, lambda: self._repo.get_pull(number), idempotent=True)

    def find_pull_request(self, *, head: str, base: str, state: str = "open") -> PullRequest | None:
        number = self._find_pull(head, base, state, Op.READ_PULL_REQUEST)
        return None if number is None else self.get_pull_request(number)

    def _find_pull(self, head: str, base: str, state: str, op: Op) -> int | None:
        owner = self.repository.split("/")[0]
        params = {"head": f"{owner}:{head}", "base": base, "state": state}
        items = self._paged(op, f"{self._path}/pulls", parameters=params)
        return int(items[0]["number"]) if items else None

    def close_pull_request(self, number: int) -> PullRequest:
        pr = self._get_pull(number)
        self._call(Op.OPEN_PULL_REQUEST, lambda: pr.edit(state="closed"), idempotent=True)
        return self.get_pull_request(number)

    def wait_for_pull_request(
        self, number: int, *, timeout: float, poll_interval: float | None = None
    ) -> PullRequest:
        """The pull request once merged; PullRequestClosedError when it is closed without merging."""

        def probe() -> PullRequest | None:
            pr = self.get_pull_request(number)
            if pr.merged:
                return pr
            if pr.closed_unmerged:
                raise PullRequestClosedError(
                    f"pull request #{number} ({pr.html_url}) was closed without being merged: the promotion it "
                    "carries is abandoned; reopen and merge it, or promote again"
                )
            return None

        return self._poll(f"pull request #{number} was not merged", timeout, poll_interval, probe)

    def update_pull_request_branch(self, number: int, *, expected_head_sha: str = "") -> None:
        """Merge the base branch into the pull request's branch (GitHub's "Update branch")."""
        body = {"expected_head_sha": expected_head_sha} if expected_head_sha else {}
        self._request(Op.OPEN_PULL_REQUEST, "PUT", f"{self._path}/pulls/{number}/update-branch", body=body)

    def required_checks(self, branch: str) -> tuple[str, ...]:
        """Status check contexts required on `branch`: by the active rulesets, then by branch protection."""
        rules = self._paged(Op.READ_RULESETS, f"{self._path}/rules/branches/{quote(branch, safe='')}")
        contexts: list[str] = []
        for rule in rules:
            if rule.get("type") != "required_status_checks":
                continue
            for check in (rule.get("parameters") or {}).get("required_status_checks") or []:
                if check["context"] not in contexts:
                    contexts.append(check["context"])
        # "Get a branch" shows its protection's required checks to any reader (the protection endpoint
        # itself needs administration, which GITHUB_TOKEN never has)
        try:
            data = self._request(Op.READ_CONTENTS, "GET", f"{self._path}/branches/{quote(branch, safe='')}")
        except GitHubNotFoundError:
            data = None  # no such branch (yet): only rulesets can require anything of it
        required = ((data.get("protection") or {}).get("required_status_checks") or {}) if data else {}
        if data and data.get("protected") and required.get("enforcement_level") != "off":
            named = [c["context"] for c in required.get("checks") or []] or required.get("contexts") or []
            contexts += [c for c in named if c not in contexts]
        return tuple(contexts)

    def check_states(self, sha: str, contexts: Sequence[str]) -> tuple[list[str], list[str]]:
        """(missing or pending, failing) among `contexts` on sha, each as `context` (state)."""
        pending: list[str] = []
        failing: list[str] = []
        for context, state in self.check_report(sha, contexts):
            if state in ("expected", "pending", "queued", "in_progress", "waiting", "requested"):
                pending.append(f"`{context}` ({state})")
            elif state not in PASSING_CONCLUSIONS:
                failing.append(f"`{context}` ({state})")
        return pending, failing

    def check_report(self, sha: str, contexts: Sequence[str]) -> list[tuple[str, str]]:
        """(context, state) per required check on sha: a commit status's state, else the newest check run's
        conclusion (or its status while it runs); `expected` when neither reported yet, as GitHub says."""
        combined = self.combined_status(sha)
        runs = self.check_runs(sha)
        report: list[tuple[str, str]] = []
        for context in contexts:
            status = combined.get(context)
            if status is not None:
                report.append((context, status.state))
                continue
            # a re-run adds a check run of the same name: the newest one counts
            named = sorted((r for r in runs if r.name == context), key=lambda r: r.id)
            if not named:
                report.append((context, "expected"))
            elif named[-1].status != "completed":
                report.append((context, named[-1].status or "pending"))
            else:
                report.append((context, named[-1].conclusion or "pending"))
        return report

    def merge_pull_request(
        self,
        number: int,
        *,
        method: MergeMethod = "merge",
        commit_title: str = "",
        commit_message: str = "",
        timeout: float = 600.0,
        poll_interval: float | None = None,
    ) -> MergeResult:
        """Merge once GitHub knows it is mergeable and every required check passed; refuse on conflicts or failures."""
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(deadline - time.monotonic(), 0.0)

        def mergeable() -> GhPullRequest | None:
            gh_pr = self._get_pull(number)
            pr = pull_from(gh_pr.raw_data)
            if pr.merged or pr.closed_unmerged or pr.mergeable is not None:
                return gh_pr
            return None

        gh_pr = self._poll(
            f"GitHub did not compute whether pull request #{number} is mergeable",
            left(),
            poll_interval,
            mergeable,
        )
        pr = pull_from(gh_pr.raw_data)
        if pr.merged:
            return MergeResult(number, pr.merge_commit_sha or "", method)
        if pr.closed_unmerged:
            raise PullRequestClosedError(
                f"pull request #{number} ({pr.html_url}) is closed without being merged: reopen it first"
            )
        if pr.mergeable is False:
            raise MergeBlockedError(
                f"pull request #{number} ({pr.html_url}) cannot be merged into {pr.base_ref}: it conflicts with "
                f"{pr.base_ref} ({pr.mergeable_state}); update the branch or resolve the conflicts"
            )
        if pr.mergeable_state == "behind":
            raise MergeBlockedError(
                f"pull request #{number} ({pr.html_url}) cannot be merged: its branch is not up to date with "
                f"{pr.base_ref}, which the rules require; update the branch (update_pull_request_branch) and let "
                "the checks run again"
            )
        required = self.required_checks(pr.base_ref)
        if required:
            gh_pr = self._wait_for_checks(gh_pr, required, deadline, timeout, poll_interval)
        head = pull_from(gh_pr.raw_data).head_sha

        def merge() -> Any:
            return gh_pr.merge(
                merge_method=method,
                sha=head,
                commit_title=commit_title or NotSet,
                commit_message=commit_message or NotSet,
            )

        try:
            result = self._call(Op.MERGE_PULL_REQUEST, merge)
        except GitHubError as err:
            if err.status == 405:
                raise MergeBlockedError(f"GitHub refused to merge pull request #{number}: {err}") from err
            if err.status == 409:
                raise RefMovedError(
                    f"pull request #{number}'s head moved while merging; retry: {err}"
                ) from err
            raise
        return MergeResult(number, str(result.sha), method)

    def _wait_for_checks(
        self,
        gh_pr: GhPullRequest,
        required: Sequence[str],
        deadline: float,
        timeout: float,
        poll_interval: float | None,
    ) -> GhPullRequest:
        """The pull request once every required check passes on its current head (which may move meanwhile)."""
        interval = self.options.poll_interval if poll_interval is None else poll_interval
        while True:
            pr = pull_from(gh_pr.raw_data)
            pending, failing = self.check_states(pr.head_sha, required)
            if failing:
                plural = "s" if len(failing) > 1 else ""
                raise MergeBlockedError(
                    f"pull request #{pr.number} ({pr.html_url}) cannot be merged: required check{plural} "
                    f"{', '.join(failing)} failed on {pr.head_sha[:12]}"
                )
            if not pending:
                return gh_pr
            if time.monotonic() + interval > deadline:
                plural = "s" if len(pending) > 1 else ""
                waited = f" after {timeout:g} s" if timeout > 0 else ""
                raise GitHubTimeoutError(
                    f"waiting for required check{plural} {', '.join(pending)} on pull request #{pr.number}{waited}"
                )
            self._sleep(interval)
            gh_pr = self._get_pull(pr.number)
