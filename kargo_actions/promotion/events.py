"""What woke `reconcile` (the GitHub event) and whether anything could move at all, read without the models.

`reconcile` runs on every closed pull request of a repository and on a schedule; most runs find nothing to do.
`nothing_to_do` answers that from the ledger's Stage states and the waiting promotions' records as plain JSON
(the record schemas vouch for them), so such a run costs a fetch and a few blob reads, not the import of the
promotion engine and the manifests' models.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kargo_actions.ledger.reader import LedgerRepo, LedgerTree


@dataclass(frozen=True)
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
            deadline = _time(wait.get("deadline"))
            if deadline is not None and moment >= deadline:
                return False
            if event.wait_moves(wait):
                return False
    return True


def quick_fetch(repo: LedgerRepo) -> bool:
    """Fetch the ledger branch into its remote-tracking ref for reading; False when that failed (the full path,
    which fetches again, then says why)."""
    remote, tracking = repo.remote, repo.config.remote_tracking_ref()
    if remote is None or tracking is None:
        return True
    branch = repo.config.branch
    proc = repo.git.run(
        "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, f"+refs/heads/{branch}:{tracking}",
        check=False,
    )  # fmt: skip
    return proc.returncode == 0


def _json(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
