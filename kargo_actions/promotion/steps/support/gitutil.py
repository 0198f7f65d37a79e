"""Git behaviour shared by the git steps: credentials, identity, signing, and running git in a work tree."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import StrictStr, field_validator

from kargo_actions.discovery.gitcache import GitAccess, redact
from kargo_actions.freight.identity import normalize_git_url
from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepAborted,
    StepConfig,
    StepContext,
    StepError,
    TerminalStepError,
)
from kargo_actions.promotion.steps.support.process import run_command
from kargo_actions.redact import register_secret, url_password
from kargo_actions.struct import struct

Completed = subprocess.CompletedProcess[str]

# Bare clones live here, inside the work dir, so everything a promotion made goes away with it.
REPOS_DIR = ".kargo-repos"
DEFAULT_AUTHOR_NAME = "Kargo Actions"
DEFAULT_AUTHOR_EMAIL = "kargo-actions@users.noreply.github.com"
_SSH_URL = re.compile(r"^(ssh://|[\w.-]+@[\w.-]+:)")


class GitAuthor(StepConfig):
    """Who commits: name, email and an optional signing key (shared by git-clone and git-commit)."""

    name: NonEmpty
    """The author's name."""
    email: StrictStr
    """The author's email address."""
    signing_key: StrictStr = ""
    """A GPG key (id or armored key) to sign commits with; empty: unsigned."""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError(f"{value!r} is not an email address")
        return value


@struct
class Identity:
    """Who commits: a name, an email and optionally a signing key (GPG key id, or an SSH key)."""

    name: str
    email: str
    signing_key: str = ""


def access(ctx: StepContext, *, insecure_skip_tls_verify: bool = False) -> GitAccess:
    """Credentials for git: its own config, plus GITHUB_TOKEN as an extra header for the GitHub server."""
    return GitAccess(insecure_skip_tls_verify=insecure_skip_tls_verify, env=ctx.env)


