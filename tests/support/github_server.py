"""A GitHub REST test server backed by real bare git repositories.

Pulls really merge in the bare repository (git merge-tree + commit-tree), the git database API writes real
objects and refs, rulesets are enforced on merges, ref updates and pushes over smart HTTP, and tokens carry
GitHub's permissions so an under-scoped token gets GitHub's 401/403/404 answers. Every exchange is recorded
and handed to `on_exchange` (the test fixture validates it against GitHub's OpenAPI description).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import itertools
import json
import re
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from tests.support import github_git as g
from tests.support import github_objects as o
from tests.support.git_http_server import GitHttpServer, serve_git

JSON = dict[str, Any]
LEVELS = {"none": 0, "read": 1, "write": 2, "admin": 3}
DOCS = "https://docs.github.com/rest"

# What the Actions GITHUB_TOKEN gets with `permissions: write-all`: no administration, so no
# environments or rulesets (GitHub's documented limit).
GITHUB_TOKEN_PERMISSIONS = {
    "actions": "write",
    "checks": "write",
    "contents": "write",
    "deployments": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
}
ADMIN_PERMISSIONS = {**GITHUB_TOKEN_PERMISSIONS, "administration": "write", "members": "read"}


@dataclass
class Grant:
    """A token the server accepts: whose it is, what it may do, and how GitHub reports a denial."""

    token: str
    login: str
    permissions: dict[str, str]
    # classic PATs without a scope get 404 on private repos; apps and fine-grained tokens get 403
    kind: str = "installation"

    def allows(self, resource: str, level: str) -> bool:
        """`resource` may name alternatives, `issues|pull_requests`, as GitHub accepts either for some calls."""
        return any(LEVELS[self.permissions.get(r, "none")] >= LEVELS[level] for r in resource.split("|"))


@dataclass(frozen=True)
class Exchange:
    """One request and the answer the server gave, as sent on the wire."""

    method: str
    path: str  # without the API prefix and query
    query: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes


@dataclass
class Dispatch:
    """A workflow_dispatch the server received."""

    workflow_id: int
    workflow_path: str
    ref: str
    inputs: dict[str, Any]
    actor: str
    run_id: int


@dataclass
class Run:
    id: int
    workflow_id: int
    run_number: int
    head_branch: str
    head_sha: str
    event: str
    created: str
    status: str = "queued"
    conclusion: str | None = None
    # states the run moves through, one per GET of the run (then it stays in the last one)
    script: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class Workflow:
    id: int
    name: str
    path: str
    created: str
    # what a dispatched run does when polled: states taken one per GET
    script: list[tuple[str, str | None]] = field(
        default_factory=lambda: [("queued", None), ("in_progress", None), ("completed", "success")]
    )
    # False answers every dispatch with 204, as servers from before `return_run_details` do
    returns_run_details: bool = True


@dataclass
class Pull:
    number: int
    id: int
    title: str
    body: str | None
    head: str
    base: str
    user: str
    created: str
    draft: bool = False
    state: str = "open"
    merged: bool = False
    merged_at: str | None = None
    merged_by: str | None = None
    closed_at: str | None = None
    merge_commit_sha: str | None = None
    head_sha: str = ""
    base_sha: str = ""
    labels: list[str] = field(default_factory=list)
    updated: str = ""
    polls_until_mergeable: int = 1


@dataclass
class Environment:
    id: int
    name: str
    created: str
    updated: str
    wait_timer: int = 0
    prevent_self_review: bool = False
    reviewers: list[tuple[str, int]] = field(default_factory=list)
    branch_policy: JSON | None = None
    branch_policies: dict[int, JSON] = field(default_factory=dict)


@dataclass
class Repo:
    owner: str
    name: str
    id: int
    path: Path
    default_branch: str
    created: str
    pulls: dict[int, Pull] = field(default_factory=dict)
    statuses: dict[str, list[JSON]] = field(default_factory=dict)
    check_runs: dict[str, list[JSON]] = field(default_factory=dict)
    deployments: dict[int, JSON] = field(default_factory=dict)
    deployment_statuses: dict[int, list[JSON]] = field(default_factory=dict)
    workflows: dict[int, Workflow] = field(default_factory=dict)
    runs: dict[int, Run] = field(default_factory=dict)
    dispatches: list[Dispatch] = field(default_factory=list)
    environments: dict[str, Environment] = field(default_factory=dict)
    rulesets: dict[int, JSON] = field(default_factory=dict)
    protected: dict[str, list[str]] = field(default_factory=dict)  # branch protection: its required checks
    labels: dict[str, JSON] = field(default_factory=dict)
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class App:
    id: int
    slug: str
    public_key_pem: bytes
    permissions: dict[str, str]
    installation_id: int


@dataclass
class RateWindow:
    limit: int = 5000
    remaining: int = 5000
    reset: int = 0


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    message: str
    headers: dict[str, str]
    times: int


class HttpError(Exception):
    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def validation_failed(message: str, resource: str, code: str = "custom", field_name: str = "") -> HttpError:
    error: JSON = {"resource": resource, "code": code, "message": message}
    if field_name:
        error["field"] = field_name
    return HttpError(422, "Validation Failed", errors=[error])


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    params: dict[str, str]
    body: Any
    grant: Grant | None
    bearer: str | None


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[["GitHubServer", Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    permission: tuple[str, str] | None  # (resource, level); None = no token needed
    action: str  # for denial messages: "create deployments"
    template: str  # as GitHub documents it: /repos/{owner}/{repo}/pulls/{number}
    repo_scoped: bool = True


ROUTES: list[Route] = []


def route(
    method: str, template: str, permission: tuple[str, str] | None, action: str
) -> Callable[[Handler], Handler]:
    """Register a handler for `METHOD /path/{param}`; `{ref*}` matches across slashes."""
    regex = re.sub(r"\{(\w+)\*\}", r"(?P<\1>.+)", template)
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)

    def register(handler: Handler) -> Handler:
        ROUTES.append(
            Route(
                method,
                re.compile(f"^{regex}$"),
                handler,
                permission,
                action,
                template,
                template.startswith("/repos/"),
            )
        )
        return handler

    return register


class GitHubServer:
    """State of the fake GitHub plus helpers for tests (add repos, finish runs, inject faults)."""

    def __init__(self, root: Path, prefix: str = "") -> None:
        self.root = root
        self.prefix = prefix
        self.port = 0
        self.git: GitHttpServer | None = None
        self.lock = threading.RLock()
        self.ids = itertools.count(1001)
        self.repos: dict[str, Repo] = {}
        self.grants: dict[str, Grant] = {}
        self.users: dict[str, int] = {}
        self.teams: dict[int, tuple[str, str]] = {}
        self.apps: dict[int, App] = {}
        self.exchanges: list[Exchange] = []
        self.contract_problems: list[str] = []  # filled by the test fixture's OpenAPI check
        self.on_exchange: Callable[[Exchange], None] | None = None
        self.rate = RateWindow(reset=int(time.time()) + 3600)
        self.faults: list[Fault] = []
        self.down = False  # True: connections are dropped without an answer (an outage)

    @property
    def url(self) -> str:
        """The API base URL (GITHUB_API_URL)."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    # -- set-up helpers for tests -------------------------------------------------------------------------

    def add_user(self, login: str) -> int:
        with self.lock:
            if login not in self.users:
                self.users[login] = next(self.ids)
            return self.users[login]

    def add_team(self, org: str, slug: str) -> int:
        with self.lock:
            team_id = next(self.ids)
            self.teams[team_id] = (org, slug)
            return team_id

    def add_token(
        self,
        token: str,
        permissions: dict[str, str] | None = None,
        login: str = "github-actions[bot]",
        kind: str = "installation",
    ) -> Grant:
        grant = Grant(
            token, login, dict(GITHUB_TOKEN_PERMISSIONS if permissions is None else permissions), kind
        )
        self.add_user(login)
        self.grants[token] = grant
        return grant

    def add_app(self, app_id: int, public_key_pem: bytes, permissions: dict[str, str]) -> App:
        app = App(app_id, f"app-{app_id}", public_key_pem, permissions, next(self.ids))
        self.apps[app_id] = app
        self.add_user(f"{app.slug}[bot]")
        return app

    def add_repo(self, owner: str, name: str, default_branch: str = "main") -> Repo:
        """A bare repository at root/owner/name.git (empty; push to it or use `commit_files`)."""
        path = self.root / owner / f"{name}.git"
        path.mkdir(parents=True)
        g.run_git(path, "init", "--bare", "-q", "-b", default_branch)
        g.run_git(path, "config", "http.receivepack", "true")
        g.run_git(path, "config", "receive.denyNonFastForwards", "true")
        g.run_git(path, "config", "uploadpack.allowFilter", "true")
        _install_ruleset_hook(path)
        self.add_user(owner)
        repo = Repo(owner, name, next(self.ids), path, default_branch, o.now_iso())
        _write_rulesets(repo)
        self.repos[repo.full_name] = repo
        return repo

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name]

    def clone_url(self, full_name: str) -> str:
        """Smart-HTTP URL of the bare repository (needs `serve_github(..., git_http=True)`)."""
        base = self.git.url if self.git is not None else f"file://{self.root}"
        return f"{base}/{full_name}.git"

    def commit_files(
        self, full_name: str, branch: str, files: dict[str, str], message: str = "change"
    ) -> str:
        """Commit files on top of branch (created from nothing or from the default branch); returns the sha."""
        repo = self.repos[full_name]
        with self.lock:
            ref = f"refs/heads/{branch}"
            parent = g.ref_sha(repo.path, ref)
            start = parent or g.ref_sha(repo.path, f"refs/heads/{repo.default_branch}")
            base_tree = g.read_commit(repo.path, start).tree if start else None
            entries = [
                g.TreeEntry(path, "100644", "blob", g.write_blob(repo.path, text.encode()))
                for path, text in files.items()
            ]
            tree = g.write_tree(repo.path, base_tree, entries)
            who = g.Identity("Test Author", "author@example.com")
            sha = g.commit_tree(repo.path, tree, [start] if start else [], message, who, who)
            g.update_ref(repo.path, ref, sha, parent)
            return sha

    def add_workflow(self, full_name: str, path: str, name: str = "") -> Workflow:
        repo = self.repos[full_name]
        wf = Workflow(next(self.ids), name or Path(path).stem, path, o.now_iso())
        repo.workflows[wf.id] = wf
        return wf

    def protect_branch(self, full_name: str, branch: str, required_checks: Sequence[str]) -> None:
        """Classic branch protection requiring `required_checks` (enforced on merges and ref updates)."""
        with self.lock:
            self.repos[full_name].protected[branch] = list(required_checks)

    def add_check_run(self, full_name: str, sha: str, name: str, conclusion: str | None = "success") -> None:
        """A check run as GitHub Actions would leave it (completed with `conclusion`, or in progress)."""
        repo = self.repos[full_name]
        with self.lock:
            run_id = next(self.ids)
            when = o.now_iso()
            repo.check_runs.setdefault(sha, []).append(
                {
                    "id": run_id,
                    "node_id": o.node_id("CheckRun", run_id),
                    "head_sha": sha,
                    "external_id": "",
                    "url": f"{self.url}/repos/{full_name}/check-runs/{run_id}",
                    "html_url": f"{self.url}/{full_name}/runs/{run_id}",
                    "details_url": None,
                    "status": "completed" if conclusion else "in_progress",
                    "conclusion": conclusion,
                    "started_at": when,
                    "completed_at": when if conclusion else None,
                    "output": {
                        "title": None,
                        "summary": None,
                        "text": None,
                        "annotations_count": 0,
                        "annotations_url": f"{self.url}/repos/{full_name}/check-runs/{run_id}/annotations",
                    },
                    "name": name,
                    "check_suite": {"id": run_id},
                    "app": None,
                    "pull_requests": [],
                }
            )
            _write_checks(repo)

    def finish_run(self, full_name: str, run_id: int, conclusion: str) -> None:
        with self.lock:
            run = self.repos[full_name].runs[run_id]
            run.status, run.conclusion, run.script = "completed", conclusion, []

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests with an error (e.g. a secondary rate limit)."""
        self.faults.append(Fault(method, re.compile(path_regex), status, message, headers or {}, times))

    def set_rate_limit(self, remaining: int, reset_in: float) -> None:
        with self.lock:
            self.rate.remaining = remaining
            self.rate.reset = int(time.time() + reset_in)

    def refund_request(self) -> None:
        """Give back the rate limit a request took (GitHub charges nothing for a 304 Not Modified)."""
        with self.lock:
            self.rate.remaining = min(self.rate.limit, self.rate.remaining + 1)

    def charged(self) -> list[Exchange]:
        """The exchanges that counted against the rate limit (all but 304 Not Modified)."""
        return [e for e in self.exchanges if e.status != 304]

    def requests(self, method: str = "", path_regex: str = "") -> list[Exchange]:
        """Recorded exchanges, filtered by method and a regex on the path."""
        pattern = re.compile(path_regex) if path_regex else None
        return [
            e
            for e in self.exchanges
            if (not method or e.method == method) and (pattern is None or pattern.search(e.path))
        ]

    # -- HTTP plumbing --------------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        path, _, query = raw_path.partition("?")
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.path.search(path):
                    fault.times -= 1
                    return self._error(HttpError(fault.status, fault.message, fault.headers))
            try:
                return self._dispatch(method, path, query, headers, body)
            except HttpError as err:
                return self._error(err)
            except g.GitError as err:
                return self._error(HttpError(500, f"git failed: {err}"))

    def _error(self, err: HttpError) -> Response:
        body: JSON = {"message": err.message, "documentation_url": DOCS}
        if err.extra.get("errors"):
            body["errors"] = err.extra["errors"]
        if err.status != 422:
            body["status"] = str(err.status)
        return Response(err.status, body, dict(err.headers))

    def _dispatch(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Response:
        for candidate in ROUTES:
            match = candidate.pattern.match(path)
            if match is None or candidate.method != method:
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items()}
            auth = headers.get("authorization", "")
            scheme, _, credential = auth.partition(" ")
            bearer = credential.strip() if scheme.lower() == "bearer" and credential.count(".") == 2 else None
            grant = None if bearer else self._authenticate(auth, candidate)
            if candidate.repo_scoped:
                self._authorize(params, grant, candidate)
            else:
                self._check_permission(grant, candidate)
            try:
                parsed = json.loads(body) if body else None
            except ValueError as err:
                raise HttpError(400, "Problems parsing JSON") from err
            request = Request(method, path, dict(parse_qsl(query)), params, parsed, grant, bearer)
            response = candidate.handler(self, request)
            return response
        raise HttpError(404, "Not Found")

    def _authenticate(self, auth: str, candidate: Route) -> Grant | None:
        scheme, _, credential = auth.partition(" ")
        token = credential.strip() if scheme.lower() in ("token", "bearer") else ""
        if not auth:
            if candidate.permission is not None:
                raise HttpError(401, "Requires authentication")
            return None
        grant = self.grants.get(token)
        if grant is None:
            raise HttpError(401, "Bad credentials")
        if self.rate.reset <= time.time():
            self.rate.remaining, self.rate.reset = self.rate.limit, int(time.time()) + 3600
        if self.rate.remaining <= 0:
            raise HttpError(
                403, f"API rate limit exceeded for installation ID {grant.login}.", docs_rate=True
            )
        self.rate.remaining -= 1
        return grant

    def _authorize(self, params: dict[str, str], grant: Grant | None, candidate: Route) -> None:
        full = f"{params['owner']}/{params['repo']}"
        if full not in self.repos:
            raise HttpError(404, "Not Found")
        self._check_permission(grant, candidate)

    def _check_permission(self, grant: Grant | None, candidate: Route) -> None:
        if candidate.permission is None or grant is None:
            return
        resource, level = candidate.permission
        if grant.allows(resource, level):
            return
        if grant.kind == "classic":
            raise HttpError(404, "Not Found")
        who = "personal access token" if grant.kind == "fine-grained" else "integration"
        raise HttpError(
            403,
            f"Resource not accessible by {who}",
            {"x-accepted-github-permissions": "; ".join(f"{r}={level}" for r in resource.split("|"))},
        )

    def rate_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.rate.limit),
            "x-ratelimit-remaining": str(max(self.rate.remaining, 0)),
            "x-ratelimit-reset": str(self.rate.reset),
            "x-ratelimit-used": str(self.rate.limit - max(self.rate.remaining, 0)),
            "x-ratelimit-resource": "core",
        }

    # -- JSON views ------------------------------------------------------------------------------------------

    def user_json(self, login: str) -> JSON:
        kind = "Bot" if login.endswith("[bot]") else "User"
        return o.user(self.url, login, self.add_user(login), kind)

    def repo_json(self, repo: Repo) -> JSON:
        body = o.repository(
            self.url,
            self.user_json(repo.owner),
            repo.name,
            repo.id,
            repo.default_branch,
            self.clone_url(repo.full_name),
            repo.created,
        )
        body["permissions"] = {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True}
        return body


def _json_response(status: int, body: Any, location: str = "") -> Response:
    return Response(status, body, {"Location": location} if location else {})


def _repo(server: GitHubServer, req: Request) -> Repo:
    return server.repos[f"{req.params['owner']}/{req.params['repo']}"]


def _body(req: Request) -> JSON:
    if not isinstance(req.body, dict):
        raise HttpError(400, "Problems parsing JSON")
    return req.body


def _require(body: JSON, name: str, resource: str) -> Any:
    if body.get(name) in (None, ""):
        raise validation_failed(f"{name} is missing", resource, "missing_field", name)
    return body[name]


def _page(req: Request, items: list[Any]) -> list[Any]:
    per_page = int(req.query.get("per_page", "30"))
    page = int(req.query.get("page", "1"))
    return items[(page - 1) * per_page : page * per_page]


# -- repositories, users, rate limit ---------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}", ("metadata", "read"), "read the repository")
def get_repo(server: GitHubServer, req: Request) -> Response:
    return _json_response(200, server.repo_json(_repo(server, req)))


@route("GET", "/users/{username}", None, "read users")
def get_user(server: GitHubServer, req: Request) -> Response:
    login = req.params["username"]
    if login not in server.users:
        raise HttpError(404, "Not Found")
    return _json_response(200, o.public_user(server.url, login, server.users[login], o.now_iso()))


@route("GET", "/orgs/{org}/teams/{team_slug}", ("members", "read"), "read teams")
def get_team(server: GitHubServer, req: Request) -> Response:
    org, slug = req.params["org"], req.params["team_slug"]
    found = [tid for tid, (o_org, o_slug) in server.teams.items() if (o_org, o_slug) == (org, slug)]
    if not found:
        raise HttpError(404, "Not Found")
    return _json_response(200, o.team_full(server.url, org, slug, found[0], o.now_iso()))


@route("GET", "/rate_limit", None, "read the rate limit")
def get_rate_limit(server: GitHubServer, req: Request) -> Response:
    rate = {
        "limit": server.rate.limit,
        "remaining": server.rate.remaining,
        "reset": server.rate.reset,
        "used": server.rate.limit - server.rate.remaining,
    }
    return _json_response(200, {"resources": {"core": rate}, "rate": rate})


# -- pull requests -----------------------------------------------------------------------------------------------


def _pull_json(server: GitHubServer, repo: Repo, pull: Pull) -> JSON:
    base_url = f"{server.url}/repos/{repo.full_name}"
    url = f"{base_url}/pulls/{pull.number}"
    repo_json = server.repo_json(repo)
    owner = server.user_json(repo.owner)
    mergeable: bool | None
    if pull.state != "open":
        mergeable, state = None, "unknown"
    elif pull.polls_until_mergeable > 0:
        pull.polls_until_mergeable -= 1
        mergeable, state = None, "unknown"
    else:
        tree = g.merge_tree(repo.path, pull.base_sha, pull.head_sha)
        if tree is None:
            mergeable, state = False, "dirty"
        elif _unmet_checks(server, repo, f"refs/heads/{pull.base}", pull.head_sha):
            mergeable, state = True, "blocked"
        elif _requires_up_to_date(repo, f"refs/heads/{pull.base}") and not g.is_ancestor(
            repo.path, pull.base_sha, pull.head_sha
        ):
            mergeable, state = True, "behind"
        else:
            mergeable, state = True, "clean"
    html = f"{server.url}/{repo.full_name}/pull/{pull.number}"
    labels = [repo.labels[name] for name in pull.labels]
    return {
        "url": url,
        "id": pull.id,
        "node_id": o.node_id("PullRequest", pull.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{base_url}/issues/{pull.number}",
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "review_comment_url": f"{base_url}/pulls/comments{{/number}}",
        "comments_url": f"{base_url}/issues/{pull.number}/comments",
        "statuses_url": f"{base_url}/statuses/{pull.head_sha}",
        "number": pull.number,
        "state": pull.state,
        "locked": False,
        "title": pull.title,
        "user": server.user_json(pull.user),
        "body": pull.body,
        "labels": labels,
        "milestone": None,
        "active_lock_reason": None,
        "created_at": pull.created,
        "updated_at": pull.updated or pull.created,
        "closed_at": pull.closed_at,
        "merged_at": pull.merged_at,
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": {
            "label": f"{repo.owner}:{pull.head}",
            "ref": pull.head,
            "sha": pull.head_sha,
            "user": owner,
            "repo": repo_json,
        },
        "base": {
            "label": f"{repo.owner}:{pull.base}",
            "ref": pull.base,
            "sha": pull.base_sha,
            "user": owner,
            "repo": repo_json,
        },
        "_links": {
            key: {"href": href}
            for key, href in {
                "self": url,
                "html": html,
                "issue": f"{base_url}/issues/{pull.number}",
                "comments": f"{base_url}/issues/{pull.number}/comments",
                "review_comments": f"{url}/comments",
                "review_comment": f"{base_url}/pulls/comments{{/number}}",
                "commits": f"{url}/commits",
                "statuses": f"{base_url}/statuses/{pull.head_sha}",
            }.items()
        },
        "author_association": "OWNER",
        "auto_merge": None,
        "draft": pull.draft,
        "merged": pull.merged,
        "mergeable": mergeable,
        "rebaseable": mergeable,
        "mergeable_state": state,
        "merged_by": server.user_json(pull.merged_by) if pull.merged_by else None,
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": len(g.commits_between(repo.path, pull.base_sha, pull.head_sha)),
        "additions": 0,
        "deletions": 0,
        "changed_files": 0,
    }


def _refresh(repo: Repo, pull: Pull) -> None:
    """An open pull follows its branches, as on GitHub."""
    if pull.state != "open":
        return
    head = g.ref_sha(repo.path, f"refs/heads/{pull.head}")
    base = g.ref_sha(repo.path, f"refs/heads/{pull.base}")
    if head:
        pull.head_sha = head
    if base:
        pull.base_sha = base


@route("POST", "/repos/{owner}/{repo}/pulls", ("pull_requests", "write"), "open pull requests")
def create_pull(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    body = _body(req)
    title = _require(body, "title", "PullRequest")
    head = _require(body, "head", "PullRequest").split(":")[-1]
    base = _require(body, "base", "PullRequest")
    head_sha = g.ref_sha(repo.path, f"refs/heads/{head}")
    base_sha = g.ref_sha(repo.path, f"refs/heads/{base}")
    if head_sha is None:
        raise validation_failed(f"head {head!r} does not exist", "PullRequest", "invalid", "head")
    if base_sha is None:
        raise validation_failed(f"base {base!r} does not exist", "PullRequest", "invalid", "base")
    if not g.commits_between(repo.path, base_sha, head_sha):
        raise validation_failed(f"No commits between {base} and {head}", "PullRequest")
    for other in repo.pulls.values():
        if other.state == "open" and other.head == head and other.base == base:
            raise validation_failed(f"A pull request already exists for {repo.owner}:{head}.", "PullRequest")
    number = repo.next_number
    repo.next_number += 1
    assert req.grant is not None
    pull = Pull(
        number,
        next(server.ids),
        title,
        body.get("body"),
        head,
        base,
        req.grant.login,
        o.now_iso(),
        draft=bool(body.get("draft")),
        head_sha=head_sha,
        base_sha=base_sha,
    )
    repo.pulls[number] = pull
    url = f"{server.url}/repos/{repo.full_name}/pulls/{number}"
    return _json_response(201, _pull_json(server, repo, pull), url)


def _pull(repo: Repo, req: Request) -> Pull:
    pull = repo.pulls.get(int(req.params["number"]))
    if pull is None:
        raise HttpError(404, "Not Found")
    _refresh(repo, pull)
    return pull


@route("GET", "/repos/{owner}/{repo}/pulls/{number}", ("pull_requests", "read"), "read pull requests")
def get_pull(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    return _json_response(200, _pull_json(server, repo, _pull(repo, req)))


@route("GET", "/repos/{owner}/{repo}/pulls", ("pull_requests", "read"), "list pull requests")
def list_pulls(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    state = req.query.get("state", "open")
    head = req.query.get("head", "").split(":")[-1]
    base = req.query.get("base", "")
    found = []
    for pull in sorted(repo.pulls.values(), key=lambda p: -p.number):
        _refresh(repo, pull)
        if state != "all" and pull.state != state:
            continue
        if (head and pull.head != head) or (base and pull.base != base):
            continue
        found.append(pull)
    items = []
    for pull in _page(req, found):
        full = _pull_json(server, repo, pull)
        for key in (
            "merged",
            "mergeable",
            "rebaseable",
            "mergeable_state",
            "merged_by",
            "comments",
            "review_comments",
            "maintainer_can_modify",
            "commits",
            "additions",
            "deletions",
            "changed_files",
        ):
            full.pop(key)
        items.append(full)
    return _json_response(200, items)


@route("PATCH", "/repos/{owner}/{repo}/pulls/{number}", ("pull_requests", "write"), "update pull requests")
def update_pull(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    pull = _pull(repo, req)
    body = _body(req)
    if "title" in body:
        pull.title = body["title"]
    if "body" in body:
        pull.body = body["body"]
    if body.get("state") == "closed" and pull.state == "open":
        pull.state, pull.closed_at = "closed", o.now_iso()
    elif body.get("state") == "open" and pull.state == "closed" and not pull.merged:
        pull.state, pull.closed_at = "open", None
    pull.updated = o.now_iso()
    return _json_response(200, _pull_json(server, repo, pull))


@route("PUT", "/repos/{owner}/{repo}/pulls/{number}/merge", ("contents", "write"), "merge pull requests")
def merge_pull(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    pull = _pull(repo, req)
    body = req.body if isinstance(req.body, dict) else {}
    method = body.get("merge_method", "merge")
    if pull.state != "open":
        raise HttpError(405, "Pull Request is not mergeable")
    if body.get("sha") and body["sha"] != pull.head_sha:
        raise HttpError(409, "Head branch was modified. Review and try the merge again.")
    unmet = _unmet_checks(server, repo, f"refs/heads/{pull.base}", pull.head_sha)
    if unmet:
        raise HttpError(405, _rule_violation(unmet))
    if _requires_up_to_date(repo, f"refs/heads/{pull.base}") and not g.is_ancestor(
        repo.path, pull.base_sha, pull.head_sha
    ):
        raise HttpError(
            405, "Repository rule violations found\n\nHead branch is not up to date with the base branch."
        )
    title = body.get("commit_title") or f"Merge pull request #{pull.number} from {repo.owner}/{pull.head}"
    message = title + ("\n\n" + body["commit_message"] if body.get("commit_message") else "")
    assert req.grant is not None
    who = g.Identity(req.grant.login, f"{req.grant.login}@users.noreply.github.com")
    if method == "rebase":
        if not g.is_ancestor(repo.path, pull.base_sha, pull.head_sha):
            raise HttpError(405, "This branch can't be rebased")
        new = pull.head_sha
    else:
        tree = g.merge_tree(repo.path, pull.base_sha, pull.head_sha)
        if tree is None:
            raise HttpError(405, "Pull Request is not mergeable")
        parents = [pull.base_sha] if method == "squash" else [pull.base_sha, pull.head_sha]
        if method == "squash" and not body.get("commit_title"):
            message = f"{pull.title} (#{pull.number})" + message[len(title) :]
        new = g.commit_tree(repo.path, tree, parents, message, who, who)
    try:
        g.update_ref(repo.path, f"refs/heads/{pull.base}", new, pull.base_sha)
    except g.GitError as err:
        raise HttpError(409, "Base branch was modified. Review and try the merge again.") from err
    now = o.now_iso()
    pull.state, pull.merged, pull.merged_at, pull.closed_at, pull.updated = "closed", True, now, now, now
    pull.merge_commit_sha, pull.merged_by = new, req.grant.login
    return _json_response(200, {"sha": new, "merged": True, "message": "Pull Request successfully merged"})


@route(
    "PUT",
    "/repos/{owner}/{repo}/pulls/{number}/update-branch",
    ("pull_requests", "write"),
    "update pull request branches",
)
def update_pull_branch(server: GitHubServer, req: Request) -> Response:
    """Merge the base into the head branch, as the "Update branch" button does."""
    repo = _repo(server, req)
    pull = _pull(repo, req)
    body = req.body if isinstance(req.body, dict) else {}
    if pull.state != "open":
        raise validation_failed("the pull request is closed", "PullRequest")
    if body.get("expected_head_sha") and body["expected_head_sha"] != pull.head_sha:
        raise validation_failed("expected head sha didn't match current head ref.", "PullRequest")
    if not g.is_ancestor(repo.path, pull.base_sha, pull.head_sha):
        tree = g.merge_tree(repo.path, pull.head_sha, pull.base_sha)
        if tree is None:
            raise validation_failed("merge conflict between base and head", "PullRequest")
        assert req.grant is not None
        who = g.Identity(req.grant.login, f"{req.grant.login}@users.noreply.github.com")
        message = f"Merge branch '{pull.base}' into {pull.head}"
        new = g.commit_tree(repo.path, tree, [pull.head_sha, pull.base_sha], message, who, who)
        g.update_ref(repo.path, f"refs/heads/{pull.head}", new, pull.head_sha)
        pull.head_sha = new
    url = f"{server.url}/repos/{repo.full_name}/pulls/{pull.number}"
    return _json_response(202, {"message": "Updating pull request branch.", "url": url})


@route(
    "POST",
    "/repos/{owner}/{repo}/issues/{number}/labels",
    ("issues|pull_requests", "write"),
    "label pull requests",
)
def add_labels(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    pull = _pull(repo, req)
    body = req.body
    names = body.get("labels", []) if isinstance(body, dict) else list(body or [])
    for name in names:
        if name not in repo.labels:
            repo.labels[name] = o.label(server.url, repo.full_name, name, next(server.ids))
        if name not in pull.labels:
            pull.labels.append(name)
    return _json_response(200, [repo.labels[name] for name in pull.labels])


# -- statuses and checks -----------------------------------------------------------------------------------------


def _resolve(repo: Repo, ref: str) -> str:
    sha = g.resolve(repo.path, ref)
    if sha is None:
        raise HttpError(422, f"No commit found for SHA: {ref}")
    return sha


@route("POST", "/repos/{owner}/{repo}/statuses/{sha}", ("statuses", "write"), "create commit statuses")
def create_status(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    sha = _resolve(repo, req.params["sha"])
    body = _body(req)
    state = _require(body, "state", "Status")
    if state not in ("error", "failure", "pending", "success"):
        raise validation_failed(
            f"state {state!r} is not one of error, failure, pending, success", "Status", "invalid", "state"
        )
    status_id = next(server.ids)
    now = o.now_iso()
    assert req.grant is not None
    status = {
        "url": f"{server.url}/repos/{repo.full_name}/statuses/{sha}",
        "avatar_url": None,
        "id": status_id,
        "node_id": o.node_id("StatusContext", status_id),
        "state": state,
        "description": body.get("description"),
        "target_url": body.get("target_url"),
        "context": body.get("context") or "default",
        "created_at": now,
        "updated_at": now,
        "creator": server.user_json(req.grant.login),
    }
    repo.statuses.setdefault(sha, []).append(status)
    _write_checks(repo)
    return _json_response(201, status, status["url"])


def _latest_statuses(repo: Repo, sha: str) -> list[JSON]:
    latest: dict[str, JSON] = {}
    for status in repo.statuses.get(sha, []):
        latest[status["context"]] = status
    return sorted(latest.values(), key=lambda s: -int(s["id"]))


@route("GET", "/repos/{owner}/{repo}/commits/{ref*}/status", ("statuses", "read"), "read commit statuses")
def combined_status(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    sha = _resolve(repo, req.params["ref"])
    statuses = _latest_statuses(repo, sha)
    states = {s["state"] for s in statuses}
    if states & {"error", "failure"}:
        state = "failure"
    elif not statuses or "pending" in states:
        state = "pending"
    else:
        state = "success"
    base = f"{server.url}/repos/{repo.full_name}"
    return _json_response(
        200,
        {
            "state": state,
            "sha": sha,
            "total_count": len(statuses),
            "statuses": [
                {
                    k: s[k]
                    for k in (
                        "url",
                        "avatar_url",
                        "id",
                        "node_id",
                        "state",
                        "description",
                        "target_url",
                        "context",
                        "created_at",
                        "updated_at",
                    )
                }
                | {"required": False}
                for s in statuses
            ],
            "repository": {k: v for k, v in server.repo_json(repo).items() if k != "permissions"},
            "commit_url": f"{base}/commits/{sha}",
            "url": f"{base}/commits/{sha}/status",
        },
    )


@route("GET", "/repos/{owner}/{repo}/commits/{ref*}/check-runs", ("checks", "read"), "read check runs")
def list_check_runs(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    sha = _resolve(repo, req.params["ref"])
    runs = repo.check_runs.get(sha, [])
    return _json_response(200, {"total_count": len(runs), "check_runs": _page(req, runs)})


# -- rulesets ------------------------------------------------------------------------------------------------------


def _ref_matches(repo: Repo, ruleset: JSON, ref: str) -> bool:
    target = ruleset.get("target", "branch")
    if (target == "branch") != ref.startswith("refs/heads/") or (target == "tag") != ref.startswith(
        "refs/tags/"
    ):
        return False
    cond = (ruleset.get("conditions") or {}).get("ref_name") or {}

    def expand(pattern: str) -> str:
        if pattern == "~DEFAULT_BRANCH":
            return f"refs/heads/{repo.default_branch}"
        if pattern == "~ALL":
            return "refs/*"
        return pattern

    def hit(patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(ref, expand(p)) for p in patterns)

    return hit(cond.get("include", [])) and not hit(cond.get("exclude", []))


def _active_rules(repo: Repo, ref: str) -> list[tuple[JSON, JSON]]:
    """(ruleset, rule) pairs that apply to ref from active rulesets."""
    return [
        (ruleset, rule)
        for ruleset in repo.rulesets.values()
        if ruleset.get("enforcement") == "active" and _ref_matches(repo, ruleset, ref)
        for rule in ruleset.get("rules", [])
    ]


def _check_passes(repo: Repo, sha: str, context: str) -> bool:
    for status in _latest_statuses(repo, sha):
        if status["context"] == context:
            return bool(status["state"] == "success")
    runs = [r for r in repo.check_runs.get(sha, []) if r["name"] == context]
    return bool(runs) and runs[-1]["conclusion"] in ("success", "neutral", "skipped")


def _unmet_checks(server: GitHubServer, repo: Repo, ref: str, sha: str) -> list[str]:
    required: list[str] = []
    for _, rule in _active_rules(repo, ref):
        if rule.get("type") != "required_status_checks":
            continue
        required += [c["context"] for c in (rule.get("parameters") or {}).get("required_status_checks", [])]
    required += repo.protected.get(ref.removeprefix("refs/heads/"), [])
    return [c for c in dict.fromkeys(required) if not _check_passes(repo, sha, c)]


def _requires_up_to_date(repo: Repo, ref: str) -> bool:
    """A required_status_checks rule with the strict policy: the head must contain the base."""
    return any(
        rule.get("type") == "required_status_checks"
        and (rule.get("parameters") or {}).get("strict_required_status_checks_policy")
        for _, rule in _active_rules(repo, ref)
    )


def _rule_violation(unmet: list[str]) -> str:
    lines = "".join(f'\n\nRequired status check "{c}" is expected.' for c in unmet)
    return f"Repository rule violations found{lines}"


def _ruleset_json(server: GitHubServer, repo: Repo, ruleset: JSON) -> JSON:
    url = f"{server.url}/repos/{repo.full_name}/rulesets/{ruleset['id']}"
    return {
        **ruleset,
        "source_type": "Repository",
        "source": repo.full_name,
        "node_id": o.node_id("RepositoryRuleset", ruleset["id"]),
        "current_user_can_bypass": "never",
        "_links": {
            "self": {"href": url},
            "html": {"href": f"{server.url}/{repo.full_name}/rules/{ruleset['id']}"},
        },
    }


_RULESET_FIELDS = ("name", "target", "enforcement", "bypass_actors", "conditions", "rules")


@route("GET", "/repos/{owner}/{repo}/rulesets", ("metadata", "read"), "read rulesets")
def list_rulesets(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    items = [
        {
            k: v
            for k, v in _ruleset_json(server, repo, r).items()
            if k not in ("conditions", "rules", "bypass_actors")
        }
        for r in repo.rulesets.values()
    ]
    return _json_response(200, _page(req, items))


@route("GET", "/repos/{owner}/{repo}/rulesets/{id}", ("metadata", "read"), "read rulesets")
def get_ruleset(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    ruleset = repo.rulesets.get(int(req.params["id"]))
    if ruleset is None:
        raise HttpError(404, "Not Found")
    return _json_response(200, _ruleset_json(server, repo, ruleset))


def _store_ruleset(repo: Repo, ruleset: JSON, body: JSON) -> None:
    for key in _RULESET_FIELDS:
        if key in body:
            ruleset[key] = body[key]
    for other in repo.rulesets.values():
        if other["id"] != ruleset["id"] and other["name"] == ruleset["name"]:
            raise validation_failed("Name must be unique", "Ruleset", "custom", "name")
    ruleset["updated_at"] = o.now_iso()
    repo.rulesets[ruleset["id"]] = ruleset
    _write_rulesets(repo)


@route("POST", "/repos/{owner}/{repo}/rulesets", ("administration", "write"), "create rulesets")
def create_ruleset(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    body = _body(req)
    _require(body, "name", "Ruleset")
    _require(body, "enforcement", "Ruleset")
    ruleset: JSON = {
        "id": next(server.ids),
        "target": "branch",
        "bypass_actors": [],
        "conditions": None,
        "rules": [],
        "created_at": o.now_iso(),
    }
    _store_ruleset(repo, ruleset, body)
    return _json_response(201, _ruleset_json(server, repo, ruleset))


@route("PUT", "/repos/{owner}/{repo}/rulesets/{id}", ("administration", "write"), "update rulesets")
def update_ruleset(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    ruleset = repo.rulesets.get(int(req.params["id"]))
    if ruleset is None:
        raise HttpError(404, "Not Found")
    _store_ruleset(repo, dict(ruleset), _body(req))
    return _json_response(200, _ruleset_json(server, repo, repo.rulesets[ruleset["id"]]))


@route("GET", "/repos/{owner}/{repo}/rules/branches/{branch*}", ("metadata", "read"), "read branch rules")
def rules_for_branch(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    rules = [
        {
            **rule,
            "ruleset_source_type": "Repository",
            "ruleset_source": repo.full_name,
            "ruleset_id": ruleset["id"],
        }
        for ruleset, rule in _active_rules(repo, f"refs/heads/{req.params['branch']}")
    ]
    return _json_response(200, _page(req, rules))


def _write_rulesets(repo: Repo) -> None:
    """The pre-receive hook enforces the same rulesets on pushes over smart HTTP."""
    active = [r for r in repo.rulesets.values() if r.get("enforcement") == "active"]
    (repo.path / "github-rulesets.json").write_text(
        json.dumps({"default_branch": repo.default_branch, "rulesets": active})
    )


_HOOK = """#!{python}
import fnmatch, json, subprocess, sys
state = json.load(open("github-rulesets.json"))
try:
    passing = json.load(open("github-checks.json"))
