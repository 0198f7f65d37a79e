"""Run the subscriptions of a discovery run: each under its deadline, hosts side by side, a few at a time per host.

Work is grouped as Kargo's controller would share it (one registry query per distinct image subscription,
one ls-remote and mirror sync per git URL, one index request per chart repository); each group is one task
under one deadline (Settings discoveryTimeout). Tasks of different hosts run concurrently, at most
PER_HOST at a time per host, so one slow host never delays the others; results are keyed by (Warehouse,
subscription index), so what is recorded does not depend on which finished first.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import field
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import urlsplit

from pydantic import ValidationError

from kargo_actions import deadline
from kargo_actions.discovery.chart import ChartIndexCache, ChartWatch, discover_charts
from kargo_actions.discovery.git import GitQuery, GitWatch, discover_git
from kargo_actions.discovery.gitcache import GitMirrors, redact
from kargo_actions.discovery.image import discover_all_images
from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.freight.identity import normalize_chart_url, normalize_git_url
from kargo_actions.ledger.layout import format_time
from kargo_actions.ledger.records import DiscoveredArtifactsRecord, DiscoveryResult
from kargo_actions.model.messages import FieldProblem, field_problems
from kargo_actions.model.project import Project
from kargo_actions.model.settings import ENV_VARS, SettingsSpec
from kargo_actions.model.warehouse import RepoSubscription, Warehouse
from kargo_actions.oci.errors import RegistryError
from kargo_actions.oci.references import parse_repo_url
from kargo_actions.oci.session import RegistrySession
from kargo_actions.struct import struct

Kind = Literal["image", "git", "chart"]
PER_HOST = 4  # tasks of one host at a time: enough to overlap round trips, few enough to be polite
LONGEST_QUIET = 15.0  # seconds between "still waiting" lines


@struct
class SubscriptionRef:
    """One subscription of one Warehouse."""

    warehouse: str
    index: int
    subscription: RepoSubscription

    @property
    def kind(self) -> Kind:
        return self.subscription.kind

    @property
    def name(self) -> str | None:
        return self.subscription.name

    @property
    def repo_url(self) -> str:
        return self.subscription.repo_url

    @property
    def chart_name(self) -> str:
        chart = self.subscription.chart
        return (chart.name or "") if chart is not None else ""

    @property
    def label(self) -> str:
        """How messages name the subscription: `web subscriptions[0] (name) image REPO`."""
        named = f" ({self.name})" if self.name else ""
        chart = f" chart {self.chart_name}" if self.chart_name else ""
        return f"{self.warehouse} subscriptions[{self.index}]{named} {self.kind} {self.repo_url}{chart}"

    def matches(self, result: DiscoveryResult) -> bool:
        """Whether a recorded result is this subscription's (same kind, name, repository and chart)."""
        if result.kind != self.kind or result.subscription_name != self.name:
            return False
        if self.kind == "git":
            return normalize_git_url(result.repo_url) == normalize_git_url(self.repo_url)
        if self.kind == "chart":
            names = {c.name for c in result.charts}
            return result.repo_url == self.repo_url and names <= {self.chart_name}
        return result.repo_url == self.repo_url


@struct
class SubscriptionRun:
    """What one subscription found (newest first) or why it failed."""

    ref: SubscriptionRef
    result: DiscoveryResult | None = None
    error: str | None = None
    unchanged: bool = False  # git: the remote refs are as in the last run; `result` is that run's
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.result is not None

    @property
    def found(self) -> int:
        r = self.result
        return 0 if r is None else len(r.images) + len(r.commits) + len(r.charts)

    def newest(self) -> str:
        """The newest revision, short: a tag, a version, or a commit id (with its tag)."""
        r = self.result
        if r is None:
            return ""
        if r.images:
            return r.images[0].tag or r.images[0].digest[:19]
        if r.commits:
            c = r.commits[0]
            return f"{c.tag} ({c.id[:7]})" if c.tag else c.id[:12]
        if r.charts:
            return r.charts[0].version
        return ""


class Progress(Protocol):
    """Told when a subscription starts (from a worker thread), and in the calling thread when its result
    (or error) is in and, every few seconds, what the run is still waiting for."""

    def start(self, ref: SubscriptionRef) -> None: ...

    def done(self, run: SubscriptionRun) -> None: ...

    def waiting(self, what: str, seconds: float) -> None: ...


class Silent:
    def start(self, ref: SubscriptionRef) -> None:
        pass

    def done(self, run: SubscriptionRun) -> None:
        pass

    def waiting(self, what: str, seconds: float) -> None:
        pass


