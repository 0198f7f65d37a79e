"""Git subscriptions: discover commits of a branch or tags the way Kargo's Warehouse does."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

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
from kargo_actions.discovery.paths import PathFilter as PathFilter
from kargo_actions.discovery.paths import PathSelector as PathSelector
from kargo_actions.discovery.versions import Constraint, newest_first, parse_constraint, parse_kargo_version
from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.freight.identity import normalize_git_url
from kargo_actions.freight.urls import SSH_DEPRECATION, is_ssh_git_url
from kargo_actions.model.freight import GitCommit
from kargo_actions.model.warehouse import GitSubscription
from kargo_actions.regex import GoRegex, compile_go_regex, tag_allowed

Strategy = Literal["NewestFromBranch", "SemVer", "Lexical", "NewestTag"]
STRATEGIES: tuple[Strategy, ...] = ("NewestFromBranch", "SemVer", "Lexical", "NewestTag")
SUBJECT_LIMIT = 80  # Kargo shortens subjects to 80 characters


@dataclass(frozen=True)
class GitWatch:
    """The fields of a Warehouse git subscription that discovery uses."""

    repo_url: str
    commit_selection_strategy: Strategy = "NewestFromBranch"
    branch: str = ""
    semver_constraint: str = ""
    strict_semvers: bool = True
    allow_tags_regexes: tuple[str, ...] = ()
    ignore_tags_regexes: tuple[str, ...] = ()
    expression_filter: str = ""
    include_paths: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()
    discovery_limit: int = 20
    since: datetime | None = None
    insecure_skip_tls_verify: bool = False
    name: str = ""

    @classmethod
    def from_subscription(cls, sub: GitSubscription, name: str | None = None) -> GitWatch:
        """From the Warehouse model (already validated by the manifest loader)."""
        since = datetime.fromisoformat(sub.since) if sub.since else None
        return cls(
            repo_url=sub.repo_url,
            commit_selection_strategy=sub.commit_selection_strategy,
            branch=sub.branch or "",
            semver_constraint=sub.semver_constraint or "",
            strict_semvers=sub.strict_semvers,
            allow_tags_regexes=tuple(sub.allow_tags_regexes),
            ignore_tags_regexes=tuple(sub.ignore_tags_regexes),
            expression_filter=sub.expression_filter or "",
            include_paths=tuple(sub.include_paths),
            exclude_paths=tuple(sub.exclude_paths),
            discovery_limit=sub.discovery_limit,
            since=since,
            insecure_skip_tls_verify=sub.insecure_skip_tls_verify,
            name=name or "",
        )

    @property
    def subject(self) -> str:
        """How messages name this subscription."""
        label = f"git subscription {self.repo_url}"
        if self.name:
            label += f" (name {self.name})"
        if self.commit_selection_strategy == "NewestFromBranch" and self.branch:
            label += f" branch {self.branch}"
        return label

    def fingerprint_fields(self) -> dict[str, Any]:
        fields = asdict(self)
        fields["since"] = self.since.isoformat() if self.since else None
        return fields


@dataclass(frozen=True)
class DiscoveredCommit:
    """One discovered commit (a branch commit, or the commit a tag points at), Kargo's DiscoveredCommit."""

    repo_url: str
    id: str
    subject: str
    author: str
    committer: str
    commit_date: datetime
    creator_date: datetime  # the commit date for branch commits, the tag's creation date for tags
    branch: str = ""
    tag: str = ""
    tagger: str = ""
    annotation: str = ""

    def to_freight_commit(self, subscription_name: str | None = None) -> GitCommit:
        """The Freight's commits[] entry."""
        return GitCommit.model_validate(
            {
                "repoURL": self.repo_url,
                "id": self.id,
                "branch": self.branch or None,
                "tag": self.tag or None,
                "message": self.subject,
                "author": self.author,
                "committer": self.committer,
                "subscriptionName": subscription_name,
            }
        )


@dataclass(frozen=True)
class GitQuery:
    """One subscription to discover, with the state the previous run returned for it (None on the first run)."""

    watch: GitWatch
    previous_state: str | None = None


@dataclass(frozen=True)
class GitDiscoveryResult:
    """What discovery found for one subscription.

    `unchanged` means the remote refs (and the subscription) are as they were at `previous_state`: nothing
    was fetched and `commits` is empty; the caller keeps what it recorded last time.
    """

    watch: GitWatch
    state: str
    commits: tuple[DiscoveredCommit, ...] = ()
    unchanged: bool = False
    error: GitDiscoveryError | None = None

    @property
    def warnings(self) -> tuple[str, ...]:
        """Kargo's SSH deprecation for an ssh:// or scp-style repoURL, which still works here as in Kargo."""
        if is_ssh_git_url(self.watch.repo_url):
            return (f"repoURL {redact(self.watch.repo_url)}: {SSH_DEPRECATION}; use an https:// URL",)
        return ()


# ---- expressionFilter hook ----

ExpressionPredicate = Callable[[Mapping[str, object]], bool]


_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def compile_expression_filter(expression: str, *, where: str) -> ExpressionPredicate | None:
    """The expressionFilter as a predicate over a commit's or tag's variables (None when empty).

    Like Kargo: a boolean result decides; any other result must read as a Go boolean ("true", "1", ...).
    """
    if not expression.strip():
        return None
    from kargo_actions.expressions import Environment, ExpressionError, compile_expression

    try:
        compiled = compile_expression(expression)
    except ExpressionError as err:
        raise InvalidInputError(
            [
                Problem(path=where, message=f"expressionFilter does not parse: {p.message}", hint=p.hint)
                for p in err.problems
            ]
        ) from err

    def predicate(variables: Mapping[str, object]) -> bool:
        result = compiled.evaluate(Environment(dict(variables)))
        if isinstance(result, bool):
            return result
        text = str(result)
        if text in _GO_TRUE or text in _GO_FALSE:
            return text in _GO_TRUE
        raise ValueError(f"expressionFilter {expression!r} gave {text!r}, which is not a boolean")

    return predicate