except FileNotFoundError:
    passing = {{}}
ZERO = "0" * 40
def matches(rs, ref):
    target = rs.get("target", "branch")
    if (target == "branch") != ref.startswith("refs/heads/") or (target == "tag") != ref.startswith("refs/tags/"):
        return False
    cond = (rs.get("conditions") or {{}}).get("ref_name") or {{}}
    ex = lambda p: "refs/heads/" + state["default_branch"] if p == "~DEFAULT_BRANCH" else ("refs/*" if p == "~ALL" else p)
    hit = lambda ps: any(fnmatch.fnmatchcase(ref, ex(p)) for p in ps)
    return hit(cond.get("include", [])) and not hit(cond.get("exclude", []))
bad = []
for line in sys.stdin:
    old, new, ref = line.split()
    for rs in state["rulesets"]:
        if not matches(rs, ref):
            continue
        for rule in rs.get("rules", []):
            kind = rule["type"]
            if kind == "deletion" and new == ZERO or kind == "creation" and old == ZERO:
                bad.append((ref, "Cannot " + ("delete" if kind == "deletion" else "create") + " this reference"))
            elif kind == "update" and old != ZERO and new != ZERO:
                bad.append((ref, "Cannot update this protected ref"))
            elif kind == "pull_request" and new != ZERO:
                bad.append((ref, "Changes must be made through a pull request"))
            elif kind == "non_fast_forward" and old != ZERO and new != ZERO and subprocess.run(
                    ["git", "merge-base", "--is-ancestor", old, new]).returncode != 0:
                bad.append((ref, "Cannot force-push to this branch"))
            elif kind == "required_status_checks" and new != ZERO:
                for check in (rule.get("parameters") or {{}}).get("required_status_checks", []):
                    if check["context"] not in passing.get(new, []):
                        bad.append((ref, 'Required status check "' + check["context"] + '" is expected'))
