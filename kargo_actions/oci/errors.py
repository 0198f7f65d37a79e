"""What can go wrong at a registry: one error type per cause, each naming the repository, the cause and a hint."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kargo_actions.errors import FailedError, RetryableError

if TYPE_CHECKING:  # a type only: `freight assemble` reads image references without loading httpx or ssl
    import httpx


class RegistryError(FailedError):
    """One repository of a registry could not be read or written as asked: `image REPOURL: cause (hint)`."""

    def __init__(self, repo_url: str, cause: str, hint: str = "") -> None:
        self.repo_url = repo_url
        self.cause = cause
        self.hint = hint
        super().__init__(f"image {repo_url}: {cause}" + (f" ({hint})" if hint else ""))


def timed_out_cause(what: str, err: Exception) -> str:
    """`registry timed out`, with httpx's detail only when it adds one (its usual text is `timed out`)."""
    detail = str(err).strip()
    return f"{what} timed out" + (f": {detail}" if detail and "timed out" not in detail else "")


class RegistryUnreachableError(RegistryError, RetryableError):
    """The registry did not answer: connection refused, reset or timed out. A later run may succeed."""


class DnsError(RegistryUnreachableError):
    """The registry's host name does not resolve."""


class TlsError(RegistryError):
    """The TLS handshake failed: bad certificate, or HTTPS spoken to a plain-HTTP server."""


class AuthenticationError(RegistryError):
    """401: credentials missing or rejected."""


class ForbiddenError(RegistryError):
    """403: the credentials are valid but may not read this repository."""


class RepositoryNotFoundError(RegistryError):
    """404 on the repository."""


class ManifestNotFoundError(RegistryError):
    """404 on one tag or digest of an existing repository."""


class MalformedResponseError(RegistryError):
    """The registry answered something that is not the distribution API's JSON."""


class RateLimitedError(RegistryError, RetryableError):
    """429 after every retry, or Docker Hub's pull quota used up."""


class RegistryServerError(RegistryError, RetryableError):
    """5xx after every retry, or another unexpected status."""


def classify_connect_error(err: Exception) -> tuple[type[RegistryError], str]:
    """The error type and cause of a failed connection: DNS, TLS, or the registry not answering."""
    import socket
    import ssl

    chain: list[BaseException] = []
    cur: BaseException | None = err
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = " | ".join(str(e) for e in chain)
    if any(isinstance(e, socket.gaierror) for e in chain) or re.search(
        r"Name or service not known|nodename nor servname|Temporary failure in name resolution|"
        r"No address associated|getaddrinfo failed",
        text,
    ):
        return DnsError, f"DNS lookup failed: {chain[-1]}"
    if any(isinstance(e, ssl.SSLError) for e in chain) or "SSL" in text or "CERTIFICATE" in text:
        return TlsError, f"TLS handshake failed: {chain[-1]}"
    return RegistryUnreachableError, f"registry unreachable: {chain[-1] or type(chain[-1]).__name__}"


def error_codes(resp: httpx.Response) -> str:
    """The `errors[].code` values of a distribution API error body (`NAME_UNKNOWN, ...`), or nothing."""
    try:
        data = resp.json()
        return ", ".join(str(e.get("code", "")) for e in data.get("errors", []) if isinstance(e, dict))
    except (ValueError, AttributeError):
        return ""
