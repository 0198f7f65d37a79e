"""Who runs a promotion, and whether they still do: the runner's claim (host, PID, Actions run, a lease it
renews while it runs steps) and the rules that close a promotion whose runner is gone.

A promotion that waits (suspended, `wait` set) has no runner: nothing runs it until an event resumes it, so
it is never stale. A promotion with a runner is stale at once when that can be seen (same host and the PID
is gone; its Actions run is completed), otherwise when its lease has run out.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from kargo_actions.ledger.records import PromotionRecord, RunnerRecord
from kargo_actions.promotion.gates import format_time, parse_time

DEFAULT_LEASE = timedelta(minutes=10)
# Answers whether an Actions run (repository, run ID) is over: its conclusion ("cancelled", "failure" ...) or
# None while it runs or when that cannot be told (no token, GitHub unreachable).
RunChecker = Callable[[str, str], str | None]


def this_runner(now: datetime, lease: timedelta, env: Mapping[str, str] | None = None) -> RunnerRecord:
    """The claim of this process: host and PID, the Actions run when there is one, the lease's end."""
    env = os.environ if env is None else env
    return RunnerRecord(
        host=socket.gethostname(),
        pid=os.getpid(),
        run_id=env.get("GITHUB_RUN_ID") or None,
        run_attempt=env.get("GITHUB_RUN_ATTEMPT") or None,
        repository=env.get("GITHUB_REPOSITORY") or None,
        claimed_at=format_time(now),
        lease_expires_at=format_time(now + lease),
    )


def is_ours(runner: RunnerRecord | None) -> bool:
    return runner is not None and runner.host == socket.gethostname() and runner.pid == os.getpid()


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace").rsplit(")", 1)
    except OSError:
        return True
    return not (len(fields) == 2 and fields[1].split()[:1] == ["Z"])


def stale_reason(
    record: PromotionRecord,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
    run_checker: RunChecker | None = None,
) -> str:
    """Why a Running promotion's runner is gone ("" when it is alive, waits for an event, or is this process)."""
    if record.phase != "Running":
        return ""
    runner = record.runner
    if runner is None:
        if record.wait is not None:
            return ""
        # A record from before leases (schema 1) or a process that stopped before its first renewal.
        started = parse_time(record.started_at or record.created_at)
        if started is not None and now - started > lease:
            return f"the process running it stopped (no runner recorded; started {format_time(started)})"
        return ""
    if is_ours(runner):
        return ""
    if runner.host == socket.gethostname() and not pid_alive(runner.pid):
        return f"the process running it stopped (PID {runner.pid} on {runner.host} is gone)"
    expires = parse_time(runner.lease_expires_at)
    if expires is not None and now > expires:
        return f"the process running it stopped (its lease ran out at {runner.lease_expires_at})"
    if run_checker is not None and runner.run_id and runner.repository:
        current = os.environ.get("GITHUB_RUN_ID")
        if runner.run_id != current:
            conclusion = run_checker(runner.repository, runner.run_id)
            if conclusion is not None:
                return f"the process running it stopped (Actions run {runner.run_id} is over: {conclusion})"
    return ""


class LeaseKeeper:
    """Renews a promotion's lease in the background while its steps run; `lost` is set when the promotion is
    no longer this process's (aborted or closed as stale by someone else), and `on_lost` is called then."""

    def __init__(
        self, renew: Callable[[], bool], interval: float, on_lost: Callable[[], None] | None = None
    ) -> None:
        self._renew = renew
        self._interval = max(0.05, interval)
        self._on_lost = on_lost
        self._stop = threading.Event()
        self.lost = threading.Event()
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._loop, name="kargo-lease", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                kept = self._renew()
            except Exception as err:  # a failed renewal is retried at the next tick; the lease has slack
                self.errors.append(f"{type(err).__name__}: {err}")
                continue
            if not kept:
                self.lost.set()
                if self._on_lost is not None:
                    self._on_lost()
                return