@struct(frozen=False)
class Caches:
    """Where discovery keeps its caches: KARGO_ACTIONS_CACHE > Settings cacheDir > the user cache dir."""

    root: Path | None = None
    mirrors: GitMirrors = field(init=False)
    charts: ChartIndexCache = field(init=False)

    def __post_init__(self) -> None:
        self.mirrors = GitMirrors(self.root / "git") if self.root is not None else GitMirrors()
        self.charts = ChartIndexCache(self.root / "charts") if self.root is not None else ChartIndexCache()


@struct
class _Task:
    """Subscriptions that share their network work, the host that work talks to, and how to do it."""

    refs: tuple[SubscriptionRef, ...]
    host: str
    what: str  # named by the deadline's error and the "still waiting" lines
    work: Callable[[], list[SubscriptionRun]]


def resolved_settings(project: Project, env: Mapping[str, str], timeout: str | None) -> SettingsSpec:
    """The Settings in force; `timeout` is --timeout (flag > KARGO_ACTIONS_DISCOVERY_TIMEOUT > file > 5m)."""
    try:
        return project.settings.resolved(env, discovery_timeout=timeout)
    except ValidationError as err:
        # The file's own values were checked when it was loaded: what fails here came from a flag or variable.
        raise InvalidInputError(
            [_setting_problem(p, timeout) for p in field_problems(err, SettingsSpec)]
        ) from err


def _setting_problem(problem: FieldProblem, timeout: str | None) -> Problem:
    name = str(problem.loc[0]) if problem.loc else ""
    where = "--timeout" if name == "discovery_timeout" and timeout is not None else ENV_VARS.get(name, "")
    return Problem(path=where or "Settings", message=problem.message, hint=problem.hint)


def run_subscriptions(
    project: Project,
    warehouses: Sequence[Warehouse],
    previous: Mapping[str, DiscoveredArtifactsRecord],
    *,
    progress: Progress,
    env: Mapping[str, str],
    timeout: str | None = None,
) -> dict[tuple[str, int], SubscriptionRun]:
    """Every subscription of the Warehouses, each with its result or its error; keyed by (Warehouse, index)."""
    settings = resolved_settings(project, env, timeout)
    seconds = settings.discovery_timeout_duration.total_seconds()
    cache_root = env.get("KARGO_ACTIONS_CACHE") or settings.cache_dir
    caches = Caches(Path(cache_root).expanduser() if cache_root else None)
    refs = [SubscriptionRef(w.name, i, s) for w in warehouses for i, s in enumerate(w.subscriptions)]
    with RegistrySession.from_settings(settings, env=env) as session:
        tasks = [
            *_image_tasks([r for r in refs if r.kind == "image"], session),
            *_git_tasks([r for r in refs if r.kind == "git"], previous, caches, env),
            *_chart_tasks([r for r in refs if r.kind == "chart"], caches, env),
        ]
        return _run_tasks(tasks, seconds, progress)


def _run_tasks(
    tasks: Sequence[_Task], seconds: float, progress: Progress
) -> dict[tuple[str, int], SubscriptionRun]:
    """Each task under its deadline, hosts side by side and PER_HOST lanes per host; progress meanwhile."""
    out: dict[tuple[str, int], SubscriptionRun] = {}
    if not tasks:
        return out
    by_host: dict[str, deque[_Task]] = {}
    for task in tasks:
        by_host.setdefault(task.host, deque()).append(task)
    finished: queue.Queue[tuple[_Task, list[SubscriptionRun] | BaseException]] = queue.Queue()
    running: dict[int, tuple[_Task, float]] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def lane(pending: deque[_Task]) -> None:
        while not stop.is_set():
            with lock:
                if not pending:
                    return
                task = pending.popleft()
                running[id(task)] = (task, time.monotonic())
            try:
                finished.put((task, _run_task(task, seconds, progress)))
            except BaseException as err:  # handed to the calling thread, which raises it
                finished.put((task, err))
            finally:
                with lock:
                    running.pop(id(task), None)

    # A "still waiting" line at most every 15 s, more often under a short deadline.
    every = min(LONGEST_QUIET, max(seconds / 3, 1.0))
    lanes = sum(min(PER_HOST, len(p)) for p in by_host.values())
    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="discover") as pool:
        for pending in by_host.values():
            for _ in range(min(PER_HOST, len(pending))):
                pool.submit(lane, pending)
        try:
            next_report = time.monotonic() + every
            for _ in range(len(tasks)):
                while True:
                    try:
                        task, outcome = finished.get(timeout=max(next_report - time.monotonic(), 0.0))
                        break
                    except queue.Empty:
                        now = time.monotonic()
                        with lock:
                            waiting = sorted(running.values(), key=lambda item: item[1])
                        for waited, since in waiting:
                            if now - since >= every:
                                progress.waiting(waited.what, now - since)
                        next_report = now + every
                if isinstance(outcome, BaseException):
                    raise outcome
                for run in outcome:
                    out[(run.ref.warehouse, run.ref.index)] = run
                    progress.done(run)
        finally:
            stop.set()  # on an error, lanes take no new task; the running ones end at their deadline
    return out


