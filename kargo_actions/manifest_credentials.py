"""Credentials written into manifests: a warning at each one (FILE:LINE), and the secret kept out of output.

Kargo's schema accepts a repoURL such as `https://user:PASSWORD@host/repo.git`, so the loader does too, but
the manifest is committed to git and the password with it. Each one found is registered with
kargo_actions.redact (masked in Actions logs, redacted wherever text leaves the process) as it is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kargo_actions.errors import Problem
from kargo_actions.manifest_yaml import Loc, locate
from kargo_actions.redact import register_secret, url_password

MESSAGE = "this URL holds a credential (user:password@ or a token@): the manifest and its git history keep it"
HINT = (
    "remove it from the URL and rotate it; give git the credential in the workflow instead: "
    "GITHUB_TOKEN for the GitHub server, else a credential helper or http.extraHeader set from a secret"
)


def credential_warnings(file: str, node: Any) -> list[Problem]:
    """One warning per string of the document that holds a URL with a password; each password registered."""
    warnings: list[Problem] = []
    for loc, secret in _credentials(node, ()):
        register_secret(secret)
        line, col, path = locate(node, loc, value=True)
        warnings.append(Problem(file=file, line=line, col=col, path=path, message=MESSAGE, hint=HINT))
    return warnings


def _credentials(node: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    # The loader bounds nesting (100 levels) before this runs, so the recursion is bounded too.
    if isinstance(node, str):
        if "@" in node and (secret := url_password(node)):
            yield loc, secret
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _credentials(value, (*loc, key if isinstance(key, (str, int)) else str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _credentials(value, (*loc, i))
