"""The GitHub repository a step's repoURL names: https://HOST/OWNER/REPO[.git] -> OWNER/REPO."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_SCP = re.compile(r"^[\w.-]+@[\w.-]+:(?P<path>.+)$")


def repository_from_url(repo_url: str) -> str:
    """OWNER/REPO of a GitHub (or GHES) repository URL; ValueError naming the expected shape otherwise.

    The host is not checked: the API to call comes from GITHUB_API_URL, so GHES and test servers work.
    """
    text = repo_url.strip()
    scp = _SCP.match(text)
    if scp and "://" not in text:
        path = scp["path"]
    else:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https", "ssh", "git") or not parts.hostname:
            raise ValueError(f"{repo_url!r} is not a repository URL; expected https://HOST/OWNER/REPO[.git]")
        path = parts.path
    segments = [s for s in path.strip("/").removesuffix(".git").split("/") if s]
    if len(segments) < 2:
        raise ValueError(f"{repo_url!r} names no OWNER/REPO; expected https://HOST/OWNER/REPO[.git]")
    owner, name = segments[-2], segments[-1]
    return f"{owner}/{name}"


def web_base(repo_url: str) -> str:
    """The repository's browser URL (https://HOST/OWNER/REPO), for links in pull request bodies."""
    text = repo_url.strip()
    scp = _SCP.match(text)
    if scp and "://" not in text:
        host = text.split("@", 1)[1].split(":", 1)[0]
        return f"https://{host}/{repository_from_url(text)}"
    parts = urlsplit(text)
    scheme = parts.scheme if parts.scheme in ("http", "https") else "https"
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return f"{scheme}://{netloc}{parts.path.rstrip('/').removesuffix('.git')}"