def git(
    ctx: StepContext,
    cwd: Path,
    *args: str,
    url: str = "",
    check: bool = True,
    what: str = "",
    extra_env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> Completed:
    """Run git in `cwd`; the token travels in GIT_CONFIG_* for `url`'s host, never in argv, URLs or messages."""
    gitaccess = access(ctx)
    env = gitaccess.environment(url) if url else {**ctx.env, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    if extra_env:
        env.update(extra_env)
    try:
        result = run_command(ctx, ["git", *args], cwd=cwd, env=env, input=stdin, check=False, what=what)
    except (StepError, TerminalStepError, StepAborted) as err:
        raise type(err)(redact(str(err), gitaccess.secrets())) from None
    if check and result.returncode != 0:
        raise StepError(f"{what or 'git ' + args[0]}: {failure_text(ctx, result)}")
    return result


def failure_text(ctx: StepContext, result: Completed) -> str:
    """git's complaint without hints and progress lines, secrets removed."""
    lines = [
        line.strip()
        for line in (result.stderr or result.stdout).splitlines()
        if line.strip() and not line.startswith("hint:")
    ]
    text = "; ".join(lines) or f"git exited with status {result.returncode}"
    return redact(text, access(ctx).secrets())


def repo_dir(ctx: StepContext, url: str) -> Path:
    """Where the one bare clone of `url` lives for this promotion."""
    key = hashlib.sha256(normalize_git_url(url).encode()).hexdigest()[:16]
    return ctx.work_dir / REPOS_DIR / key


def is_ssh_url(url: str) -> bool:
    return bool(_SSH_URL.match(url))


def worktree(ctx: StepContext, relative: str, *, field_name: str = "path") -> Path:
    """A step's `path` that must be a git work tree made by git-clone (its `.git` is there)."""
    path = ctx.path(relative, field_name=field_name)
    if not (path / ".git").exists():
        raise TerminalStepError(
            f"{field_name}: {relative!r} is not a git working tree (clone it first with a git-clone step)"
        )
    return path


# Reading HEAD, refs and the remote URL from the repository's files (their formats are documented in
# gitrepository-layout) saves a git process per question; anything unusual falls back to asking git.
_OBJECT_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_REMOTE_ORIGIN = re.compile(r'^\s*\[remote "origin"\]\s*$')
_SECTION = re.compile(r"^\s*\[")
_URL = re.compile(r"^\s*url\s*=\s*(.+?)\s*$")


class _Unreadable(Exception):
    """The repository's files are not in the plain layout; ask git instead."""


def _git_dirs(tree: Path) -> tuple[Path, Path]:
    """(the work tree's own git dir, the common dir shared by every work tree of the clone)."""
    dotgit = tree / ".git"
    try:
        if dotgit.is_dir():
            gitdir = dotgit
        else:
            text = dotgit.read_text().strip()
            if not text.startswith("gitdir:"):
                raise _Unreadable
            gitdir = Path(text.removeprefix("gitdir:").strip())
            gitdir = gitdir if gitdir.is_absolute() else (tree / gitdir).resolve()
        commondir = gitdir / "commondir"
        common = gitdir
        if commondir.is_file():
            target = Path(commondir.read_text().strip())
            common = target if target.is_absolute() else (gitdir / target).resolve()
    except OSError as err:
        raise _Unreadable from err
    if (common / "reftable").exists():
        raise _Unreadable
    return gitdir, common


def read_refs(common: Path) -> dict[str, str]:
    """Every ref of a repository (packed and loose) with its object id; packed tags peeled to commits."""
    refs: dict[str, str] = {}
    packed = common / "packed-refs"
    if packed.is_file():
        last = ""
        for line in packed.read_text().splitlines():
            if line.startswith("^") and last:
                refs[last] = line[1:].strip()
            elif line and not line.startswith("#"):
                object_id, _, last = line.partition(" ")
                refs[last] = object_id
    for path in (common / "refs").rglob("*"):
        if path.is_file():
            value = path.read_text().strip()
            if _OBJECT_ID.fullmatch(value):
                refs[path.relative_to(common).as_posix()] = value
    return refs


def _read_head(tree: Path) -> tuple[str, str]:
    """(the ref HEAD names or "", the commit it points at or "")."""
    gitdir, common = _git_dirs(tree)
    try:
        head = (gitdir / "HEAD").read_text().strip()
    except OSError as err:
        raise _Unreadable from err
    if head.startswith("ref:"):
        ref = head.removeprefix("ref:").strip()
        loose = common / ref
        try:
            value = loose.read_text().strip() if loose.is_file() else read_refs(common).get(ref, "")
        except OSError as err:
            raise _Unreadable from err
        return ref, value
    if _OBJECT_ID.fullmatch(head):
        return "", head
    raise _Unreadable


def remote_url(ctx: StepContext, tree: Path) -> str:
    """origin's URL; a password in it is registered as a secret (masked, redacted from what is printed)."""
    url = _origin_url(ctx, tree)
    register_secret(url_password(url))
    return url


def _origin_url(ctx: StepContext, tree: Path) -> str:
    try:
        _, common = _git_dirs(tree)
        in_origin = False
        for line in (common / "config").read_text().splitlines():
            if _SECTION.match(line):
                in_origin = bool(_REMOTE_ORIGIN.match(line))
            elif in_origin and (match := _URL.match(line)):
                return match[1].strip('"')
    except (_Unreadable, OSError):
        pass
    return git(ctx, tree, "remote", "get-url", "origin", what="reading the remote URL").stdout.strip()


def head_commit(ctx: StepContext, tree: Path) -> str:
    """The commit HEAD points at, or "" on a branch that has no commit yet."""
    try:
        return _read_head(tree)[1]
    except _Unreadable:
        result = git(ctx, tree, "rev-parse", "--verify", "-q", "HEAD", check=False)
        return result.stdout.strip() if result.returncode == 0 else ""


def current_branch(ctx: StepContext, tree: Path) -> str:
    """The checked-out branch, or "" when HEAD is detached."""
    try:
        return _read_head(tree)[0].removeprefix("refs/heads/")
    except _Unreadable:
        result = git(ctx, tree, "symbolic-ref", "-q", "--short", "HEAD", check=False)
        return result.stdout.strip() if result.returncode == 0 else ""


def configured_identity(ctx: StepContext, tree: Path) -> Identity | None:
    """user.name / user.email from git's config (the clone's, then the user's); git's own config signs."""
    result = git(ctx, tree, "config", "--get-regexp", r"^user\.(name|email)$", check=False)
    values: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition(" ")
        values[key.lower()] = value
    if values.get("user.name") and values.get("user.email"):
        return Identity(values["user.name"], values["user.email"])
    return None


def actor_identity(ctx: StepContext) -> Identity:
    """The GitHub actor as GitHub's own noreply address, else a fixed default."""
    actor = ctx.env.get("GITHUB_ACTOR", "") or ctx.actor
    if not actor:
        return Identity(DEFAULT_AUTHOR_NAME, DEFAULT_AUTHOR_EMAIL)
    actor_id = ctx.env.get("GITHUB_ACTOR_ID", "")
    local = f"{actor_id}+{actor}" if actor_id else actor
    return Identity(actor, f"{local}@users.noreply.github.com")


def identity_args(identity: Identity) -> list[str]:
    """`-c` options that make git commit as `identity` (and sign, when it has a key)."""
    args = ["-c", f"user.name={identity.name}", "-c", f"user.email={identity.email}"]
    args += signing_config_args(identity.signing_key)
    return args


def signing_settings(signing_key: str) -> list[tuple[str, str]]:
    """Sign with `signing_key`: an SSH public key or key file means gpg.format=ssh, anything else a GPG key id."""
    if not signing_key:
        return []
    settings = [("user.signingkey", signing_key), ("commit.gpgsign", "true"), ("tag.gpgsign", "true")]
    if (
        signing_key.startswith(("ssh-", "ecdsa-", "sk-"))
        or signing_key.endswith(".pub")
        or "/" in signing_key
    ):
        settings.append(("gpg.format", "ssh"))
    return settings


def signing_config_args(signing_key: str) -> list[str]:
    """The same settings as `-c` options for one git command."""
    return [arg for key, value in signing_settings(signing_key) for arg in ("-c", f"{key}={value}")]


def identity_env(identity: Identity) -> dict[str, str]:
    """Author and committer for one commit; environment beats any GIT_AUTHOR_* the runner carries."""
    return {
        "GIT_AUTHOR_NAME": identity.name,
        "GIT_AUTHOR_EMAIL": identity.email,
        "GIT_COMMITTER_NAME": identity.name,
        "GIT_COMMITTER_EMAIL": identity.email,
    }


_PROVIDER_HOSTS = {
    "github.com": "github",
    "gitlab.com": "gitlab",
    "bitbucket.org": "bitbucket",
    "dev.azure.com": "azure",
}


def commit_url(ctx: StepContext, url: str, commit: str, provider: str = "") -> str:
    """A browser URL of `commit` for known providers (GitHub, GitLab, Bitbucket, Gitea, Azure), else ""."""
    if is_ssh_url(url):
        host, _, path = url.removeprefix("ssh://").partition("@")[2].partition(":")
        host = host.split("/", 1)[0]
        path = path if path else url.split("/", 3)[-1]
        base = f"https://{host}/{path}"
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return ""
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        base = f"{parts.scheme}://{netloc}{parts.path}"
    base = base.rstrip("/").removesuffix(".git")
    if not provider:
        provider = _PROVIDER_HOSTS.get(host, "")
        server = urlsplit(ctx.env.get("GITHUB_SERVER_URL", ""))
        if not provider and server.hostname and server.hostname == host:
            provider = "github"
    if provider == "gitlab":
        return f"{base}/-/commit/{commit}"
    if provider == "bitbucket":
        return f"{base}/commits/{commit}"
    if provider in ("github", "gitea", "azure"):
        return f"{base}/commit/{commit}"
    return ""


def push_target(
    ctx: StepContext, config_path: str, branch: str, target_branch: str | None, generate: bool, force: bool
) -> tuple[str, bool]:
    """The branch a push goes to, and whether it is forced (git-push and github-push agree on this).

    generateTargetBranch names the branch after the promotion, which is unique, so the branch is ours alone
    and forcing it survives a re-run.
    """
    target = target_branch or branch
    if generate:
        target, force = f"kargo/promotion/{ctx.promotion or 'promotion'}", True
    if not target:
        raise TerminalStepError(
            f"path: {config_path!r} has no branch checked out (detached HEAD); set targetBranch or generateTargetBranch"
        )
    return target, force
