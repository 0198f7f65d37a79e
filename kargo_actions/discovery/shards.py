"""Discovery sharded across matrix jobs: Warehouse groups, and which of them an event concerns.

Warehouses that share a source (one git repository, one image registry, one chart repository host) stay
in one group, so one job fetches that mirror or asks that registry once and its cache (actions/cache of
KARGO_ACTIONS_CACHE) serves every Warehouse of it. A `push` or a `repository_dispatch` naming repositories
and paths starts only the groups holding a Warehouse that watches them (path-aware routing); every group
writes its Freight to the ledger by compare-and-swap, so groups neither lose nor duplicate Freight.
Everything here is pure: the manifests and the event's payload in, the groups out.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.freight.urls import normalize_chart_url, normalize_git_url, normalize_image_url
from kargo_actions.model.project import Project
from kargo_actions.model.warehouse import GitSubscription, RepoSubscription, Warehouse
from kargo_actions.struct import struct

# GitHub lists at most this many commits in a push event's payload: a longer push's paths are unknown
PUSH_COMMITS_LIMIT = 2048


@struct
class WarehouseGroup:
    """Warehouses discovered by one matrix job; `key` names its cache (stable while its sources are)."""

    name: str
    key: str
    warehouses: tuple[str, ...]
    sources: tuple[str, ...]


@struct
class GroupRun:
    """One matrix entry: a group and the Warehouses of it the event concerns."""

    group: str
    key: str
    warehouses: tuple[str, ...]


@struct
class GroupPlan:
    runs: tuple[GroupRun, ...]
    skipped: tuple[str, ...]  # Warehouses the event does not concern
    reason: str

    def wire(self) -> dict[str, Any]:
        """What `discover --plan-groups` prints: `groups` is the matrix's `include` list."""
        return {
            "groups": [
                {"group": r.group, "key": r.key, "warehouses": " ".join(r.warehouses)} for r in self.runs
            ],
            "count": len(self.runs),
            "skipped": list(self.skipped),
            "reason": self.reason,
        }


def _host(url: str) -> str:
    return urlsplit(url if "://" in url else "//" + url).netloc.rpartition("@")[2].lower() or url


def source_key(sub: RepoSubscription) -> str:
    """What a subscription reads: `git URL`, `registry HOST` or `charts HOST`."""
    if sub.git is not None:
        return f"git {normalize_git_url(sub.git.repo_url)}"
    if sub.image is not None:
        first, _, rest = normalize_image_url(sub.image.repo_url).partition("/")
        registry = first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"
        return f"registry {registry}"
    return f"charts {_host(normalize_chart_url(sub.repo_url))}"


def group_warehouses(project: Project, threshold: int) -> list[WarehouseGroup]:
    """About ceil(Warehouses / threshold) groups; Warehouses sharing a source are never split (a group may
    then hold more than `threshold`). Deterministic: the same manifests give the same groups."""
    names = sorted(project.warehouses)
    parent = {name: name for name in names}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    owner: dict[str, str] = {}
    sources: dict[str, set[str]] = {name: set() for name in names}
    for name in names:
        for sub in project.warehouses[name].spec.subscriptions:
            key = source_key(sub)
            sources[name].add(key)
            if key in owner:
                parent[root(name)] = root(owner[key])
            else:
                owner[key] = name
    components: dict[str, list[str]] = {}
    for name in names:
        components.setdefault(root(name), []).append(name)
    wanted = max(1, math.ceil(len(names) / threshold)) if names else 0
    bins: list[list[str]] = [[] for _ in range(min(wanted, len(components)))]
    # largest first into the emptiest group: groups end up about the same size
    for members in sorted(components.values(), key=lambda m: (-len(m), m[0])):
        min(bins, key=len).extend(members)
    groups: list[WarehouseGroup] = []
    for members in sorted((sorted(b) for b in bins if b), key=lambda m: m[0]):
        keys = sorted({k for n in members for k in sources[n]})
        digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:12]
        groups.append(WarehouseGroup(f"group-{len(groups) + 1}", digest, tuple(members), tuple(keys)))
    return groups


def plan_groups(
    project: Project, groups: Sequence[WarehouseGroup], event_name: str, payload: Mapping[str, Any]
) -> GroupPlan:
    """The matrix for one event: the groups holding a Warehouse it concerns, with those Warehouses only."""
    chosen, reason = _concerned(project, event_name, payload)
    runs = []
    for group in groups:
        mine = tuple(n for n in group.warehouses if n in chosen)
        if mine:
            runs.append(GroupRun(group.name, group.key, mine))
    skipped = tuple(n for n in sorted(project.warehouses) if n not in chosen)
    return GroupPlan(tuple(runs), skipped, reason)


