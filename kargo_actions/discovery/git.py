"""Git subscriptions: discover commits of a branch or tags the way Kargo's Warehouse does."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from kargo_actions.discovery.gitcache import (
    GitAccess,
    GitBranchNotFoundError,
    GitDiscoveryError,
    GitMirrors,
    RemoteRefs,
    ls_remote,
    redact,
)
from kargo_actions.discovery.gitselect import nothing_found, select_from_branch, select_from_tags
from kargo_actions.discovery.gitwatch import STRATEGIES as STRATEGIES
from kargo_actions.discovery.gitwatch import SUBJECT_LIMIT as SUBJECT_LIMIT
from kargo_actions.discovery.gitwatch import CompiledWatch as CompiledWatch
from kargo_actions.discovery.gitwatch import DiscoveredCommit as DiscoveredCommit
from kargo_actions.discovery.gitwatch import GitDiscoveryResult as GitDiscoveryResult
from kargo_actions.discovery.gitwatch import GitQuery as GitQuery
from kargo_actions.discovery.gitwatch import GitWatch as GitWatch
from kargo_actions.discovery.gitwatch import Strategy as Strategy
from kargo_actions.discovery.gitwatch import branch_ref as branch_ref
from kargo_actions.discovery.gitwatch import compile_expression_filter as compile_expression_filter
from kargo_actions.discovery.gitwatch import compile_watch as compile_watch
from kargo_actions.discovery.gitwatch import refs_state as refs_state
from kargo_actions.discovery.monorepo import select_branches
from kargo_actions.discovery.paths import PathFilter as PathFilter
from kargo_actions.discovery.paths import PathSelector as PathSelector
from kargo_actions.errors import InvalidInputError
from kargo_actions.freight.identity import normalize_git_url


def discover_git(
    queries: Sequence[GitQuery],
    *,
    mirrors: GitMirrors | None = None,
    env: Mapping[str, str] | None = None,
) -> list[GitDiscoveryResult]:
    """Discover every git subscription: one ls-remote per URL, at most one clone/fetch per URL, in query order.

    Bad subscription fields raise InvalidInputError before anything touches the network; failures of one
    repository are returned as that subscription's `error`, so the others still run.
    """
    compiled = [compile_watch(q.watch, where=f"subscriptions[{i}].git") for i, q in enumerate(queries)]
    mirrors = mirrors or GitMirrors()
    results: dict[int, GitDiscoveryResult] = {}
    groups: dict[str, list[int]] = {}
    for i, query in enumerate(queries):
        groups.setdefault(normalize_git_url(query.watch.repo_url), []).append(i)
    base_env = dict(env) if env is not None else None
    for indexes in groups.values():
        first = queries[indexes[0]].watch
        access = GitAccess(
            insecure_skip_tls_verify=any(queries[i].watch.insecure_skip_tls_verify for i in indexes),
            **({"env": base_env} if base_env is not None else {}),
        )
        try:
            remote = ls_remote(first.repo_url, access=access, subject=first.subject)
        except GitDiscoveryError as err:
            for i in indexes:
                results[i] = GitDiscoveryResult(
                    queries[i].watch, state="", error=err.for_subject(queries[i].watch.subject)
                )
            continue
        pending: list[int] = []
        for i in indexes:
            watch = queries[i].watch
            state = refs_state(watch, remote)
            if state == queries[i].previous_state:
                results[i] = GitDiscoveryResult(watch, state=state, unchanged=True)
            elif watch.commit_selection_strategy == "NewestFromBranch" and branch_ref(watch, remote) is None:
                branches = ", ".join(remote.branch_names()[:10]) or "none"
                results[i] = GitDiscoveryResult(
                    watch,
                    state="",
                    error=GitBranchNotFoundError(
                        watch.subject,
                        f"branch {watch.branch or '(default)'} does not exist in {redact(watch.repo_url)}",
                        f"branches there: {branches}",
                    ),
                )
            else:
                pending.append(i)
        if not pending:
            continue
        try:
            mirror = mirrors.sync(first.repo_url, remote, access=access, subject=first.subject)
        except GitDiscoveryError as err:
            for i in pending:
                results[i] = GitDiscoveryResult(
                    queries[i].watch, state="", error=err.for_subject(queries[i].watch.subject)
                )
            continue
        results.update(select_branches(compiled, queries, pending, mirror, remote))
        for i in pending:
            if i not in results:
                results[i] = _select(compiled[i], mirror, remote)
    return [results[i] for i in range(len(queries))]


def _select(compiled: CompiledWatch, mirror: Path, remote: RemoteRefs) -> GitDiscoveryResult:
    watch = compiled.watch
    ref = branch_ref(watch, remote)
    try:
        if watch.commit_selection_strategy == "NewestFromBranch":
            assert ref is not None
            commits = select_from_branch(compiled, mirror, ref)
        else:
            commits = select_from_tags(compiled, mirror)
    except (RuntimeError, subprocess.CalledProcessError, ValueError, InvalidInputError) as err:
        cause = (
            f"expressionFilter failed: {err}"
            if watch.expression_filter
            else f"reading the repository failed: {err}"
        )
        return GitDiscoveryResult(watch, state="", error=GitDiscoveryError(watch.subject, cause))
    if not commits:
        return GitDiscoveryResult(watch, state="", error=nothing_found(compiled, ref))
    return GitDiscoveryResult(watch, state=refs_state(watch, remote), commits=tuple(commits))


def discover_git_one(watch: GitWatch, previous_state: str | None = None) -> GitDiscoveryResult:
    """Discover one subscription and raise its error, for callers that want exceptions."""
    (result,) = discover_git([GitQuery(watch, previous_state)])
    if result.error is not None:
        raise result.error
    return result
