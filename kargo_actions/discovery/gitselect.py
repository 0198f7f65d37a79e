"""Which commits a git subscription selects from its mirror, as Kargo's Warehouse does: the newest commits of
a branch that pass its path and expression filters, or its repository's tags, filtered and ordered by its
strategy (NewestTag, SemVer, Lexical)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from kargo_actions.discovery.gitcache import GitNothingDiscoveredError
from kargo_actions.discovery.gitlog import RS, US, stream_log
from kargo_actions.discovery.gitwatch import CompiledWatch, DiscoveredCommit, shorten_subject
from kargo_actions.discovery.monorepo import discovered_commit
from kargo_actions.regex import tag_allowed
from kargo_actions.semver import newest_first, parse_kargo_version
from kargo_actions.struct import struct


@struct
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


def select_from_branch(compiled: CompiledWatch, mirror: Path, ref: str) -> list[DiscoveredCommit]:
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


def select_from_tags(compiled: CompiledWatch, mirror: Path) -> list[DiscoveredCommit]:
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


def nothing_found(compiled: CompiledWatch, ref: str | None) -> GitNothingDiscoveredError:
    watch = compiled.watch
    if watch.commit_selection_strategy == "NewestFromBranch":
        where = f"branch {ref.removeprefix('refs/heads/') if ref else '?'}"
        what = "no commit on " + where
        hint = "check includePaths, excludePaths, expressionFilter and since"
    else:
        what = "no tag"
        hint = "check semverConstraint, strictSemvers, allowTagsRegexes, ignoreTagsRegexes, paths and expressionFilter"
    return GitNothingDiscoveredError(watch.subject, f"{what} passes the subscription's filters", hint)
