"""Git subscriptions: discover commits of a branch or tags the way Kargo's Warehouse does."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kargo_actions.discovery.gitcache import (
    GitAccess,
    GitBranchNotFoundError,
    GitDiscoveryError,
    GitMirrors,
    GitNothingDiscoveredError,
    RemoteRefs,
    ls_remote,
    redact,
)
from kargo_actions.discovery.gitlog import RS, US, stream_log
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
from kargo_actions.discovery.gitwatch import shorten_subject
from kargo_actions.discovery.monorepo import discovered_commit, select_branches
from kargo_actions.discovery.paths import PathFilter as PathFilter
from kargo_actions.discovery.paths import PathSelector as PathSelector
from kargo_actions.errors import InvalidInputError
from kargo_actions.freight.identity import normalize_git_url
from kargo_actions.regex import tag_allowed
from kargo_actions.semver import newest_first, parse_kargo_version


@dataclass(frozen=True)
class _Tag:
    name: str
    commit: str
    creator_date: datetime
    tagger: str
    annotation: str
    author: str
    committer: str
    subject: str
    commit_date: datetime


_TAG_FIELDS = [
    "%(refname:lstrip=2)",
    "%(objecttype)",
    "%(objectname)",
    "%(*objecttype)",
    "%(*objectname)",
    "%(creatordate:iso-strict)",
    "%(taggername) %(taggeremail)",
    "%(contents:subject)",
    "%(contents:body)",
    "%(authorname) %(authoremail)",
    "%(*authorname) %(*authoremail)",
    "%(committername) %(committeremail)",
    "%(*committername) %(*committeremail)",
    "%(subject)",
    "%(*subject)",
    "%(committerdate:iso-strict)",
    "%(*committerdate:iso-strict)",
]


def _list_tags(mirror: Path) -> list[_Tag]:
    """Every tag with its commit's metadata, newest creation first (one for-each-ref process)."""
    out = subprocess.run(
        [
            "git",
            "for-each-ref",
            "--sort=-creatordate",
            "--format=" + US.join(_TAG_FIELDS) + RS,
            "refs/tags",
        ],
        cwd=mirror,
        capture_output=True,
        text=True,
        errors="replace",
        check=True,
    ).stdout
    tags = []
    for record in out.split(RS):
        record = record.lstrip("\n")
        if not record:
            continue
        (
            name,
            otype,
            oid,
            ptype,
            poid,
            created,
            tagger,
            subj,
            body,
            author,
            pauthor,
            committer,
            pcommitter,
            subject,
            psubject,
            cdate,
            pcdate,
        ) = record.split(US)
        if otype == "commit":
            tags.append(
                _Tag(name, oid, _parse_date(created), "", "", author, committer, subject, _parse_date(cdate))
            )
        elif otype == "tag" and ptype == "commit":
            annotation = "\n\n".join(p for p in (subj, body.strip()) if p)
            tags.append(
                _Tag(
                    name,
                    poid,
                    _parse_date(created),
                    tagger.strip(),
                    annotation,
                    pauthor,
                    pcommitter,
                    psubject,
                    _parse_date(pcdate),
                )
            )
        # tags of trees or blobs (or of other tags) point at no commit: Kargo cannot use them either
    return tags


def _parse_date(text: str) -> datetime:
    return datetime.fromisoformat(text) if text else datetime.fromtimestamp(0).astimezone()


# ---- selection ----


def _select_from_branch(compiled: CompiledWatch, mirror: Path, ref: str) -> list[DiscoveredCommit]:
    watch = compiled.watch
    args = ["--first-parent", "--no-renames", "--no-color", ref]
    pathspecs: list[str] = []
    if compiled.paths.active:
        args[:0] = ["--name-only", "--diff-merges=first-parent"]
        pathspecs = compiled.paths.pathspecs()
    elif compiled.predicate is None and watch.since is None:
        args[:0] = [f"--max-count={watch.discovery_limit}"]
    args += ["--", *pathspecs]
    since = watch.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    found: list[DiscoveredCommit] = []
    log = stream_log(mirror, args)
    try:
        for entry in log:
            if since is not None and entry.commit_date < since:
                break  # Kargo stops at the first commit older than `since`
            if compiled.predicate is not None and not compiled.predicate(
                {
                    "id": entry.id,
                    "commitDate": entry.commit_date,
                    "author": entry.author,
                    "committer": entry.committer,
                    "subject": entry.subject,
                }
            ):
                continue
            if compiled.paths.active and not compiled.paths.qualifies(entry.paths):
                continue
            found.append(discovered_commit(watch, entry))
            if len(found) >= watch.discovery_limit:
                break
    finally:
        log.close()
    return found