for ref, why in bad:
    print(f"GH013: Repository rule violations found for {{ref}}.\\n- {{why}}", file=sys.stderr)
sys.exit(1 if bad else 0)
"""


def _write_checks(repo: Repo) -> None:
    """Passing contexts per commit, for the hook's required_status_checks on pushes."""
    shas = set(repo.statuses) | set(repo.check_runs)
    contexts = {c["context"] for v in repo.statuses.values() for c in v} | {
        r["name"] for v in repo.check_runs.values() for r in v
    }
    passing = {sha: sorted(c for c in contexts if _check_passes(repo, sha, c)) for sha in shas}
    (repo.path / "github-checks.json").write_text(json.dumps(passing))


def _install_ruleset_hook(path: Path) -> None:
    hook = path / "hooks" / "pre-receive"
    hook.write_text(_HOOK.format(python=sys.executable))
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


# -- git database ---------------------------------------------------------------------------------------------------


@route("POST", "/repos/{owner}/{repo}/git/blobs", ("contents", "write"), "create git blobs")
def create_blob(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    body = _body(req)
    content = body.get("content")
    if not isinstance(content, str):
        raise validation_failed("content is missing", "Blob", "missing_field", "content")
    data = base64.b64decode(content) if body.get("encoding") == "base64" else content.encode()
    sha = g.write_blob(repo.path, data)
    url = f"{server.url}/repos/{repo.full_name}/git/blobs/{sha}"
    return _json_response(201, {"url": url, "sha": sha}, url)


def _tree_json(server: GitHubServer, repo: Repo, sha: str, recursive: bool) -> JSON:
    base = f"{server.url}/repos/{repo.full_name}/git"
    entries = []
    for entry in g.ls_tree(repo.path, sha):
        if not recursive and "/" in entry.path:
            continue
        item: JSON = {
            "path": entry.path,
            "mode": entry.mode,
            "type": entry.type,
            "sha": entry.sha,
            "url": f"{base}/{entry.type}s/{entry.sha}",
        }
        if entry.size is not None:
            item["size"] = entry.size
        entries.append(item)
    return {"sha": sha, "url": f"{base}/trees/{sha}", "tree": entries, "truncated": False}


@route("POST", "/repos/{owner}/{repo}/git/trees", ("contents", "write"), "create git trees")
def create_tree(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    body = _body(req)
    base_tree = body.get("base_tree")
    if base_tree and g.object_type(repo.path, base_tree) != "tree":
        raise validation_failed("base_tree is not a valid tree oid", "Tree", "invalid", "base_tree")
    entries = []
    for item in body.get("tree") or []:
        sha = item.get("sha")
        if "content" in item and item["content"] is not None:
            sha = g.write_blob(repo.path, item["content"].encode())
        elif sha is not None and g.object_type(repo.path, sha) is None:
            raise validation_failed(
                f"tree.sha {sha} is not a valid {item.get('type')}", "Tree", "invalid", "tree.sha"
            )
        entries.append(g.TreeEntry(item["path"], item.get("mode", "100644"), item.get("type", "blob"), sha))
    sha = g.write_tree(repo.path, base_tree, entries)
    tree = _tree_json(server, repo, sha, recursive=False)
    return _json_response(201, tree, tree["url"])


@route("GET", "/repos/{owner}/{repo}/git/trees/{sha}", ("contents", "read"), "read git trees")
def get_tree(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    sha = req.params["sha"]
    kind = g.object_type(repo.path, sha)
    if kind == "commit":
        sha = g.read_commit(repo.path, sha).tree
    elif kind != "tree":
        sha = g.resolve(repo.path, sha) or ""
        if not sha:
            raise HttpError(404, "Not Found")
        sha = g.read_commit(repo.path, sha).tree
    return _json_response(
        200,
        _tree_json(server, repo, sha, recursive=req.query.get("recursive") not in (None, "", "0", "false")),
    )


def _commit_json(server: GitHubServer, repo: Repo, sha: str, verified: bool) -> JSON:
    info = g.read_commit(repo.path, sha)
    base = f"{server.url}/repos/{repo.full_name}/git"

    def person(who: g.Identity) -> JSON:
        import datetime as dt

        seconds, _, _ = who.date.partition(" ")
        when = (
            dt.datetime.fromtimestamp(int(seconds), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if seconds
            else o.now_iso()
        )
        return {"name": who.name, "email": who.email, "date": when}

    return {
        "sha": sha,
        "node_id": o.node_id("Commit", int(sha[:8], 16)),
        "url": f"{base}/commits/{sha}",
        "html_url": f"{server.url}/{repo.full_name}/commit/{sha}",
        "author": person(info.author),
        "committer": person(info.committer),
        "message": info.message.rstrip("\n"),
        "tree": {"sha": info.tree, "url": f"{base}/trees/{info.tree}"},
        "parents": [
            {"sha": p, "url": f"{base}/commits/{p}", "html_url": f"{server.url}/{repo.full_name}/commit/{p}"}
            for p in info.parents
        ],
        "verification": {
            "verified": verified,
            "reason": "valid" if verified else "unsigned",
            "signature": "-----BEGIN PGP SIGNATURE-----\n(test server)\n-----END PGP SIGNATURE-----"
            if verified
            else None,
            "payload": f"tree {info.tree}\n" if verified else None,
            "verified_at": o.now_iso() if verified else None,
        },
    }


@route("POST", "/repos/{owner}/{repo}/git/commits", ("contents", "write"), "create git commits")
def create_commit(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    body = _body(req)
    message = _require(body, "message", "Commit")
    tree = _require(body, "tree", "Commit")
    if g.object_type(repo.path, tree) != "tree":
        raise validation_failed("tree is not a valid tree oid", "Commit", "invalid", "tree")
    parents = body.get("parents") or []
    for parent in parents:
        if g.object_type(repo.path, parent) != "commit":
            raise validation_failed(f"parent {parent} is not a valid commit", "Commit", "invalid", "parents")
    assert req.grant is not None
    login = req.grant.login
    default = {"name": login, "email": f"{login}@users.noreply.github.com"}
    author = body.get("author") or default
    committer = body.get("committer") or (
        {"name": "GitHub", "email": "noreply@github.com"} if "author" not in body else author
    )
    sha = g.commit_tree(
        repo.path,
        tree,
        parents,
        message,
        g.Identity(author["name"], author["email"]),
        g.Identity(committer["name"], committer["email"]),
    )
    # GitHub signs commits the API makes on a bot's behalf (no author given): they show as verified
    commit = _commit_json(server, repo, sha, verified="author" not in body and "committer" not in body)
    return _json_response(201, commit, commit["url"])


@route("GET", "/repos/{owner}/{repo}/git/commits/{sha}", ("contents", "read"), "read git commits")
def get_commit(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    if g.object_type(repo.path, req.params["sha"]) != "commit":
        raise HttpError(404, "Not Found")
    info = g.read_commit(repo.path, req.params["sha"])
    return _json_response(
        200, _commit_json(server, repo, req.params["sha"], verified=info.committer.name == "GitHub")
    )


def _ref_json(server: GitHubServer, repo: Repo, ref: str, sha: str) -> JSON:
    kind = g.object_type(repo.path, sha) or "commit"
    return {
        "ref": ref,
        "node_id": o.node_id("Ref", int(sha[:8], 16)),
        "url": f"{server.url}/repos/{repo.full_name}/git/{ref}",
        "object": {"type": kind, "sha": sha, "url": f"{server.url}/repos/{repo.full_name}/git/{kind}s/{sha}"},
    }


@route("GET", "/repos/{owner}/{repo}/branches/{branch*}", ("contents", "read"), "read branches")
def get_branch(server: GitHubServer, req: Request) -> Response:
    """GitHub's "Get a branch": its head commit and, to any reader, its protection's required checks."""
    repo = _repo(server, req)
    branch = req.params["branch"]
    sha = g.ref_sha(repo.path, f"refs/heads/{branch}")
    if sha is None:
        raise HttpError(404, "Branch not found")
    commit = _commit_json(server, repo, sha, verified=False)
    api = f"{server.url}/repos/{repo.full_name}"
    checks = repo.protected.get(branch)
    return _json_response(
        200,
        {
            "name": branch,
            "commit": {
                "url": f"{api}/commits/{sha}",
                "sha": sha,
                "node_id": commit["node_id"],
                "html_url": commit["html_url"],
                "comments_url": f"{api}/commits/{sha}/comments",
                "commit": {
                    "url": commit["url"],
                    "author": commit["author"],
                    "committer": commit["committer"],
                    "message": commit["message"],
                    "comment_count": 0,
                    "tree": commit["tree"],
                    "verification": commit["verification"],
                },
                # no GitHub account behind the test identities: the description's empty-object choice
                "author": {},
                "committer": {},
                "parents": commit["parents"],
            },
            "_links": {
                "html": f"{server.url}/{repo.full_name}/tree/{branch}",
                "self": f"{api}/branches/{branch}",
            },
            "protected": checks is not None,
            "protection": {
                "enabled": checks is not None,
                "required_status_checks": {
                    "enforcement_level": "off" if checks is None else "non_admins",
                    "contexts": checks or [],
                    "checks": [{"context": c, "app_id": None} for c in checks or []],
                },
            },
            "protection_url": f"{api}/branches/{branch}/protection",
        },
    )


@route("GET", "/repos/{owner}/{repo}/git/ref/{ref*}", ("contents", "read"), "read git refs")
def get_ref(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    ref = "refs/" + req.params["ref"]
    sha = g.ref_sha(repo.path, ref)
    if sha is None:
        raise HttpError(404, "Not Found")
    return _json_response(200, _ref_json(server, repo, ref, sha))


def _check_ref_rules(server: GitHubServer, repo: Repo, ref: str, old: str | None, new: str | None) -> None:
    why = []
    for _, rule in _active_rules(repo, ref):
        kind = rule.get("type")
        if kind == "deletion" and new is None:
            why.append("Cannot delete this reference")
        elif kind == "creation" and old is None:
            why.append("Cannot create this reference")
        elif kind == "update" and old is not None and new is not None:
            why.append("Cannot update this protected ref")
        elif kind == "pull_request" and new is not None:
            why.append("Changes must be made through a pull request")
        elif kind == "non_fast_forward" and old and new and not g.is_ancestor(repo.path, old, new):
            why.append("Cannot force-push to this branch")
    if new is not None:
        why += [f'Required status check "{c}" is expected' for c in _unmet_checks(server, repo, ref, new)]
    if why:
        raise HttpError(422, f"Repository rule violations found for {ref}: " + "; ".join(why))


@route("POST", "/repos/{owner}/{repo}/git/refs", ("contents", "write"), "create git refs")
def create_ref(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    body = _body(req)
    ref = _require(body, "ref", "Reference")
    sha = _require(body, "sha", "Reference")
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise HttpError(422, "Reference name is not valid")
    if g.object_type(repo.path, sha) is None:
        raise HttpError(422, "Object does not exist")
    if g.ref_sha(repo.path, ref) is not None:
        raise HttpError(422, "Reference already exists")
    _check_ref_rules(server, repo, ref, None, sha)
    g.update_ref(repo.path, ref, sha, None)
    body_json = _ref_json(server, repo, ref, sha)
    return _json_response(201, body_json, body_json["url"])


@route("PATCH", "/repos/{owner}/{repo}/git/refs/{ref*}", ("contents", "write"), "update git refs")
def update_ref(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    ref = "refs/" + req.params["ref"]
    body = _body(req)
    sha = _require(body, "sha", "Reference")
    old = g.ref_sha(repo.path, ref)
    if old is None:
        raise HttpError(422, "Reference does not exist")
    if g.object_type(repo.path, sha) is None:
        raise HttpError(422, "Object does not exist")
    if not body.get("force") and not g.is_ancestor(repo.path, old, sha):
        raise HttpError(422, "Update is not a fast forward")
    _check_ref_rules(server, repo, ref, old, sha)
    try:
        g.update_ref(repo.path, ref, sha, old)
    except g.GitError as err:
        raise HttpError(409, "Reference update failed: the ref moved meanwhile") from err
    return _json_response(200, _ref_json(server, repo, ref, sha))


@route("DELETE", "/repos/{owner}/{repo}/git/refs/{ref*}", ("contents", "write"), "delete git refs")
def delete_ref(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    ref = "refs/" + req.params["ref"]
    old = g.ref_sha(repo.path, ref)
    if old is None:
        raise HttpError(422, "Reference does not exist")
    _check_ref_rules(server, repo, ref, old, None)
    g.delete_ref(repo.path, ref)
    return Response(204)


# -- deployments -----------------------------------------------------------------------------------------------------


def _environment(server: GitHubServer, repo: Repo, name: str) -> Environment:
    env = repo.environments.get(name)
    if env is None:
        now = o.now_iso()
        env = Environment(next(server.ids), name, now, now)
        repo.environments[name] = env
    return env


@route("POST", "/repos/{owner}/{repo}/deployments", ("deployments", "write"), "create deployments")
def create_deployment(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    body = _body(req)
    ref = _require(body, "ref", "Deployment")
    sha = g.resolve(repo.path, ref)
    if sha is None:
        raise validation_failed(f"No ref found for: {ref}", "Deployment", "custom", "ref")
    required = body.get("required_contexts")
    contexts = [s["context"] for s in _latest_statuses(repo, sha)] if required is None else required
    failing = [c for c in contexts if not _check_passes(repo, sha, c)]
    if failing:
        raise HttpError(
            409,
            f"Conflict: Commit status checks failed for {ref}.",
            errors=[
                {
                    "contexts": [{"context": c, "state": "pending"} for c in failing],
                    "resource": "Deployment",
                    "field": "required_contexts",
                    "code": "invalid",
                }
            ],
        )
    environment = body.get("environment") or "production"
    _environment(server, repo, environment)
    dep_id = next(server.ids)
    now = o.now_iso()
    url = f"{server.url}/repos/{repo.full_name}/deployments/{dep_id}"
    assert req.grant is not None
    deployment = {
        "url": url,
        "id": dep_id,
        "node_id": o.node_id("Deployment", dep_id),
        "sha": sha,
        "ref": ref,
        "task": body.get("task") or "deploy",
        "payload": body.get("payload") if body.get("payload") is not None else {},
        "original_environment": environment,
        "environment": environment,
        "description": body.get("description"),
        "creator": server.user_json(req.grant.login),
        "created_at": now,
        "updated_at": now,
        "statuses_url": f"{url}/statuses",
        "repository_url": f"{server.url}/repos/{repo.full_name}",
        "transient_environment": bool(body.get("transient_environment", False)),
        "production_environment": bool(body.get("production_environment", environment == "production")),
    }
    repo.deployments[dep_id] = deployment
    repo.deployment_statuses[dep_id] = []
    return _json_response(201, deployment, url)


@route("GET", "/repos/{owner}/{repo}/deployments", ("deployments", "read"), "read deployments")
def list_deployments(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    found = [
        d
        for d in sorted(repo.deployments.values(), key=lambda d: -int(d["id"]))
        if all(req.query.get(k) in (None, d[k]) for k in ("sha", "ref", "task", "environment"))
    ]
    return _json_response(200, _page(req, found))


def _deployment(repo: Repo, req: Request) -> JSON:
    deployment = repo.deployments.get(int(req.params["id"]))
    if deployment is None:
        raise HttpError(404, "Not Found")
    return deployment


@route("GET", "/repos/{owner}/{repo}/deployments/{id}", ("deployments", "read"), "read deployments")
def get_deployment(server: GitHubServer, req: Request) -> Response:
    return _json_response(200, _deployment(_repo(server, req), req))


_DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")


@route(
    "POST",
    "/repos/{owner}/{repo}/deployments/{id}/statuses",
    ("deployments", "write"),
    "create deployment statuses",
)
def create_deployment_status(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    deployment = _deployment(repo, req)
    body = _body(req)
    state = _require(body, "state", "DeploymentStatus")
    if state not in _DEPLOYMENT_STATES:
        raise validation_failed(f"state {state!r} is not valid", "DeploymentStatus", "invalid", "state")
    status_id = next(server.ids)
    now = o.now_iso()
    assert req.grant is not None
    log_url = body.get("log_url") or body.get("target_url") or ""
    status = {
        "url": f"{deployment['url']}/statuses/{status_id}",
        "id": status_id,
        "node_id": o.node_id("DeploymentStatus", status_id),
        "state": state,
        "creator": server.user_json(req.grant.login),
        "description": body.get("description") or "",
        "environment": body.get("environment") or deployment["environment"],
        "target_url": log_url,
        "log_url": log_url,
        "environment_url": body.get("environment_url") or "",
        "created_at": now,
        "updated_at": now,
        "deployment_url": deployment["url"],
        "repository_url": deployment["repository_url"],
    }
    # a new success marks the environment's earlier successful deployments inactive (auto_inactive)
    if state == "success" and body.get("auto_inactive", True):
        for other_id, statuses in repo.deployment_statuses.items():
            other = repo.deployments[other_id]
            if (
                other_id != deployment["id"]
                and other["environment"] == deployment["environment"]
                and statuses
                and statuses[-1]["state"] == "success"
            ):
                statuses.append(
                    {**statuses[-1], "id": next(server.ids), "state": "inactive", "created_at": now}
                )
    repo.deployment_statuses[deployment["id"]].append(status)
    return _json_response(201, status, status["url"])


@route(
    "GET",
    "/repos/{owner}/{repo}/deployments/{id}/statuses",
    ("deployments", "read"),
    "read deployment statuses",
)
def list_deployment_statuses(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    deployment = _deployment(repo, req)
    return _json_response(200, _page(req, list(reversed(repo.deployment_statuses[deployment["id"]]))))


# -- actions: workflows, dispatches, runs ----------------------------------------------------------------------------


def _workflow(repo: Repo, key: str) -> Workflow:
    for wf in repo.workflows.values():
        if str(wf.id) == key or wf.path.rsplit("/", 1)[-1] == key:
            return wf
    raise HttpError(404, "Not Found")


def _workflow_json(server: GitHubServer, repo: Repo, wf: Workflow) -> JSON:
    return {
        "id": wf.id,
        "node_id": o.node_id("Workflow", wf.id),
        "name": wf.name,
        "path": wf.path,
        "state": "active",
        "created_at": wf.created,
        "updated_at": wf.created,
        "url": f"{server.url}/repos/{repo.full_name}/actions/workflows/{wf.id}",
        "html_url": f"{server.url}/{repo.full_name}/blob/{repo.default_branch}/{wf.path}",
        "badge_url": f"{server.url}/{repo.full_name}/workflows/{wf.name}/badge.svg",
    }


@route("GET", "/repos/{owner}/{repo}/actions/workflows/{workflow}", ("actions", "read"), "read workflows")
def get_workflow(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    return _json_response(200, _workflow_json(server, repo, _workflow(repo, req.params["workflow"])))


@route(
    "POST",
    "/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches",
    ("actions", "write"),
    "dispatch workflows",
)
def dispatch_workflow(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    wf = _workflow(repo, req.params["workflow"])
    body = _body(req)
    ref = _require(body, "ref", "Workflow")
    inputs = body.get("inputs") or {}
    if len(inputs) > 25:
        raise HttpError(422, "inputs are too large: a workflow_dispatch takes at most 25 inputs")
    short = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    sha = g.resolve(repo.path, ref)
    if sha is None:
        raise HttpError(422, f"No ref found for: {ref}")
    run_number = 1 + sum(1 for r in repo.runs.values() if r.workflow_id == wf.id)
    run = Run(
        next(server.ids),
        wf.id,
        run_number,
        short,
        sha,
        "workflow_dispatch",
        o.now_iso(),
        script=list(wf.script),
    )
    repo.runs[run.id] = run
    assert req.grant is not None
    repo.dispatches.append(Dispatch(wf.id, wf.path, ref, inputs, req.grant.login, run.id))
    if not body.get("return_run_details") or not wf.returns_run_details:
        return Response(204)
    api = f"{server.url}/repos/{repo.full_name}/actions/runs/{run.id}"
    return _json_response(
        200,
        {
            "workflow_run_id": run.id,
            "run_url": api,
            "html_url": f"{server.url}/{repo.full_name}/actions/runs/{run.id}",
        },
    )


def _run_json(server: GitHubServer, repo: Repo, run: Run) -> JSON:
    api = f"{server.url}/repos/{repo.full_name}/actions/runs/{run.id}"
    info = g.read_commit(repo.path, run.head_sha)
    wf = repo.workflows[run.workflow_id]
    repo_json = {k: v for k, v in server.repo_json(repo).items() if k != "permissions"}
    return {
        "id": run.id,
        "node_id": o.node_id("WorkflowRun", run.id),
        "name": wf.name,
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": wf.path,
        "display_title": wf.name,
        "run_number": run.run_number,
        "run_attempt": 1,
        "event": run.event,
        "status": run.status,
        "conclusion": run.conclusion,
        "workflow_id": wf.id,
        "url": api,
        "html_url": f"{server.url}/{repo.full_name}/actions/runs/{run.id}",
        "pull_requests": [],
        "created_at": run.created,
        "updated_at": o.now_iso(),
        "run_started_at": run.created,
        "jobs_url": f"{api}/jobs",
        "logs_url": f"{api}/logs",
        "check_suite_url": f"{api}/check-suite",
        "artifacts_url": f"{api}/artifacts",
        "cancel_url": f"{api}/cancel",
        "rerun_url": f"{api}/rerun",
        "workflow_url": f"{server.url}/repos/{repo.full_name}/actions/workflows/{wf.id}",
        "head_commit": o.simple_commit(
            run.head_sha,
            info.tree,
            info.message.rstrip("\n"),
            (info.author.name, info.author.email),
            run.created,
        ),
        "repository": repo_json,
        "head_repository": repo_json,
    }


def _advance(run: Run) -> None:
    if run.script:
        run.status, run.conclusion = run.script.pop(0)


@route("GET", "/repos/{owner}/{repo}/actions/runs/{id}", ("actions", "read"), "read workflow runs")
def get_run(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    run = repo.runs.get(int(req.params["id"]))
    if run is None:
        raise HttpError(404, "Not Found")
    _advance(run)
    return _json_response(200, _run_json(server, repo, run))


@route(
    "GET",
    "/repos/{owner}/{repo}/actions/workflows/{workflow}/runs",
    ("actions", "read"),
    "list workflow runs",
)
def list_runs(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    wf = _workflow(repo, req.params["workflow"])
    runs = [
        r
        for r in sorted(repo.runs.values(), key=lambda r: -r.id)
        if r.workflow_id == wf.id
        and req.query.get("event") in (None, r.event)
        and req.query.get("branch") in (None, r.head_branch)
        and req.query.get("head_sha") in (None, r.head_sha)
    ]
    return _json_response(
        200,
        {"total_count": len(runs), "workflow_runs": [_run_json(server, repo, r) for r in _page(req, runs)]},
    )


# -- environments -------------------------------------------------------------------------------------------------


def _environment_json(server: GitHubServer, repo: Repo, env: Environment) -> JSON:
    base = f"{server.url}/repos/{repo.full_name}/environments/{env.name}"
    rules: list[JSON] = []
    if env.wait_timer:
        rules.append(
            {
                "id": env.id * 10 + 1,
                "node_id": o.node_id("Gate", env.id * 10 + 1),
                "type": "wait_timer",
                "wait_timer": env.wait_timer,
            }
        )
    if env.reviewers:
        reviewers = []
        for kind, rid in env.reviewers:
            if kind == "User":
                login = next(name for name, uid in server.users.items() if uid == rid)
                reviewers.append({"type": "User", "reviewer": server.user_json(login)})
            else:
                org, slug = server.teams[rid]
                url = f"{server.url}/orgs/{org}/teams/{slug}"
                reviewers.append(
                    {
                        "type": "Team",
                        "reviewer": {
                            "id": rid,
                            "node_id": o.node_id("Team", rid),
                            "url": url,
                            "members_url": f"{url}/members{{/member}}",
                            "name": slug,
                            "description": None,
                            "permission": "pull",
                            "html_url": url,
                            "repositories_url": f"{url}/repos",
                            "slug": slug,
                            "parent": None,
                            "type": "team",
                        },
                    }
                )
        rules.append(
            {
                "id": env.id * 10 + 2,
                "node_id": o.node_id("Gate", env.id * 10 + 2),
                "type": "required_reviewers",
                "prevent_self_review": env.prevent_self_review,
                "reviewers": reviewers,
            }
        )
    if env.branch_policy:
        rules.append(
            {"id": env.id * 10 + 3, "node_id": o.node_id("Gate", env.id * 10 + 3), "type": "branch_policy"}
        )
    return {
        "id": env.id,
        "node_id": o.node_id("Environment", env.id),
        "name": env.name,
        "url": base,
        "html_url": f"{server.url}/{repo.full_name}/deployments/activity_log?environments_filter={env.name}",
        "created_at": env.created,
        "updated_at": env.updated,
        "protection_rules": rules,
        "deployment_branch_policy": env.branch_policy,
    }


def _env(repo: Repo, req: Request) -> Environment:
    env = repo.environments.get(req.params["env"])
    if env is None:
        raise HttpError(404, "Not Found")
    return env


@route("GET", "/repos/{owner}/{repo}/environments", ("actions", "read"), "read environments")
def list_environments(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    envs = [_environment_json(server, repo, e) for e in repo.environments.values()]
    return _json_response(200, {"total_count": len(envs), "environments": _page(req, envs)})


@route("GET", "/repos/{owner}/{repo}/environments/{env}", ("actions", "read"), "read environments")
def get_environment(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    return _json_response(200, _environment_json(server, repo, _env(repo, req)))


@route(
    "PUT",
    "/repos/{owner}/{repo}/environments/{env}",
    ("administration", "write"),
    "create or update environments",
)
def put_environment(server: GitHubServer, req: Request) -> Response:
    repo = _repo(server, req)
    body = req.body if isinstance(req.body, dict) else {}
    reviewers = []
    for item in body.get("reviewers") or []:
        kind, rid = item.get("type"), item.get("id")
        known = rid in server.users.values() if kind == "User" else rid in server.teams
        if not known:
            raise validation_failed(
                f"reviewer {kind} {rid} does not exist or has no access",
                "Environment",
                "invalid",
                "reviewers",
            )
        reviewers.append((kind, rid))
    if len(reviewers) > 6:
        raise validation_failed(
            "an environment takes at most 6 reviewers", "Environment", "invalid", "reviewers"
        )
    wait = int(body.get("wait_timer") or 0)
    if not 0 <= wait <= 43200:
        raise validation_failed(
            "wait_timer must be between 0 and 43200", "Environment", "invalid", "wait_timer"
        )
    policy = body.get("deployment_branch_policy")
    if policy is not None and policy.get("protected_branches") == policy.get("custom_branch_policies"):
        raise validation_failed(
            "exactly one of protected_branches and custom_branch_policies must be true",
            "Environment",
            "invalid",
            "deployment_branch_policy",
        )
    env = _environment(server, repo, req.params["env"])
    env.wait_timer, env.reviewers, env.branch_policy = wait, reviewers, policy
    env.prevent_self_review = bool(body.get("prevent_self_review", False))
    if policy is None or not policy.get("custom_branch_policies"):
        env.branch_policies.clear()
    env.updated = o.now_iso()
    return _json_response(200, _environment_json(server, repo, env))


def _policy_json(policy: JSON) -> JSON:
    return {
        "id": policy["id"],
        "node_id": o.node_id("GateBranchPolicy", policy["id"]),
        "name": policy["name"],
        "type": policy["type"],
    }


@route(
    "GET",
    "/repos/{owner}/{repo}/environments/{env}/deployment-branch-policies",
    ("actions", "read"),
    "read deployment branch policies",
)
def list_branch_policies(server: GitHubServer, req: Request) -> Response:
    env = _env(_repo(server, req), req)
    items = [_policy_json(p) for p in env.branch_policies.values()]
    return _json_response(200, {"total_count": len(items), "branch_policies": _page(req, items)})


@route(
    "POST",
    "/repos/{owner}/{repo}/environments/{env}/deployment-branch-policies",
    ("administration", "write"),
    "create deployment branch policies",
)
def create_branch_policy(server: GitHubServer, req: Request) -> Response:
    env = _env(_repo(server, req), req)
    body = _body(req)
    name = _require(body, "name", "DeploymentBranchPolicy")
    kind = body.get("type", "branch")
    if not (env.branch_policy or {}).get("custom_branch_policies"):
        raise HttpError(404, "Not Found")
    for existing in env.branch_policies.values():
        if existing["name"] == name and existing["type"] == kind:
            return Response(
                303,
                None,
                {
                    "Location": f"{server.url}/repos/{req.params['owner']}/{req.params['repo']}/environments/{env.name}/deployment-branch-policies/{existing['id']}"
                },
            )
    policy = {"id": next(server.ids), "name": name, "type": kind}
    env.branch_policies[policy["id"]] = policy
    return _json_response(200, _policy_json(policy))


@route(
    "DELETE",
    "/repos/{owner}/{repo}/environments/{env}/deployment-branch-policies/{id}",
    ("administration", "write"),
    "delete deployment branch policies",
)
def delete_branch_policy(server: GitHubServer, req: Request) -> Response:
    env = _env(_repo(server, req), req)
    if env.branch_policies.pop(int(req.params["id"]), None) is None:
        raise HttpError(404, "Not Found")
    return Response(204)


# -- GitHub Apps: installation lookup and installation tokens ------------------------------------------------------


def _app_from_jwt(server: GitHubServer, req: Request) -> App:
    import jwt

    if req.bearer is None:
        raise HttpError(401, "A JSON web token could not be decoded")
    try:
        claims = jwt.decode(req.bearer, options={"verify_signature": False})
        app = server.apps[int(claims["iss"])]
        jwt.decode(req.bearer, app.public_key_pem, algorithms=["RS256"], leeway=120)
    except (jwt.PyJWTError, KeyError, ValueError) as err:
        raise HttpError(401, "A JSON web token could not be decoded") from err
    return app


def _installation_json(server: GitHubServer, app: App, owner: str) -> JSON:
    url = f"{server.url}/app/installations/{app.installation_id}"
    return {
        "id": app.installation_id,
        "account": server.user_json(owner),
        "repository_selection": "selected",
        "access_tokens_url": f"{url}/access_tokens",
        "repositories_url": f"{server.url}/installation/repositories",
        "html_url": f"{server.url}/settings/installations/{app.installation_id}",
        "app_id": app.id,
        "app_slug": app.slug,
        "target_id": server.add_user(owner),
        "target_type": "User",
        "permissions": app.permissions,
        "events": [],
        "created_at": o.now_iso(),
        "updated_at": o.now_iso(),
        "single_file_name": None,
        "suspended_by": None,
        "suspended_at": None,
    }


@route("GET", "/repos/{owner}/{repo}/installation", None, "find the app installation")
def get_installation(server: GitHubServer, req: Request) -> Response:
    app = _app_from_jwt(server, req)
    return _json_response(200, _installation_json(server, app, req.params["owner"]))


@route("POST", "/app/installations/{id}/access_tokens", None, "create installation tokens")
def create_installation_token(server: GitHubServer, req: Request) -> Response:
    app = _app_from_jwt(server, req)
    if int(req.params["id"]) != app.installation_id:
        raise HttpError(404, "Not Found")
    token = f"ghs_{next(server.ids)}{app.id}"
    server.add_token(token, app.permissions, login=f"{app.slug}[bot]")
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    return _json_response(
        201,
        {
            "token": token,
            "expires_at": expires,
            "permissions": app.permissions,
            "repository_selection": "selected",
        },
    )


# -- the HTTP server ----------------------------------------------------------------------------------------------------


def _http_handler(server: GitHubServer) -> type[BaseHTTPRequestHandler]:
    class HTTPHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if server.down:
                self.close_connection = True
                return
            raw = self.path
            if server.prefix and raw.startswith(server.prefix):
                raw = raw[len(server.prefix) :] or "/"
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = server.handle(self.command, raw, headers, body)
            payload = b"" if response.body is None else json.dumps(response.body).encode()
            etag = ""
            if self.command == "GET" and response.status == 200 and response.body is not None:
                etag = f'W/"{hashlib.sha256(payload).hexdigest()[:40]}"'
                if etag in [t.strip() for t in headers.get("if-none-match", "").split(",")]:
                    # as GitHub: Not Modified, no body, and a conditional request costs no rate limit
                    server.refund_request()
                    response, payload = Response(304), b""
            out_headers = {**server.rate_headers(), "x-github-request-id": f"TEST:{len(server.exchanges)}"}
            if etag:
                out_headers["ETag"] = etag
            if response.body is not None:
                out_headers["Content-Type"] = "application/json; charset=utf-8"
            out_headers.update(response.headers)
            if response.status == 403 and "rate limit exceeded" in str(
                (response.body or {}).get("message", "")
            ):
                out_headers["x-ratelimit-remaining"] = "0"
            path, _, query = raw.partition("?")
            exchange = Exchange(
                self.command, path, query, headers, body, response.status, out_headers, payload
            )
            server.exchanges.append(exchange)
            if server.on_exchange is not None:
                server.on_exchange(exchange)
            self.send_response(response.status)
            for name, value in out_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return HTTPHandler


@contextmanager
def serve_github(root: Path, prefix: str = "", git_http: bool = False) -> Iterator[GitHubServer]:
    """Start the API server (and, with git_http, the smart-HTTP git server over the same repositories)."""
    root.mkdir(parents=True, exist_ok=True)
    server = GitHubServer(root, prefix)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _http_handler(server))
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        if git_http:
            with serve_git(root) as git_server:
                server.git = git_server
                yield server
        else:
            yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
