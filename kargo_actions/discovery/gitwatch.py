"""Git subscriptions as discovery reads them: the watched fields, their compiled filters, what was found, and
the refs state that tells an unchanged repository from a changed one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from kargo_actions.discovery.gitcache import (
    GitDiscoveryError,
    RemoteRefs,
    redact,
)
from kargo_actions.discovery.paths import PathFilter, PathSelector
from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.freight.urls import SSH_DEPRECATION, is_ssh_git_url
from kargo_actions.model.freight import GitCommit
from kargo_actions.model.warehouse import GitSubscription
from kargo_actions.regex import GoRegex, compile_go_regex
from kargo_actions.semver import Constraint, parse_constraint
from kargo_actions.struct import struct

Strategy = Literal["NewestFromBranch", "SemVer", "Lexical", "NewestTag"]
STRATEGIES: tuple[Strategy, ...] = ("NewestFromBranch", "SemVer", "Lexical", "NewestTag")
SUBJECT_LIMIT = 80  # Kargo shortens subjects to 80 characters


@struct
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


@struct
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


@struct
class GitQuery:
    """One subscription to discover, with the state the previous run returned for it (None on the first run)."""

    watch: GitWatch
    previous_state: str | None = None
    # The commit IDs that run found, newest first: with the branch head its state names, a branch
    # subscription walks only the commits pushed since (discovery/monorepo.py).
    previous_commits: tuple[str, ...] = ()


@struct
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


@struct
class CompiledWatch:
    """A subscription with its patterns checked and compiled."""

    watch: GitWatch
    paths: PathFilter
    allow: tuple[GoRegex, ...]
    ignore: tuple[GoRegex, ...]
    constraint: Constraint | None
    predicate: ExpressionPredicate | None


def compile_watch(watch: GitWatch, *, where: str = "git") -> CompiledWatch:
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
    return CompiledWatch(watch, paths, allow, ignore, constraint, predicate)


def branch_ref(watch: GitWatch, remote: RemoteRefs) -> str | None:
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
    """A digest of the subscription and of the refs it depends on: equal states mean nothing to do.

    A branch subscription's state also names the branch head after an `@`, so that the next run can walk
    only the commits pushed since (previous_head; the digest vouches for it).
    """
    ref = branch_ref(watch, remote) if watch.commit_selection_strategy == "NewestFromBranch" else None
    if watch.commit_selection_strategy == "NewestFromBranch":
        watched = {ref: remote.refs[ref]} if ref else {}
    else:
        watched = {r: sha for r, sha in remote.refs.items() if r.startswith("refs/tags/")}
    material = json.dumps({"watch": watch.fingerprint_fields(), "refs": watched}, sort_keys=True, default=str)
    digest = hashlib.sha256(material.encode()).hexdigest()
    return f"{digest}@{watched[ref]}" if ref else digest


def previous_head(query: GitQuery, remote: RemoteRefs) -> str | None:
    """The branch head of the query's previous run, when its state proves that run read the same branch with
    the same subscription fields (and that run's commits are given); else None."""
    state, commits = query.previous_state, query.previous_commits
    if not state or not commits or query.watch.commit_selection_strategy != "NewestFromBranch":
        return None
    head = state.rpartition("@")[2]
    ref = branch_ref(query.watch, remote)
    if ref is None or not head or head == state:
        return None
    then = RemoteRefs(refs={**remote.refs, ref: head}, peeled=remote.peeled, head=remote.head)
    return head if refs_state(query.watch, then) == state else None


def shorten_subject(text: str) -> str:
    return text[: SUBJECT_LIMIT - 3] + "..." if len(text) > SUBJECT_LIMIT else text
