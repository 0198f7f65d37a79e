"""What the GitHub steps share: the client for a repoURL, GitHub errors as step errors, poll intervals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kargo_actions.errors import InvalidInputError, RetryableError
from kargo_actions.github.client import ClientOptions, GitHubClient
from kargo_actions.github.errors import (
    GitHubError,
    GitHubTimeoutError,
    MergeBlockedError,
    PullRequestClosedError,
)
from kargo_actions.github.repourl import repository_from_url
from kargo_actions.promotion.step_api import (
    StepContext,
    StepError,
    StepFailed,
    TerminalStepError,
)

# Pacing and polling of the steps' client; tests replace it with an unpaced one for their local server.
CLIENT_OPTIONS = ClientOptions()


def check_provider(provider: str | None) -> None:
    if provider not in (None, "github"):
        raise TerminalStepError(
            f"provider: {provider!r} is not supported: kargo-actions talks to GitHub (and GitHub Enterprise "
            "Server) only; leave provider out or set it to github"
        )


def client_for(ctx: StepContext, repo_url: str, *, field_name: str = "repoURL") -> GitHubClient:
    """The client for the repository repo_url names, at GITHUB_API_URL with the environment's credentials."""
    try:
        repository = repository_from_url(repo_url)
    except ValueError as err:
        raise TerminalStepError(f"{field_name}: {err}") from None
    with github_errors(f"connecting to GitHub for {repository}"):
        try:
            return GitHubClient.from_env(repository, env=ctx.env, options=CLIENT_OPTIONS)
        except InvalidInputError as err:
            raise TerminalStepError(f"GitHub credentials: {err}") from None


@contextmanager
def github_errors(doing: str) -> Iterator[None]:
    """GitHub's failures as the engine's statuses: retryable ones Errored (retried), refusals Failed."""
    try:
        yield
    except StepError:
        raise  # the step's own error (a RetryableError too): already what the engine expects
    except (PullRequestClosedError, MergeBlockedError) as err:
        raise StepFailed(f"{doing}: {err}") from None
    except GitHubTimeoutError as err:
        raise StepError(f"{doing}: {err}") from None
    except RetryableError as err:  # a moved branch, a used-up quota, GitHub down
        raise StepError(f"{doing}: {err}") from None
    except GitHubError as err:  # permissions, not found, validation: no retry cures them
        raise TerminalStepError(f"{doing}: {err}") from None


def poll_seconds(value: str | None, default: float, *, field_name: str = "pollInterval") -> float:
    """A Go duration ("30s", "1m30s") in seconds; `default` when left out."""
    if not value:
        return default
    from kargo_actions.expressions.builtins import parse_duration
    from kargo_actions.expressions.errors import EvalFailure

    try:
        seconds = parse_duration(value).total_seconds()
    except EvalFailure as err:
        raise TerminalStepError(f"{field_name}: {err}") from None
    if seconds <= 0:
        raise TerminalStepError(f"{field_name}: {value!r} must be a positive duration")
    return seconds
