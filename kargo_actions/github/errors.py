"""Typed errors for GitHub API failures, each saying what could not be done and how to fix it."""

from __future__ import annotations

from kargo_actions.errors import FailedError, RefusedError, RetryableError


class GitHubError(FailedError):
    """GitHub refused or failed an operation; `status` is the HTTP status (0 when no answer came)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class GitHubPermissionError(GitHubError):
    """The token is missing, invalid or lacks the permission the operation needs."""


class GitHubNotFoundError(GitHubError):
    """The repository or object does not exist (or the token cannot see it)."""


class GitHubValidationError(GitHubError):
    """GitHub rejected the request's content (422)."""


class GitHubConflictError(GitHubError):
    """The request conflicts with the repository's state (409), e.g. a moved head."""


class RefMovedError(RetryableError):
    """A branch moved between reading and updating it: re-read and retry."""


class GitHubRateLimitError(RetryableError):
    """The rate limit is used up for longer than we are willing to wait."""


class GitHubUnavailableError(RetryableError):
    """GitHub did not answer or answered 5xx after the retries."""


class MergeBlockedError(RefusedError):
    """A pull request cannot be merged: conflicts, failing or missing required checks, or rules."""


class PullRequestClosedError(FailedError):
    """A pull request was closed without being merged."""


class GitHubTimeoutError(FailedError):
    """Waiting for a pull request, check or workflow run took longer than allowed."""
