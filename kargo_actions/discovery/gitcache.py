"""Running git against remotes: credentials, ls-remote, and one blobless bare mirror per repository URL."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from urllib.parse import urlsplit

from kargo_actions.cache_home import cache_or_scratch_dir
from kargo_actions.errors import FailedError, RetryableError
from kargo_actions.freight.identity import normalize_git_url
from kargo_actions.struct import struct

LS_REMOTE_TIMEOUT = 120.0
FETCH_TIMEOUT = 1800.0
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/@:\s]*):[^/@\s]*@", re.IGNORECASE)


class GitDiscoveryError(FailedError):
    """Discovery of one git subscription failed; the message names the subscription and the cause."""

    def __init__(self, subject: str, cause: str, hint: str = "") -> None:
        self.subject = subject
        self.cause = cause
        self.hint = hint
        super().__init__(f"{subject}: {cause}" + (f" ({hint})" if hint else ""))

    def for_subject(self, subject: str) -> GitDiscoveryError:
        """The same error, told about another subscription of the same repository."""
        return type(self)(subject, self.cause, self.hint)


class GitRepositoryNotFoundError(GitDiscoveryError):
    """The URL answers but is no git repository (or not one we may see)."""


class GitAuthenticationError(GitDiscoveryError):
    """The server refused the credentials, or asked for some and none were configured."""


class GitUnreachableError(GitDiscoveryError, RetryableError):
    """DNS, connection or TLS failure: the server could not be talked to."""


class GitBranchNotFoundError(GitDiscoveryError):
    """The subscribed branch does not exist in the repository."""


class GitNothingDiscoveredError(GitDiscoveryError):
    """The repository was read but no commit or tag passed the subscription's filters."""


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """Drop passwords from URLs and any known secret from a message before anyone prints it."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def url_key(url: str) -> str:
    """Cache key of a repository: sha256 of its normalized URL."""
    return hashlib.sha256(normalize_git_url(url).encode()).hexdigest()


@struct
class RemoteRefs:
    """What `git ls-remote` told: refs (name -> object id), peeled tags, and the default branch."""

    refs: Mapping[str, str]
    peeled: Mapping[str, str]
    head: str  # e.g. refs/heads/main; "" when the server did not say

    def commit_of(self, ref: str) -> str | None:
        return self.peeled.get(ref) or self.refs.get(ref)

    def branch_names(self) -> list[str]:
        return sorted(r.removeprefix("refs/heads/") for r in self.refs if r.startswith("refs/heads/"))

    def mirrored(self) -> dict[str, str]:
        """The refs a mirror keeps (branches and tags), as for-each-ref would list them."""
        return {r: sha for r, sha in self.refs.items() if r.startswith(("refs/heads/", "refs/tags/"))}


@struct
class GitAccess:
    """How to reach one server: credentials come from git's own config plus GITHUB_TOKEN for GitHub's host."""

    insecure_skip_tls_verify: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def _token_header(self, url: str) -> tuple[str, str] | None:
        token = self.env.get("GITHUB_TOKEN", "")
        if not token or not url.lower().startswith(("http://", "https://")):
            return None
        server = self.env.get("GITHUB_SERVER_URL", "") or "https://github.com"
        target, host = urlsplit(url), urlsplit(server)
        if (target.hostname, target.port, target.scheme) != (host.hostname, host.port, host.scheme):
            return None
        base = f"{host.scheme}://{host.netloc.rpartition('@')[2]}/"
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        return f"http.{base}.extraHeader", f"Authorization: Basic {basic}"

    def secrets(self) -> list[str]:
        token = self.env.get("GITHUB_TOKEN", "")
        return [token, base64.b64encode(f"x-access-token:{token}".encode()).decode()] if token else []

    def environment(self, url: str) -> dict[str, str]:
        """The environment for git: no prompts, C locale; the token rides in GIT_CONFIG_*, never in argv."""
        env = dict(self.env)
        env["GIT_TERMINAL_PROMPT"] = "0"
        env["LC_ALL"] = "C"
        env.pop("GIT_DIR", None)
        extra: list[tuple[str, str]] = []
        header = self._token_header(url)
        if header:
            extra.append(header)
        if self.insecure_skip_tls_verify:
            extra.append(("http.sslVerify", "false"))
        # GIT_CONFIG_COUNT keeps the header out of the process list (argv is world-readable, environ is not).
        count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        for key, value in extra:
            env[f"GIT_CONFIG_KEY_{count}"] = key
            env[f"GIT_CONFIG_VALUE_{count}"] = value
            count += 1
        env["GIT_CONFIG_COUNT"] = str(count)
        return env


def classify_failure(subject: str, url: str, stderr: str, secrets: Sequence[str]) -> GitDiscoveryError:
    """Turn git's complaint into a typed error with a hint."""
    text = redact(stderr.strip(), secrets)
    last = text.splitlines()[-1] if text else "git failed with no message"
    low = text.lower()
    shown = redact(url, secrets)
    if any(
        s in low
        for s in (
            "authentication failed",
            "could not read username",
            "could not read password",
            "requested url returned error: 401",
            "requested url returned error: 403",
            "http basic: access denied",
            "permission denied",
        )
    ):
        return GitAuthenticationError(
            subject,
            f"the server refused access to {shown}: {last}",
            "configure credentials in git (credential helper or http.extraHeader) "
            "or set GITHUB_TOKEN for the GitHub server's host",
        )
    if any(
        s in low
        for s in (
            "could not resolve host",
            "failed to connect",
            "connection refused",
            "connection timed out",
            "operation timed out",
            "ssl certificate",
            "ssl_connect",
            "gnutls",
            "unable to access",
            "empty reply from server",
            "couldn't connect",
        )
    ):
        hint = "check the URL and the network"
        if "certificate" in low or "ssl" in low or "tls" in low:
            hint = (
                "the server's TLS certificate was refused; insecureSkipTLSVerify skips the check (with care)"
            )
        return GitUnreachableError(subject, f"cannot reach {shown}: {last}", hint)
    if any(
        s in low
        for s in (
            "not found",
            "does not appear to be a git repository",
            "is this a git repository",
            "not a git repository",
            "not valid",
            "requested url returned error: 404",
        )
    ):
        return GitRepositoryNotFoundError(
            subject, f"{shown} is not a git repository: {last}", "check repoURL"
        )
    return GitDiscoveryError(subject, f"git failed for {shown}: {last}")


