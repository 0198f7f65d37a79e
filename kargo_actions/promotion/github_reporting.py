"""What `kargo-actions promote` reports to GitHub: a Deployment per promotion, `kargo/verified/<stage>` on the
Freight's commit once verified, `kargo/gate` on the pull requests its steps open.

Chosen by kargo_actions.promotion.reporters (GITHUB_REPOSITORY and a token set, or `--github`). Every call
is best effort: the promotion's ledger records and exit code never depend on GitHub answering. A failed
report is a warning (`::warning::` on Actions); a missing token permission is an error message naming the
permission, printed once per command, after which reports needing it are no longer tried.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from functools import partial
from typing import TypeVar

from kargo_actions.actions_run import run_url
from kargo_actions.github.client import ClientOptions, GitHubClient
from kargo_actions.github.deployment_links import DeploymentLinks, environment_url
from kargo_actions.github.deployments import (
    StartedDeployment,
    finish_deployment,
    post_status,
    start_deployment,
)
from kargo_actions.github.errors import GitHubPermissionError
from kargo_actions.github.repourl import repository_from_url
from kargo_actions.github.statuses import gate_pull_request, mark_verified
from kargo_actions.ledger import Ledger
from kargo_actions.model.freight import Freight
from kargo_actions.model.stage import Stage
from kargo_actions.promotion.options import StepObserver
from kargo_actions.promotion.reporting import PromotionReport, Reporter
from kargo_actions.promotion.result import PromotionPhase, PromotionResult, StepRun
from kargo_actions.promotion.step_api import StepStatus

T = TypeVar("T")

# Few retries and a short timeout: a report must not hold a promotion up for minutes when GitHub is down.
# A promotion makes 4 writes, far from the "large number" GitHub's one-second pacing is for; a secondary
# rate limit, should one come, is still waited out (retry-after). Tests use an unpaced one for their server.
CLIENT_OPTIONS = ClientOptions(retries=2, timeout=10, seconds_between_requests=0, seconds_between_writes=0.25)

# What each kind of report needs, for "... no longer tried" after a permission error.
_KINDS = {
    "client": "any report to GitHub",
    "deployments": "Deployments",
    "statuses": "kargo/verified statuses",
    "gate": "kargo/gate statuses",
}


def run_log_url(env: Mapping[str, str]) -> str:
    """The Actions run's page, or "" outside Actions (kargo_actions.actions_run.run_url)."""
    return run_url(env)


def _same_repository(repo_url: str, repository: str) -> bool:
    try:
        return repository_from_url(repo_url).lower() == repository.lower()
    except ValueError:
        return False


def verified_commits(freight: Freight, repository: str, tag_commit: str = "") -> list[str]:
    """Where `kargo/verified/<stage>` goes: the Freight's commits of `repository`; for a Freight without one,
    the commit its tag points at (`tag_commit`, as GitHub resolved the Deployment's ref)."""
    ours = list(
        dict.fromkeys(c.id for c in freight.commits if c.id and _same_repository(c.repo_url, repository))
    )
    if ours:
        return ours
    return [tag_commit] if tag_commit else []


