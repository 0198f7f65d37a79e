"""Promotions read as plain JSON, without the models: what woke `reconcile` (the GitHub event), whether
anything could move at all, and a promotion in progress in one line (status, history, freight show).

`reconcile` runs on every closed pull request of a repository and on a schedule; most runs find nothing to do.
`nothing_to_do` answers that from the ledger's Stage states and the waiting promotions' records as plain JSON
(the record schemas vouch for them), so such a run costs a fetch and a few blob reads, not the import of the
promotion engine and the manifests' models.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kargo_actions.ledger.layout import parse_time
from kargo_actions.ledger.reader import LedgerRepo, LedgerTree
from kargo_actions.struct import struct


@struct
class Event:
    """What woke `reconcile`, reduced to what selects promotions (from GITHUB_EVENT_NAME / _PATH)."""

    name: str = ""  # "" = no event (a person, a schedule): every promotion that can move
    repository: str = ""  # owner/repo the event happened in
    pr_number: int | None = None
    pr_merged: bool = False
    run_id: int | None = None
    stage: str = ""  # repository_dispatch client_payload.stage: that Stage only
    default_branch: str = ""  # the repository's default branch (where workflows are dispatched)

    @property
    def targeted(self) -> bool:
        """An event about one pull request or workflow run: only promotions waiting on it move."""
        return self.name in ("pull_request", "pull_request_target", "workflow_run")

    def wait_moves(self, wait: Mapping[str, Any]) -> bool:
        """Whether this event is the one a wait (a record's `wait`, wire form) is for (always, for an
        untargeted event)."""
        if not self.targeted:
            return True
        repo_url = wait.get("repoURL")
        if (
            isinstance(repo_url, str)
            and repo_url
            and self.repository
            and not _same_repository(repo_url, self.repository)
        ):
            return False
        if self.name == "workflow_run":
            return wait.get("kind") == "workflow-run" and wait.get("number") == self.run_id
        return wait.get("kind") == "pull-request" and wait.get("number") == self.pr_number


def _same_repository(repo_url: str, repository: str) -> bool:
    from kargo_actions.github.repourl import repository_from_url

    try:
        return repository_from_url(repo_url).lower() == repository.lower()
    except ValueError:
        return False


def event_from_env(env: Mapping[str, str] | None = None) -> Event:
    """The Actions event that started this job (GITHUB_EVENT_NAME, the payload at GITHUB_EVENT_PATH)."""
    env = os.environ if env is None else env
    name = env.get("GITHUB_EVENT_NAME", "")
    if not name:
        return Event()
    payload: dict[str, Any] = {}
    path = env.get("GITHUB_EVENT_PATH", "")
    if path:
        try:
            loaded = json.loads(Path(path).read_text(encoding="utf-8"))
            payload = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            payload = {}
    repository = str(_mapping(payload.get("repository")).get("full_name") or env.get("GITHUB_REPOSITORY", ""))
    pull = _mapping(payload.get("pull_request"))
    run = _mapping(payload.get("workflow_run"))
    client = _mapping(payload.get("client_payload"))
    return Event(
        name=name,
        repository=repository,
        pr_number=pull["number"] if isinstance(pull.get("number"), int) else None,
        pr_merged=bool(pull.get("merged")),
        run_id=run["id"] if isinstance(run.get("id"), int) else None,
        stage=str(client.get("stage") or "") if name == "repository_dispatch" else "",
        default_branch=str(_mapping(payload.get("repository")).get("default_branch") or ""),
    )


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def nothing_to_do(tree: LedgerTree, event: Event, stage: str = "", now: datetime | None = None) -> bool:
    """True when no promotion could move: no Stage has a queue, and every Running promotion waits (nobody runs
    it, so it cannot be stale) for something this event is not about, with its deadline ahead. False when
    something may move, or when the records are not ones the schemas vouch for (the full path decides)."""
    moment = now or datetime.now(UTC)
    states = tree.stage_state_wires()
    if states is None:
        return False
    for state in states:
        name = state.get("stage", "")
        if stage and name != stage:
            continue
        if state.get("pendingPromotions") and not event.targeted:
            return False
        holders = (
            [state["activePromotion"]]
            if state.get("activePromotion")
            else [p["name"] for p in state.get("lastPromotions", []) if p.get("phase") == "Running"]
        )
        for holder in holders:
            raw = tree.read(f"promotions/{name}/{holder}.json")
            record = _json(raw)
            if record is None:
                return False
            if record.get("phase") not in ("Running", "Pending"):
                continue
            wait = record.get("wait")
            if record.get("runner") is not None or not isinstance(wait, dict):
                return False  # someone runs it (maybe no longer): the full path checks
            deadline = parse_time(wait.get("deadline"))
            if deadline is not None and moment >= deadline:
                return False
            if event.wait_moves(wait):
                return False
    return True


def quick_fetch(repo: LedgerRepo) -> bool:
    """Fetch the ledger branch into its remote-tracking ref for reading; False when that failed (the full path,
    which fetches again, then says why)."""
    if repo.remote is None or repo.config.remote_tracking_ref() is None:
        return True
    return repo.fetch_ledger().returncode == 0


def _json(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 86400 * 2:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        return f"{seconds // 3600}h"
    if seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def describe_wire(record: Mapping[str, Any], now: datetime) -> str:
    """A Running or Pending promotion (its record's wire form) for people, with the command that acts on it,
    e.g. "waiting for PR #12 to be merged, since 3h ago, deadline in 45h (`kargo-actions reconcile` or
    `promote --resume NAME` resumes it; `kargo-actions promote --abort NAME` ends it)"."""
    name = record.get("name", "")
    phase = record.get("phase")
    abort = f"`kargo-actions promote --abort {name}` ends it"
    if phase == "Pending":
        return (
            f"queued since {record.get('createdAt')}: started when the Stage is free (`kargo-actions reconcile`)"
            f"; {abort}"
        )
    if phase != "Running":
        return f"{phase}: {record.get('message') or ''}".rstrip(": ")
    wait = record.get("wait")
    if not isinstance(wait, Mapping):
        started = parse_time(record.get("startedAt") or record.get("createdAt"))
        age = f" for {_ago((now - started).total_seconds())}" if started else ""
        runner = record.get("runner")
        who = f" (PID {runner.get('pid')} on {runner.get('host')})" if isinstance(runner, Mapping) else ""
        return f"running its steps{age}{who}; {abort}"
    parts = [f"waiting for {wait.get('description')}"]
    since = parse_time(wait.get("since"))
    if since is not None:
        parts.append(f"since {_ago((now - since).total_seconds())} ago")
    deadline = parse_time(wait.get("deadline"))
    if deadline is not None:
        left = (deadline - now).total_seconds()
        parts.append(f"deadline in {_ago(left)}" if left > 0 else "deadline passed")
    return ", ".join(parts) + f" (`kargo-actions reconcile` or `promote --resume {name}` resumes it; {abort})"


def in_progress_for(tree: LedgerTree, freight: str, now: datetime | None = None) -> list[str]:
    """ "STAGE: what its promotion of this Freight is doing" for each promotion of the Freight that runs,
    waits or is queued (freight show); [] when the records are not ones the schemas vouch for."""
    moment = now or datetime.now(UTC)
    lines: list[str] = []
    for state in tree.stage_state_wires() or []:
        stage = state.get("stage", "")
        names = [state["activePromotion"]] if state.get("activePromotion") else []
        for name in [*names, *state.get("pendingPromotions", [])]:
            record = _json(tree.read(f"promotions/{stage}/{name}.json"))
            if record is not None and (record.get("freight") or {}).get("name") == freight:
                lines.append(f"{stage}: {name}: {describe_wire(record, moment)}")
    return lines