def run_git(
    args: Sequence[str],
    *,
    access: GitAccess,
    url: str,
    subject: str,
    cwd: Path | None = None,
    timeout: float = LS_REMOTE_TIMEOUT,
    input: str | None = None,
) -> str:
    """Run git; a failure becomes a typed, redacted GitDiscoveryError naming the subject.

    Under a discovery deadline (deadline.within) git and its transport helpers are killed at it.
    """
    # Imported here: deadline brings httpx (40-60 ms), which promotion's git steps (GitAccess) never use.
    from kargo_actions import deadline

    try:
        result = deadline.run_process(
            ["git", *args], cwd=cwd, env=access.environment(url), timeout=timeout, input=input
        )
    except subprocess.TimeoutExpired as err:
        raise GitUnreachableError(
            subject, f"git {args[0]} of {redact(url, access.secrets())} timed out after {timeout:.0f} s"
        ) from err
    if result.returncode != 0:
        raise classify_failure(subject, url, result.stderr, access.secrets())
    return result.stdout


def ls_remote(url: str, *, access: GitAccess, subject: str) -> RemoteRefs:
    """One `git ls-remote` for branches, tags and the default branch."""
    out = run_git(
        ["ls-remote", "--symref", "--", url, "HEAD", "refs/heads/*", "refs/tags/*"],
        access=access,
        url=url,
        subject=subject,
    )
    refs: dict[str, str] = {}
    peeled: dict[str, str] = {}
    head = ""
    for line in out.splitlines():
        left, _, name = line.partition("\t")
        if left.startswith("ref: "):
            if name == "HEAD":
                head = left.removeprefix("ref: ")
            continue
        if name.endswith("^{}"):
            peeled[name.removesuffix("^{}")] = left
        elif name == "HEAD" or name.startswith(("refs/heads/", "refs/tags/")):
            refs[name] = left
    return RemoteRefs(refs=refs, peeled=peeled, head=head)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@struct(frozen=False)
class GitMirrors:
    """Blobless bare mirrors under <cache>/git/<sha256(url)>.git, synced at most once per run and URL."""

    root: Path = field(default_factory=lambda: cache_or_scratch_dir("git"))
    synced: dict[str, Path] = field(default_factory=dict)
    fetches: int = 0  # clones + fetches that touched the network, for tests and benchmarks

    def path_for(self, url: str) -> Path:
        return self.root / f"{url_key(url)}.git"

    def local_refs(self, mirror: Path) -> dict[str, str]:
        out = subprocess.run(
            ["git", "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", "refs/tags"],
            cwd=mirror,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            return {}
        pairs = (line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
        return {ref: sha for sha, ref in pairs}

    def sync(self, url: str, remote: RemoteRefs, *, access: GitAccess, subject: str) -> Path:
        """Clone or fetch so the mirror holds exactly the remote's branches and tags; no-op when it does."""
        key = url_key(url)
        if key in self.synced:
            return self.synced[key]
        mirror = self.path_for(url)
        with _locked(mirror.with_suffix(".lock")):
            if (mirror / "HEAD").exists():
                if self.local_refs(mirror) != remote.mirrored():
                    self.fetches += 1
                    run_git(
                        [
                            "-C",
                            str(mirror),
                            "fetch",
                            "--prune",
                            "--force",
                            "--no-tags",
                            "--no-write-fetch-head",
                            "--quiet",
                            "origin",
                            "+refs/heads/*:refs/heads/*",
                            "+refs/tags/*:refs/tags/*",
                        ],
                        access=access,
                        url=url,
                        subject=subject,
                        timeout=FETCH_TIMEOUT,
                    )
            else:
                self._clone(url, mirror, access=access, subject=subject)
            if remote.head:
                subprocess.run(["git", "symbolic-ref", "HEAD", remote.head], cwd=mirror, check=False)
        self.synced[key] = mirror
        return mirror

    def _clone(self, url: str, mirror: Path, *, access: GitAccess, subject: str) -> None:
        mirror.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=mirror.parent))
        try:
            self.fetches += 1
            run_git(
                ["clone", "--bare", "--filter=blob:none", "--quiet", "--", url, str(tmp / "repo.git")],
                access=access,
                url=url,
                subject=subject,
                timeout=FETCH_TIMEOUT,
            )
            repo = tmp / "repo.git"
            for key, value in (
                ("remote.origin.fetch", "+refs/heads/*:refs/heads/*"),
                ("core.logAllRefUpdates", "false"),
            ):
                subprocess.run(["git", "config", key, value], cwd=repo, check=True)
            subprocess.run(
                ["git", "config", "--add", "remote.origin.fetch", "+refs/tags/*:refs/tags/*"],
                cwd=repo,
                check=True,
            )
            if mirror.exists():
                shutil.rmtree(mirror)
            repo.rename(mirror)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