def _tag_allowed(compiled: CompiledWatch, tag: str) -> bool:
    return tag_allowed(tag, compiled.allow, compiled.ignore)


def _order_tags(compiled: CompiledWatch, tags: list[_Tag]) -> list[_Tag]:
    strategy = compiled.watch.commit_selection_strategy
    if strategy == "SemVer":
        by_version = {}
        for tag in tags:
            version = parse_kargo_version(tag.name, strict=compiled.watch.strict_semvers)
            if version is not None and (compiled.constraint is None or compiled.constraint.check(version)):
                by_version[tag.name] = (version, tag)
        ordered = newest_first(v for v, _ in by_version.values())
        return [by_version[v.original][1] for v in ordered]
    if strategy == "Lexical":
        return sorted(tags, key=lambda t: t.name.encode(), reverse=True)
    return sorted(tags, key=lambda t: t.creator_date, reverse=True)  # NewestTag; stable on for-each-ref order


def _changed_paths(mirror: Path, commits: Sequence[str]) -> dict[str, list[str]]:
    """Changed paths of many commits from ONE `git log --no-walk` process."""
    result: dict[str, list[str]] = {}
    log = stream_log(
        mirror,
        ["--no-walk=unsorted", "--stdin", "--name-only", "--no-renames", "--diff-merges=first-parent"],
        stdin="".join(f"{c}\n" for c in dict.fromkeys(commits)),
    )
    for entry in log:
        result[entry.id] = entry.paths
    return result


def _select_from_tags(compiled: CompiledWatch, mirror: Path) -> list[DiscoveredCommit]:
    watch = compiled.watch
    tags = [t for t in _list_tags(mirror) if _tag_allowed(compiled, t.name)]
    if compiled.predicate is not None:
        tags = [
            t
            for t in tags
            if compiled.predicate(
                {
                    "tag": t.name,
                    "id": t.commit,
                    "creatorDate": t.creator_date,
                    "author": t.author,
                    "committer": t.committer,
                    "subject": t.subject,
                    "tagger": t.tagger,
                    "annotation": t.annotation,
                }
            )
        ]
    tags = _order_tags(compiled, tags)
    if compiled.paths.active:
        kept: list[_Tag] = []
        start, batch = 0, max(2 * watch.discovery_limit, 32)
        while start < len(tags) and len(kept) < watch.discovery_limit:
            chunk = tags[start : start + batch]
            paths = _changed_paths(mirror, [t.commit for t in chunk])
            kept += [t for t in chunk if compiled.paths.qualifies(paths.get(t.commit, []))]
            start, batch = start + batch, batch * 2
        tags = kept
    return [
        DiscoveredCommit(
            repo_url=watch.repo_url,
            id=t.commit,
            subject=shorten_subject(t.subject),
            author=t.author,
            committer=t.committer,
            commit_date=t.commit_date,
            creator_date=t.creator_date,
            tag=t.name,
            tagger=t.tagger,
            annotation=t.annotation,
        )
        for t in tags[: watch.discovery_limit]
    ]


def _nothing_found(compiled: CompiledWatch, ref: str | None) -> GitNothingDiscoveredError:
    watch = compiled.watch
    if watch.commit_selection_strategy == "NewestFromBranch":
        where = f"branch {ref.removeprefix('refs/heads/') if ref else '?'}"
        what = "no commit on " + where
        hint = "check includePaths, excludePaths, expressionFilter and since"
    else:
        what = "no tag"
        hint = "check semverConstraint, strictSemvers, allowTagsRegexes, ignoreTagsRegexes, paths and expressionFilter"
    return GitNothingDiscoveredError(watch.subject, f"{what} passes the subscription's filters", hint)


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
            commits = _select_from_branch(compiled, mirror, ref)
        else:
            commits = _select_from_tags(compiled, mirror)
    except (RuntimeError, subprocess.CalledProcessError, ValueError, InvalidInputError) as err:
        cause = (
            f"expressionFilter failed: {err}"
            if watch.expression_filter
            else f"reading the repository failed: {err}"
        )
        return GitDiscoveryResult(watch, state="", error=GitDiscoveryError(watch.subject, cause))
    if not commits:
        return GitDiscoveryResult(watch, state="", error=_nothing_found(compiled, ref))
    return GitDiscoveryResult(watch, state=refs_state(watch, remote), commits=tuple(commits))


def discover_git_one(watch: GitWatch, previous_state: str | None = None) -> GitDiscoveryResult:
    """Discover one subscription and raise its error, for callers that want exceptions."""
    (result,) = discover_git([GitQuery(watch, previous_state)])
    if result.error is not None:
        raise result.error
    return result