def _concerned(project: Project, event_name: str, payload: Mapping[str, Any]) -> tuple[set[str], str]:
    every = set(project.warehouses)
    if event_name == "push":
        return _pushed(project, payload)
    if event_name == "repository_dispatch":
        return _dispatched(project, payload.get("client_payload") or {})
    if event_name == "workflow_dispatch":
        inputs = payload.get("inputs") or {}
        named = _names(project, inputs.get("warehouses"), "inputs.warehouses")
        return (named, "workflow_dispatch: the Warehouses named") if named else (every, "workflow_dispatch")
    if event_name == "schedule":
        from kargo_actions.github.workflow_parts import cron_for

        cron = str(payload.get("schedule") or "")
        due = {n for n, w in project.warehouses.items() if cron_for(w.spec.interval) == cron}
        return (
            (due, f"schedule {cron}") if due else (every, f"schedule {cron or '(unknown)'}: every Warehouse")
        )
    return every, f"{event_name or 'no event'}: every Warehouse"


def _names(project: Project, value: object, where: str) -> set[str]:
    """Warehouse names given as a space-separated string or a list; an unknown one is bad input."""
    names = _strings(value)
    unknown = [n for n in names if n not in project.warehouses]
    if unknown:
        known = ", ".join(sorted(project.warehouses)) or "none"
        raise InvalidInputError(
            [Problem(path=where, message=f"no Warehouse {n!r}", hint=f"Warehouses: {known}") for n in unknown]
        )
    return set(names)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    return []


def _pushed(project: Project, payload: Mapping[str, Any]) -> tuple[set[str], str]:
    """Warehouses with a git subscription of the pushed repository and ref whose paths the push touched."""
    repository = payload.get("repository") or {}
    keys = ("clone_url", "html_url", "ssh_url")
    urls = {_repository_key(str(repository[k])) for k in keys if repository.get(k)}
    ref = str(payload.get("ref") or "")
    default_branch = str(repository.get("default_branch") or "")
    paths = _pushed_paths(payload)
    chosen = set()
    for name, warehouse in project.warehouses.items():
        for git in _git_subscriptions(warehouse):
            if urls and _repository_key(git.repo_url) not in urls:
                continue
            if not _ref_watched(git, ref, default_branch):
                continue
            if paths is None or ref.startswith("refs/tags/") or _paths_qualify(git, paths):
                chosen.add(name)
    known = "unknown paths" if paths is None else f"{len(paths)} changed path(s)"
    return chosen, f"push to {ref or '(no ref)'}: {known}"


def _pushed_paths(payload: Mapping[str, Any]) -> set[str] | None:
    """Paths the push changed, or None when the payload cannot tell (no commits listed, or cut short)."""
    commits = payload.get("commits")
    if not isinstance(commits, list) or not commits or len(commits) >= PUSH_COMMITS_LIMIT:
        return None
    paths: set[str] = set()
    for commit in commits:
        for field in ("added", "modified", "removed"):
            paths.update(str(p) for p in (commit.get(field) or []))
    return paths


def _ref_watched(git: GitSubscription, ref: str, default_branch: str) -> bool:
    if not ref:
        return True
    if ref.startswith("refs/tags/"):
        return git.commit_selection_strategy != "NewestFromBranch"
    if git.commit_selection_strategy != "NewestFromBranch":
        return False
    branch = ref.removeprefix("refs/heads/")
    return branch == (git.branch or default_branch or branch)


def _paths_qualify(git: GitSubscription, paths: Iterable[str]) -> bool:
    """Kargo's includePaths / excludePaths on the changed paths; a selector that does not parse says yes
    (discovery itself reports it)."""
    from kargo_actions.discovery.git import PathFilter, PathSelector

    try:
        selectors = PathFilter(
            tuple(PathSelector.parse(str(s)) for s in git.include_paths),
            tuple(PathSelector.parse(str(s)) for s in git.exclude_paths),
        )
    except ValueError:
        return True
    return not selectors.active or selectors.qualifies(paths)


def _git_subscriptions(warehouse: Warehouse) -> list[GitSubscription]:
    return [s.git for s in warehouse.spec.subscriptions if s.git is not None]


def _dispatched(project: Project, client_payload: Mapping[str, Any]) -> tuple[set[str], str]:
    """client_payload {"warehouses": ..., "repositories": [...], "paths": [...]}: the Warehouses named, and
    those watching a repository named (git ones only when a changed path is theirs); none given: all."""
    named = _names(project, client_payload.get("warehouses"), "client_payload.warehouses")
    repositories = _strings(client_payload.get("repositories"))
    paths = set(_strings(client_payload.get("paths"))) or None
    if not named and not repositories:
        return set(project.warehouses), "repository_dispatch: every Warehouse"
    wanted = {_repository_key(r) for r in repositories}
    for name, warehouse in project.warehouses.items():
        for sub in warehouse.spec.subscriptions:
            if _repository_key(sub.repo_url) not in wanted:
                continue
            if sub.git is not None and paths is not None and not _paths_qualify(sub.git, paths):
                continue
            named.add(name)
    return named, f"repository_dispatch: {len(repositories)} repositor(ies), {len(named)} Warehouse(s)"


def _repository_key(url: str) -> str:
    """One spelling per repository, whichever way the sender wrote it: no scheme, user, `.git` or case."""
    text = normalize_git_url(url) if ("://" in url or url.startswith("git@")) else normalize_image_url(url)
    if "://" in text:
        parts = urlsplit(text)
        text = parts.netloc.rpartition("@")[2] + parts.path
    return text.lower().removesuffix("/").removesuffix(".git")