def _escape(text: str) -> str:
    """Workflow-command data escaping (%, CR, LF), so a message cannot end or inject a command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


class GitHubReporter(Reporter):
    """Reports every promotion of one command to GITHUB_REPOSITORY with one client."""

    name = "github"

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        options: ClientOptions | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.env = dict(env)
        self.repository = self.env.get("GITHUB_REPOSITORY", "")
        self.log_url = run_log_url(self.env)
        self.actions = self.env.get("GITHUB_ACTIONS") == "true"
        # the generated promote job's own deployment is the promotion's (Settings `deployments: job`): GitHub
        # Actions makes it and its statuses, free of the token's rate limit, so none is made here. act (ACT=true)
        # makes no job deployments: there the promotion makes its own, as with `deployments: promotion`.
        self.job_deployment = (
            self.env.get("KARGO_ACTIONS_DEPLOYMENTS") == "job" and self.env.get("ACT") != "true"
        )
        self._options = options
        self._echo = echo
        self._client: GitHubClient | None = None
        self.denied: dict[str, str] = {}  # kind -> the permission error printed for it
        self.warnings: list[str] = []

    @property
    def options(self) -> ClientOptions:
        return self._options or CLIENT_OPTIONS

    def client(self) -> GitHubClient:
        if self._client is None:
            self._client = GitHubClient.from_env(self.repository, env=self.env, options=self.options)
        return self._client

    def _print(self, level: str, message: str) -> None:
        line = (
            f"::{level} title=kargo-actions GitHub report::{_escape(message)}"
            if self.actions
            else f"{level}: {message}"
        )
        if self._echo is not None:
            self._echo(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def attempt(self, kind: str, what: str, call: Callable[[], T]) -> T | None:
        """call(), or None after printing why it failed; never raises (the promotion goes on)."""
        if kind in self.denied or "client" in self.denied:
            return None
        try:
            if kind != "gate":  # the gate's client is for the pull request's own repository
                try:
                    self.client()
                except Exception:
                    kind = "client"
                    raise
            return call()
        except GitHubPermissionError as err:
            self.denied[kind] = str(err)
            self._print(
                "error",
                f"GitHub: {err}. The promotion goes on without {_KINDS[kind]} (not tried again in this run).",
            )
        except Exception as err:
            text = str(err) or type(err).__name__
            if kind == "client":  # bad credentials settings: every later report would fail the same way
                self.denied[kind] = text
            message = (
                f"GitHub: could not {what}: {text}. The promotion's own result is recorded in the ledger."
            )
            self.warnings.append(message)
            self._print("warning", message)
        return None

    def begin(
        self, stage: Stage, freight: Freight, promotion: str, ledger: Ledger, deployment_id: int | None = None
    ) -> PromotionReport:
        return GitHubPromotionReport(self, stage, freight, promotion, ledger, deployment_id)


class GitHubPromotionReport(PromotionReport):
    """One promotion's Deployment (created at once), its gate statuses and its end."""

    def __init__(
        self,
        reporter: GitHubReporter,
        stage: Stage,
        freight: Freight,
        promotion: str,
        ledger: Ledger,
        deployment_id: int | None = None,
    ) -> None:
        self.reporter = reporter
        self.stage = stage
        self.freight = freight
        self.promotion = promotion
        self.ledger = ledger
        self.tag_ref = tag_ref = ledger.config.tag_ref(freight.origin.name, freight.name)
        self.started: StartedDeployment | None = None
        self.deployment_id = deployment_id  # a resumed promotion reports to the Deployment it began with
        self.links = links = DeploymentLinks(log_url=reporter.log_url, environment_url=environment_url(stage))
        if deployment_id is None and not reporter.job_deployment:
            self.started = reporter.attempt(
                "deployments",
                f"create the Deployment of {promotion} in {reporter.repository}",
                lambda: start_deployment(
                    reporter.client(), stage.name, freight, tag_ref, links, promotion=promotion
                ),
            )
            self.deployment_id = self.started.id if self.started is not None else None

    def suspend(self, result: PromotionResult) -> None:
        """The Deployment stays in_progress, saying what the promotion waits for (and the run that left it)."""
        deployment_id = self.deployment_id
        waiting = result.waiting_step
        if deployment_id is None or waiting is None:
            return
        reporter = self.reporter
        what = waiting.waiting.description if waiting.waiting is not None else waiting.message
        reporter.attempt(
            "deployments",
            f"mark the Deployment of {self.promotion} waiting",
            lambda: post_status(
                reporter.client(), deployment_id, "in_progress", f"Waiting for {what}"[:140], self.links
            ),
        )

    def observe(self, inner: StepObserver | None) -> StepObserver:
        def on_step(run: StepRun) -> None:
            if inner is not None:
                inner(run)
            if run.uses == "git-open-pr" and run.status is StepStatus.SUCCEEDED:
                self._gate(run)

        return on_step

    def _gate(self, run: StepRun) -> None:
        """`kargo/gate` success on the pull request git-open-pr opened: the Freight passed the Stage's gate
        when the promotion started (the Running record), so a ruleset requiring it lets the merge through."""
        pr = run.outputs.get("pr")
        url = pr.get("url") if isinstance(pr, Mapping) else None
        if not isinstance(url, str) or not url:
            return
        reporter = self.reporter
        reporter.attempt(
            "gate",
            f"post kargo/gate on {url}",
            lambda: gate_pull_request(
                url,
                self.stage.name,
                self.freight,
                available=True,
                target_url=reporter.log_url,
                env=reporter.env,
                options=reporter.options,
            ),
        )

    def finish(self, result: PromotionResult, *, verified: bool, error: str = "") -> None:
        reporter = self.reporter
        target: StartedDeployment | int | None = self.started or self.deployment_id
        if target is not None:
            phase = PromotionPhase.ERRORED.value if error else str(result.phase)
            message = error or result.message or f"Promotion {self.promotion} {phase.lower()}"
            reporter.attempt(
                "deployments",
                f"finish the Deployment of {self.promotion}",
                lambda: finish_deployment(
                    reporter.client(),
                    target,
                    phase,
                    message=message,
                    log_url=self.links.log_url,
                    environment_url=self.links.environment_url,
                ),
            )
        if not verified or error:
            return
        for sha in verified_commits(self.freight, reporter.repository, self._tag_commit()):
            reporter.attempt(
                "statuses",
                f"post kargo/verified/{self.stage.name} on {sha[:12]}",
                partial(self._verified, sha),
            )

    def _tag_commit(self) -> str:
        """The commit the Freight's tag points at: as GitHub resolved it for the Deployment, else as the
        ledger's clone has it (when the Deployment could not be made)."""
        if self.started is not None:
            return self.started.deployment.sha
        proc = self.ledger.git.run("rev-parse", "--verify", "-q", f"{self.tag_ref}^{{commit}}", check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else ""

    def _verified(self, sha: str) -> object:
        reporter = self.reporter
        return mark_verified(
            reporter.client(), self.stage.name, sha, freight=self.freight, target_url=reporter.log_url
        )
