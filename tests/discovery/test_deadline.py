"""Deadlines of discovery: registries, git remotes and chart repositories that stall are cut off, hosts run side by side.

Real TCP servers on 127.0.0.1 hold the client (tests/discovery/stall_server.py): one trickles an HTTP
answer a byte a second, which no per-read timeout ever trips; one never answers at all.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kargo_actions import deadline
from kargo_actions.discovery.run import DiscoveryRun, SubscriptionRef, SubscriptionRun, discover_warehouses
from kargo_actions.discovery.subscriptions import PER_HOST, resolved_settings
from kargo_actions.errors import InvalidInputError
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.ledger.records import DiscoveredArtifactsRecord, discovered_path
from kargo_actions.manifests import load_project
from kargo_actions.oci.ratelimit import RateLimiter
from kargo_actions.oci.session import RegistrySession
from tests.discovery.stall_server import StallServer, serve_stall
from tests.support.discover_world import World, world

SLACK = 1.5  # seconds a run may take past its deadline (thread start, the ledger write, a loaded machine)


@pytest.fixture
def trickling() -> Iterator[StallServer]:
    with serve_stall(1.0) as server:
        yield server


@pytest.fixture
def silent() -> Iterator[StallServer]:
    with serve_stall(0) as server:
        yield server


def warehouse(name: str, *subscriptions: str) -> str:
    """A Warehouse manifest; each subscription as `kind: {repoURL: ..., ...}` flow YAML."""
    lines = ["apiVersion: kargo.akuity.io/v1alpha1", "kind: Warehouse", "metadata:", f"  name: {name}"]
    lines += ["  namespace: demo", "spec:", "  subscriptions:"]
    lines += [f"  - {s}" for s in subscriptions]
    return "\n".join(lines) + "\n"


def image(repo_url: str) -> str:
    return f"image: {{repoURL: {repo_url}}}"


def pipeline(tmp_path: Path, *manifests: str) -> Path:
    repo = tmp_path / "pipeline"
    (repo / ".kargo").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "pipeline"], check=True)
    (repo / ".kargo" / "warehouses.yaml").write_text("---\n".join(manifests))
    return repo


class Recorder:
    """A Progress that keeps what it was told."""

    def __init__(self) -> None:
        self.done_order: list[str] = []
        self.waits: list[tuple[str, float]] = []

    def start(self, ref: SubscriptionRef) -> None:
        pass

    def done(self, run: SubscriptionRun) -> None:
        self.done_order.append(run.ref.label)

    def waiting(self, what: str, seconds: float) -> None:
        self.waits.append((what, seconds))


def discover(repo: Path, timeout: str, progress: Recorder | None = None) -> tuple[DiscoveryRun, float]:
    project = load_project(repo / ".kargo")
    started = time.monotonic()
    with Ledger(repo, LedgerConfig(remote=None, signing=SigningPolicy.NEVER)) as ledger:
        result = discover_warehouses(project, ledger, progress=progress, timeout=timeout)
    return result, time.monotonic() - started


def discovered(repo: Path, name: str) -> DiscoveredArtifactsRecord | None:
    with Ledger(repo, LedgerConfig(remote=None, signing=SigningPolicy.NEVER)) as ledger:
        return ledger.snapshot().load(DiscoveredArtifactsRecord, discovered_path(name))


# ---- the pieces ----


def test_a_trickling_http_answer_is_cut_at_the_deadline_not_by_read_timeouts(trickling: StallServer) -> None:
    # read timeouts of 5 s never trip on a byte a second; only the deadline ends the request
    with httpx.Client(transport=deadline.http_transport(verify=True), timeout=5.0) as client:
        started = time.monotonic()
        with deadline.within(2.0, "the trickler"), pytest.raises(deadline.DeadlineExceededError) as caught:
            client.get(trickling.url("/v2/"))
        took = time.monotonic() - started
    assert 2.0 <= took < 2.0 + SLACK
    assert str(caught.value).startswith(
        "the trickler gave no complete answer within the discovery deadline of 2s"
    )
    time.sleep(0.3)
    assert trickling.closed_at, "the client closed its connection"
    # outside a deadline the same client works as before
    with (
        serve_stall(0) as quiet,
        httpx.Client(transport=deadline.http_transport(verify=True), timeout=0.5) as c,
        pytest.raises(httpx.ReadTimeout),
    ):
        c.get(quiet.url("/"))


def test_the_registry_client_fails_at_the_deadline_without_retrying(trickling: StallServer) -> None:
    started = time.monotonic()
    with (
        RegistrySession(env={}) as session,
        deadline.within(1.5, f"registry {trickling.host} (slow/app)"),
        pytest.raises(deadline.DeadlineExceededError),
    ):
        session.repository(f"{trickling.host}/slow/app").list_tags()
    assert time.monotonic() - started < 1.5 + SLACK
    assert trickling.accepted == 1  # one attempt: a deadline is not a timeout to retry


def test_a_child_and_what_it_started_are_killed_at_the_deadline() -> None:
    # the grandchild keeps the pipes open: killing the child alone would leave communicate() waiting 30 s
    argv = ["sh", "-c", "sleep 30 & sleep 30"]
    started = time.monotonic()
    with deadline.within(1.0, "a child"), pytest.raises(deadline.DeadlineExceededError, match="a child gave"):
        deadline.run_process(argv, timeout=60)
    assert time.monotonic() - started < 1.0 + SLACK
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        deadline.run_process(argv, timeout=1.0)
    assert time.monotonic() - started < 1.0 + SLACK
    assert deadline.run_process(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=5).returncode == 3


def test_sleep_and_a_full_host_end_at_the_deadline() -> None:
    started = time.monotonic()
    with deadline.within(0.5, "backoff"), pytest.raises(deadline.DeadlineExceededError):
        deadline.sleep(30)
    assert time.monotonic() - started < 0.5 + SLACK
    limiter = RateLimiter(rate=100, in_flight=1)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with limiter.slot():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    started = time.monotonic()
    try:
        with (
            deadline.within(0.5, "a busy host"),
            pytest.raises(deadline.DeadlineExceededError),
            limiter.slot(),
        ):
            pass
    finally:
        release.set()
        holder.join()
    assert time.monotonic() - started < 0.5 + SLACK
    with limiter.slot():  # the slot that timed out was never taken
        pass


def test_a_deadline_goes_with_carry_into_another_thread() -> None:
    seen: list[deadline.Deadline | None] = []
    with deadline.within(5, "carried") as mine:
        worker = threading.Thread(target=deadline.carry(lambda: seen.append(deadline.current())))
        bare = threading.Thread(target=lambda: seen.append(deadline.current()))
        worker.start(), bare.start()
        worker.join(), bare.join()
    assert seen.count(mine) == 1
    assert seen.count(None) == 1
    assert deadline.current() is None


# ---- discover ----


def test_discover_cuts_a_trickling_registry_and_records_the_healthy_warehouse(
    tmp_path: Path, trickling: StallServer
) -> None:
    with world(tmp_path) as w:
        slow = f"{trickling.host}/slow/app"
        w.write_manifests(w.warehouse("web") + "---\n" + warehouse("stalled", image(slow)))
        started = time.monotonic()
        done = ka(w, "discover", "--timeout", "3s")
        took = time.monotonic() - started
        assert done.returncode == 1, done.stderr
        error = (
            f"error: stalled subscriptions[0] image {slow}: registry {trickling.host} (slow/app) gave no "
            "complete answer within the discovery deadline of 3s; stopped waiting (raise Settings "
            "discoveryTimeout, `discover --timeout` or KARGO_ACTIONS_DISCOVERY_TIMEOUT if it is only slow)"
        )
        assert error in done.stderr.splitlines()
        assert "Traceback" not in done.stderr
        waits = re.findall(rf"^still waiting for registry {re.escape(trickling.host)} \(slow/app\): (\d+) s$",
                           done.stderr, re.MULTILINE)  # fmt: skip
        assert waits, done.stderr
        assert all(1 <= int(s) <= 3 for s in waits), done.stderr
        # the healthy Warehouse's results came while the registry still trickled, and were recorded
        lines = done.stderr.splitlines()
        ok = [i for i, line in enumerate(lines) if line.startswith("ok   web subscriptions[")]
        failed = [i for i, line in enumerate(lines) if line.startswith("fail stalled subscriptions[0]")]
        assert (len(ok), len(failed)) == (3, 1), done.stderr
        assert max(ok) < failed[0], done.stderr
        assert "web: created Freight " in done.stdout
        assert "stalled: no Freight: 1 of 1 subscription(s) failed" in done.stdout
        assert discovered(w.repo, "web") is not None
        assert discovered(w.repo, "stalled") is None
        time.sleep(0.3)
        assert len(trickling.closed_at) == trickling.accepted == 1
        print(f"discover with a trickling registry and --timeout 3s: {took:.2f} s (process start included)")
        assert took < 3.0 + 5.0  # the process's own start and the healthy discovery come on top


def ka(w: World, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kargo_actions", *args, "--ledger-remote", "", "--sign", "never"],
        cwd=w.repo,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_two_stalled_registries_take_one_deadline_not_two(tmp_path: Path, trickling: StallServer) -> None:
    with serve_stall(1.0) as other:
        repo = pipeline(
            tmp_path,
            warehouse("a", image(f"{trickling.host}/a/app")),
            warehouse("b", image(f"{other.host}/b/app")),
        )
        progress = Recorder()
        result, took = discover(repo, "3s", progress)
    print(f"two trickling registries, 3 s deadline each: {took:.2f} s")
    assert 3.0 <= took < 3.0 + SLACK
    assert [w.decision for w in result.warehouses] == ["failed", "failed"]
    assert [len(w.errors()) for w in result.warehouses] == [1, 1]
    assert all("deadline of 3s" in e for e in result.errors())
    waited = {what for what, _ in progress.waits}
    assert waited == {f"registry {trickling.host} (a/app)", f"registry {other.host} (b/app)"}
    assert all(1.0 <= seconds < 3.5 for _, seconds in progress.waits)


def test_one_host_runs_at_most_per_host_subscriptions_at_a_time(
    tmp_path: Path, trickling: StallServer
) -> None:
    count = PER_HOST + 2
    subs = [image(f"{trickling.host}/team/app{i}") for i in range(count)]
    repo = pipeline(tmp_path, warehouse("many", *subs))
    result, took = discover(repo, "1s")
    print(f"{count} subscriptions of one trickling host, 1 s deadline, {PER_HOST} at a time: {took:.2f} s")
    assert trickling.accepted == count
    assert trickling.most_active == PER_HOST
    assert 2.0 <= took < 2.0 + SLACK  # two rounds of one deadline each
    (many,) = result.warehouses
    assert [s.error is not None and "deadline of 1s" in s.error for s in many.subscriptions] == [True] * count


def test_a_git_remote_that_never_answers_is_killed_at_the_deadline(
    tmp_path: Path, silent: StallServer
) -> None:
    url = silent.url("/config.git")
    repo = pipeline(tmp_path, warehouse("gitops", f"git: {{repoURL: {url}, branch: main}}"))
    result, took = discover(repo, "2s")
    print(f"a git remote that never answers, 2 s deadline: {took:.2f} s")
    assert 2.0 <= took < 2.0 + SLACK
    (error,) = result.errors()
    assert error.startswith(f"gitops subscriptions[0] git {url}: git remote {url} gave no complete answer ")
    time.sleep(0.3)
    assert silent.accepted >= 1
    assert len(silent.closed_at) == silent.accepted  # git's HTTP helper is gone
    assert not [p for p in _processes() if url in p], "a git process outlived its deadline"
    assert discovered(repo, "gitops") is None


def test_a_trickling_chart_index_is_cut_at_the_deadline(tmp_path: Path, trickling: StallServer) -> None:
    url = trickling.url("/charts")
    repo = pipeline(tmp_path, warehouse("charts", f"chart: {{repoURL: {url}, name: app}}"))
    result, took = discover(repo, "2s")
    assert 2.0 <= took < 2.0 + SLACK
    (error,) = result.errors()
    assert f"chart repository {url} gave no complete answer within the discovery deadline of 2s" in error


def _processes() -> list[str]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                continue
    return out


# ---- the setting ----


@pytest.mark.parametrize(
    ("flag", "env", "where"),
    [
        ("0s", {}, "--timeout"),
        (None, {"KARGO_ACTIONS_DISCOVERY_TIMEOUT": "soon"}, "KARGO_ACTIONS_DISCOVERY_TIMEOUT"),
    ],
)
def test_a_bad_timeout_is_invalid_input_before_any_work(
    tmp_path: Path, silent: StallServer, flag: str | None, env: dict[str, str], where: str
) -> None:
    repo = pipeline(tmp_path, warehouse("a", image(f"{silent.host}/a/app")))
    project = load_project(repo / ".kargo")
    with (
        Ledger(repo, LedgerConfig(remote=None, signing=SigningPolicy.NEVER)) as ledger,
        pytest.raises(InvalidInputError) as caught,
    ):
        discover_warehouses(project, ledger, env={**os.environ, **env}, timeout=flag)
    assert caught.value.lines()[0].startswith(f"{where}: ")
    assert silent.accepted == 0


def test_every_bad_setting_is_named_by_its_flag_or_variable(tmp_path: Path) -> None:
    project = load_project(pipeline(tmp_path, warehouse("a", image("127.0.0.1:1/a/app"))) / ".kargo")
    env = {"KARGO_ACTIONS_LEDGER_BRANCH": "a..b", "KARGO_ACTIONS_DISCOVERY_TIMEOUT": "0s"}
    with pytest.raises(InvalidInputError) as caught:
        resolved_settings(project, env, None)
    assert caught.value.lines() == [
        "KARGO_ACTIONS_LEDGER_BRANCH: 'a..b' is not a valid git ref name",
        "KARGO_ACTIONS_DISCOVERY_TIMEOUT: '0s' is shorter than 1s (e.g. 5m)",
    ]
    with pytest.raises(InvalidInputError) as caught:
        resolved_settings(project, {}, "0s")
    assert caught.value.lines() == ["--timeout: '0s' is shorter than 1s (e.g. 5m)"]


def test_settings_discovery_timeout_applies_and_the_flag_wins(tmp_path: Path, trickling: StallServer) -> None:
    settings = "apiVersion: kargo-actions/v1alpha1\nkind: Settings\nmetadata:\n  name: settings\n"
    repo = pipeline(tmp_path, warehouse("a", image(f"{trickling.host}/a/app")))
    (repo / ".kargo" / "settings.yaml").write_text(settings + "spec:\n  discoveryTimeout: 1s\n")
    env = {k: v for k, v in os.environ.items() if k != deadline.TIMEOUT_ENV}
    project = load_project(repo / ".kargo")
    for flag, expected in ((None, "1s"), ("2s", "2s")):
        with Ledger(repo, LedgerConfig(remote=None, signing=SigningPolicy.NEVER)) as ledger:
            started = time.monotonic()
            result = discover_warehouses(project, ledger, env=env, timeout=flag)
            took = time.monotonic() - started
        assert f"deadline of {expected}" in result.errors()[0]
        assert float(expected[:-1]) <= took < float(expected[:-1]) + SLACK


def test_still_waiting_lines_are_plain_in_every_output_mode(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from rich.console import Console

    from kargo_actions.cli.discover import ActionsProgress, PlainProgress, RichProgress

    line = "still waiting for registry 127.0.0.1:5000 (web): 40 s"
    PlainProgress().waiting("registry 127.0.0.1:5000 (web)", 40.2)
    ActionsProgress().waiting("registry 127.0.0.1:5000 (web)", 39.6)
    assert capsys.readouterr().err.splitlines() == [line, line]  # no ::notice:: per tick in Actions logs
    out = io.StringIO()
    with RichProgress(1, Console(file=out, force_terminal=True, width=200, color_system=None)) as bar:
        bar.waiting("registry 127.0.0.1:5000 (web)", 40.0)
    assert line in out.getvalue()
