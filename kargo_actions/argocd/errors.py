"""Argo CD's failures as typed errors: refusals and missing apps are final, an unavailable server may be retried."""

from __future__ import annotations

from kargo_actions.errors import FailedError, InvalidInputError, RetryableError


class ArgoCDError(FailedError):
    """Argo CD refused or failed a request in a way no retry cures."""


class ArgoCDConfigError(InvalidInputError):
    """ARGOCD_SERVER / ARGOCD_AUTH_TOKEN (or the options next to them) are missing or unusable."""


class ArgoCDAuthError(ArgoCDError):
    """401: the token is missing, expired or revoked; 403: its account lacks a permission."""


class ArgoCDNotFoundError(ArgoCDError):
    """404: no such Application (in that namespace)."""


class ArgoCDUnavailableError(RetryableError):
    """The server did not answer, timed out, or answered 5xx/429 after every retry: worth trying again later."""


class ArgoCDBusyError(ArgoCDUnavailableError):
    """A sync refused because another operation runs on the app: possible again once it ends."""
