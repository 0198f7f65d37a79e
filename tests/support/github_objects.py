"""JSON bodies in the shapes GitHub's REST API returns (users, repositories, pulls, statuses, ...).

Each builder fills every field GitHub's OpenAPI description marks required; the test fixture checks that.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

JSON = dict[str, Any]


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"{kind}:{number}".encode()).decode()


def user(api: str, login: str, user_id: int, kind: str = "User") -> JSON:
    base = f"{api}/users/{login}"
    return {
        "login": login,
        "id": user_id,
        "node_id": node_id(kind, user_id),
        "avatar_url": f"{api}/avatars/{login}",
        "gravatar_id": "",
        "url": base,
        "html_url": f"{api}/{login}",
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": kind,
        "site_admin": False,
    }


def public_user(api: str, login: str, user_id: int, created: str) -> JSON:
    return {
        **user(api, login, user_id),
        "name": login,
        "company": None,
        "blog": None,
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "public_repos": 1,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": created,
        "updated_at": created,
        "user_view_type": "public",
    }


_REPO_URLS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def repository(
    api: str, owner: JSON, name: str, repo_id: int, default_branch: str, clone_url: str, created: str
) -> JSON:
    full = f"{owner['login']}/{name}"
    url = f"{api}/repos/{full}"
    body: JSON = {
        "id": repo_id,
        "node_id": node_id("Repository", repo_id),
        "name": name,
        "full_name": full,
        "owner": owner,
        "private": True,
        "html_url": f"{api}/{full}",
        "description": None,
        "fork": False,
        "url": url,
        **{key: url + suffix for key, suffix in _REPO_URLS.items()},
        "clone_url": clone_url,
        "git_url": clone_url,
        "ssh_url": clone_url,
        "svn_url": clone_url,
        "mirror_url": None,
        "homepage": None,
        "language": None,
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 0,
        "default_branch": default_branch,
        "open_issues": 0,
        "open_issues_count": 0,
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": False,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "visibility": "private",
        "license": None,
        "pushed_at": created,
        "created_at": created,
        "updated_at": created,
        "network_count": 0,
        "subscribers_count": 0,
        "allow_merge_commit": True,
        "allow_squash_merge": True,
        "allow_rebase_merge": True,
    }
    return body


def team_full(api: str, org: str, slug: str, team_id: int, created: str) -> JSON:
    """GET /orgs/{org}/teams/{team_slug}: a team with its organization (components/schemas/team-full)."""
    url = f"{api}/organizations/1/team/{team_id}"
    org_url = f"{api}/orgs/{org}"
    return {
        "id": team_id,
        "node_id": node_id("Team", team_id),
        "url": url,
        "html_url": f"{api.replace('/api/v3', '')}/orgs/{org}/teams/{slug}",
        "name": slug.replace("-", " ").title(),
        "slug": slug,
        "description": None,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "members_url": f"{url}/members{{/member}}",
        "repositories_url": f"{url}/repos",
        "parent": None,
        "members_count": 3,
        "repos_count": 1,
        "created_at": created,
        "updated_at": created,
        "type": "organization",
        "organization_id": 1,
        "organization": {
            "login": org,
            "id": 1,
            "node_id": node_id("Organization", 1),
            "url": org_url,
            "repos_url": f"{org_url}/repos",
            "events_url": f"{org_url}/events",
            "hooks_url": f"{org_url}/hooks",
            "issues_url": f"{org_url}/issues",
            "members_url": f"{org_url}/members{{/member}}",
            "public_members_url": f"{org_url}/public_members{{/member}}",
            "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4",
            "description": None,
            "html_url": f"https://github.com/{org}",
            "has_organization_projects": True,
            "has_repository_projects": True,
            "public_repos": 1,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "type": "Organization",
            "created_at": created,
            "updated_at": created,
            "archived_at": None,
        },
    }


def label(api: str, full: str, name: str, label_id: int) -> JSON:
    return {
        "id": label_id,
        "node_id": node_id("Label", label_id),
        "url": f"{api}/repos/{full}/labels/{name}",
        "name": name,
        # "" rather than null: the list-pulls schema (pull-request-simple) admits no null description
        "description": "",
        "color": "ededed",
        "default": False,
    }


def simple_commit(sha: str, tree: str, message: str, author: tuple[str, str], when: str) -> JSON:
    return {
        "id": sha,
        "tree_id": tree,
        "message": message,
        "timestamp": when,
        "author": {"name": author[0], "email": author[1]},
        "committer": {"name": author[0], "email": author[1]},
    }


def basic_error(message: str, status: int, doc: str = "https://docs.github.com/rest") -> JSON:
    return {"message": message, "documentation_url": doc, "status": str(status)}