# ---- validation ----


@dataclass(frozen=True)
class _Compiled:
    watch: GitWatch
    paths: PathFilter
    allow: tuple[GoRegex, ...]
    ignore: tuple[GoRegex, ...]
    constraint: Constraint | None
    predicate: ExpressionPredicate | None


def compile_watch(watch: GitWatch, *, where: str = "git") -> _Compiled:
    """Check the subscription's patterns once; every problem is reported together."""
    problems: list[Problem] = []
    if watch.commit_selection_strategy not in STRATEGIES:
        problems.append(
            Problem(
                path=f"{where}.commitSelectionStrategy",
                message=f"{watch.commit_selection_strategy!r} is not one of {', '.join(STRATEGIES)}",
            )
        )
    if not 1 <= watch.discovery_limit <= 100:
        problems.append(Problem(path=f"{where}.discoveryLimit", message="must be between 1 and 100"))

    def selectors(field_name: str, texts: Sequence[str]) -> tuple[PathSelector, ...]:
        parsed = []
        for i, text in enumerate(texts):
            try:
                parsed.append(PathSelector.parse(text))
            except ValueError as err:
                problems.append(Problem(path=f"{where}.{field_name}[{i}]", message=str(err)))
        return tuple(parsed)

    def regexes(field_name: str, texts: Sequence[str]) -> tuple[GoRegex, ...]:
        compiled = []
        for i, text in enumerate(texts):
            try:
                compiled.append(compile_go_regex(text))  # RE2, Kargo's engine
            except ValueError as err:
                problems.append(Problem(path=f"{where}.{field_name}[{i}]", message=str(err)))
        return tuple(compiled)

    paths = PathFilter(
        selectors("includePaths", watch.include_paths), selectors("excludePaths", watch.exclude_paths)
    )
    allow = regexes("allowTagsRegexes", watch.allow_tags_regexes)
    ignore = regexes("ignoreTagsRegexes", watch.ignore_tags_regexes)
    constraint = None
    if watch.semver_constraint:
        constraint = parse_constraint(watch.semver_constraint)
        if constraint is None:
            problems.append(
                Problem(
                    path=f"{where}.semverConstraint",
                    message=f"{watch.semver_constraint!r} is not a semver constraint",
                    hint="e.g. ^1.2.0, ~1.2, >=1.0.0 <2.0.0",
                )
            )
    predicate = None
    try:
        predicate = compile_expression_filter(watch.expression_filter, where=f"{where}.expressionFilter")
    except InvalidInputError as err:
        problems.extend(err.problems)
    if problems:
        raise InvalidInputError(problems)
    return _Compiled(watch, paths, allow, ignore, constraint, predicate)


# ---- refs state ----


def _branch_ref(watch: GitWatch, remote: RemoteRefs) -> str | None:
    if watch.branch:
        ref = f"refs/heads/{watch.branch}"
        return ref if ref in remote.refs else None
    if remote.head and remote.head in remote.refs:
        return remote.head
    for fallback in ("refs/heads/main", "refs/heads/master"):
        if fallback in remote.refs:
            return fallback
    return None


def refs_state(watch: GitWatch, remote: RemoteRefs) -> str:
    """A digest of the subscription and of the refs it depends on: equal digests mean nothing to do."""
    if watch.commit_selection_strategy == "NewestFromBranch":
        ref = _branch_ref(watch, remote)
        watched = {ref: remote.refs[ref]} if ref else {}
    else:
        watched = {r: sha for r, sha in remote.refs.items() if r.startswith("refs/tags/")}
    material = json.dumps({"watch": watch.fingerprint_fields(), "refs": watched}, sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


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


def _shorten(text: str) -> str:
    return text[: SUBJECT_LIMIT - 3] + "..." if len(text) > SUBJECT_LIMIT else text


# ---- selection ----


def _select_from_branch(compiled: _Compiled, mirror: Path, ref: str) -> list[DiscoveredCommit]:
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
            found.append(
                DiscoveredCommit(
                    repo_url=watch.repo_url,
                    id=entry.id,
                    subject=_shorten(entry.subject),
                    author=entry.author,
                    committer=entry.committer,
                    commit_date=entry.commit_date,
                    creator_date=entry.commit_date,
                    branch=watch.branch,
                )
            )
            if len(found) >= watch.discovery_limit:
                break
    finally:
        log.close()
    return found


def _tag_allowed(compiled: _Compiled, tag: str) -> bool:
    return tag_allowed(tag, compiled.allow, compiled.ignore)


def _order_tags(compiled: _Compiled, tags: list[_Tag]) -> list[_Tag]:
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


def _select_from_tags(compiled: _Compiled, mirror: Path) -> list[DiscoveredCommit]:
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
            subject=_shorten(t.subject),
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


def _nothing_found(compiled: _Compiled, ref: str | None) -> GitNothingDiscoveredError:
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
            elif watch.commit_selection_strategy == "NewestFromBranch" and _branch_ref(watch, remote) is None:
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
        for i in pending:
            results[i] = _select(compiled[i], mirror, remote)
    return [results[i] for i in range(len(queries))]


def _select(compiled: _Compiled, mirror: Path, remote: RemoteRefs) -> GitDiscoveryResult:
    watch = compiled.watch
    ref = _branch_ref(watch, remote)
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