def _run_task(task: _Task, seconds: float, progress: Progress) -> list[SubscriptionRun]:
    for ref in task.refs:
        progress.start(ref)
    started = time.monotonic()
    with deadline.within(seconds, task.what):
        try:
            return task.work()
        except deadline.DeadlineExceededError as err:
            took = time.monotonic() - started
            return [SubscriptionRun(ref, error=str(err), seconds=took) for ref in task.refs]


def cause_of(err: object) -> str:
    """A subscription's error without the subject it starts with (`image REPO: `): the subscription's label,
    which names it already, goes before it in every message."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, str) and cause:
        hint = getattr(err, "hint", "")
        return cause + (f" ({hint})" if isinstance(hint, str) and hint else "")
    return str(err)


def _url_host(url: str) -> str:
    """host[:port] of a URL (scp-style git URLs come normalized as ssh://); the URL itself when it has none."""
    netloc = urlsplit(url if "://" in url else "//" + url).netloc
    return netloc.rpartition("@")[2].lower() or url


def _image_tasks(refs: Sequence[SubscriptionRef], session: RegistrySession) -> list[_Task]:
    # Warehouses often watch the same image the same way: ask the registry once per distinct subscription.
    groups: dict[str, list[SubscriptionRef]] = {}
    for ref in refs:
        assert ref.subscription.image is not None
        groups.setdefault(ref.subscription.image.model_dump_json(), []).append(ref)
    tasks = []
    for group in groups.values():
        try:
            repo = parse_repo_url(group[0].repo_url)
            host, what = repo.host, f"registry {repo.host} ({repo.name})"
        except RegistryError:  # reported by the run itself
            host, what = group[0].repo_url, f"registry of {group[0].repo_url}"

        def work(group: list[SubscriptionRef] = group) -> list[SubscriptionRun]:
            first = _run_image(group[0], session)
            return [first, *(_same_as(ref, first) for ref in group[1:])]

        tasks.append(_Task(tuple(group), host, what, work))
    return tasks


def _git_tasks(
    refs: Sequence[SubscriptionRef],
    previous: Mapping[str, DiscoveredArtifactsRecord],
    caches: Caches,
    env: Mapping[str, str],
) -> list[_Task]:
    groups: dict[str, list[SubscriptionRef]] = {}
    for ref in refs:
        groups.setdefault(normalize_git_url(ref.repo_url), []).append(ref)
    tasks = []
    for url, group in groups.items():

        def work(group: list[SubscriptionRef] = group) -> list[SubscriptionRun]:
            return _run_git(group, previous, caches, env)

        tasks.append(_Task(tuple(group), _url_host(url), f"git remote {redact(group[0].repo_url)}", work))
    return tasks


def _chart_tasks(refs: Sequence[SubscriptionRef], caches: Caches, env: Mapping[str, str]) -> list[_Task]:
    groups: dict[str, list[SubscriptionRef]] = {}
    for ref in refs:
        groups.setdefault(normalize_chart_url(ref.repo_url), []).append(ref)
    tasks = []
    for group in groups.values():
        url = group[0].repo_url

        def work(group: list[SubscriptionRef] = group) -> list[SubscriptionRun]:
            return _run_charts(group, caches, env)

        tasks.append(_Task(tuple(group), _url_host(url), f"chart repository {redact(url)}", work))
    return tasks


def _same_as(ref: SubscriptionRef, earlier: SubscriptionRun) -> SubscriptionRun:
    """Another subscription's run for this one (same fields), under this one's name."""
    result = earlier.result
    if result is not None:
        result = result.model_copy(update={"subscription_name": ref.name})
    return SubscriptionRun(ref, result=result, error=earlier.error, warnings=earlier.warnings)


def _run_image(ref: SubscriptionRef, session: RegistrySession) -> SubscriptionRun:
    sub = ref.subscription.image
    assert sub is not None
    started = time.monotonic()
    (outcome,) = discover_all_images([sub], session)
    seconds = time.monotonic() - started
    if outcome.error is not None or outcome.result is None:
        return SubscriptionRun(ref, error=cause_of(outcome.error), seconds=seconds)
    result = DiscoveryResult(
        subscription_name=ref.name,
        kind="image",
        repo_url=sub.repo_url,
        images=[i.to_freight_image() for i in outcome.result.images],
        created_at={i.digest or i.tag: format_time(i.created) for i in outcome.result.images if i.created}
        or None,
    )
    return SubscriptionRun(ref, result=result, warnings=outcome.result.warnings, seconds=seconds)


def _previous_for(
    ref: SubscriptionRef, previous: Mapping[str, DiscoveredArtifactsRecord]
) -> DiscoveryResult | None:
    record = previous.get(ref.warehouse)
    if record is None:
        return None
    return next((r for r in record.results if ref.matches(r)), None)


def _run_git(
    group: Sequence[SubscriptionRef],
    previous: Mapping[str, DiscoveredArtifactsRecord],
    caches: Caches,
    env: Mapping[str, str],
) -> list[SubscriptionRun]:
    """One repository URL: one ls-remote, at most one mirror sync, every subscription of it."""
    before = [_previous_for(ref, previous) for ref in group]
    queries = []
    for ref, old in zip(group, before, strict=True):
        sub = ref.subscription.git
        assert sub is not None
        watch = GitWatch.from_subscription(sub, ref.name)
        if old is None:
            queries.append(GitQuery(watch))
        else:
            queries.append(GitQuery(watch, old.git_state, tuple(c.id for c in old.commits)))
    started = time.monotonic()
    try:
        results = discover_git(queries, mirrors=caches.mirrors, env=env)
    except InvalidInputError as err:
        seconds = time.monotonic() - started
        return [SubscriptionRun(ref, error="; ".join(err.lines()), seconds=seconds) for ref in group]
    seconds = (time.monotonic() - started) / len(group)
    runs = []
    for ref, found, old in zip(group, results, before, strict=True):
        if found.error is not None:
            runs.append(
                SubscriptionRun(ref, error=cause_of(found.error), warnings=found.warnings, seconds=seconds)
            )
            continue
        if found.unchanged and old is not None:
            runs.append(
                SubscriptionRun(ref, result=old, unchanged=True, warnings=found.warnings, seconds=seconds)
            )
            continue
        result = DiscoveryResult(
            subscription_name=ref.name,
            kind="git",
            repo_url=found.watch.repo_url,
            commits=[c.to_freight_commit() for c in found.commits],
            git_state=found.state or None,
            created_at={c.id: format_time(c.creator_date) for c in found.commits} or None,
        )
        runs.append(SubscriptionRun(ref, result=result, warnings=found.warnings, seconds=seconds))
    return runs


def _run_charts(
    group: Sequence[SubscriptionRef], caches: Caches, env: Mapping[str, str]
) -> list[SubscriptionRun]:
    """One chart repository: one index request (or tag listing), every subscription of it."""
    watches = []
    for ref in group:
        sub = ref.subscription.chart
        assert sub is not None
        watches.append(ChartWatch.from_subscription(sub, ref.name))
    started = time.monotonic()
    try:
        results = discover_charts(watches, cache=caches.charts, env=env)
    except InvalidInputError as err:
        seconds = time.monotonic() - started
        return [SubscriptionRun(ref, error="; ".join(err.lines()), seconds=seconds) for ref in group]
    seconds = (time.monotonic() - started) / len(group)
    runs = []
    for ref, found in zip(group, results, strict=True):
        if found.error is not None:
            runs.append(SubscriptionRun(ref, error=cause_of(found.error), seconds=seconds))
            continue
        result = DiscoveryResult(
            subscription_name=ref.name,
            kind="chart",
            repo_url=found.watch.repo_url,
            charts=[c.to_freight_chart() for c in found.charts],
        )
        runs.append(SubscriptionRun(ref, result=result, seconds=seconds))
    return runs


__all__ = [
    "PER_HOST",
    "Caches",
    "Kind",
    "Progress",
    "Silent",
    "SubscriptionRef",
    "SubscriptionRun",
    "resolved_settings",
    "run_subscriptions",
]
