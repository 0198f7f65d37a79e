"""What the DORA metrics are computed from, read from one ledger snapshot as raw JSON.

Reading 50,000 promotion records through the pydantic models takes seconds; the metrics need six fields of
each, so the records are read with one `git cat-file --batch` round trip per directory and plain json.
A record that lacks a field the metrics need is skipped and counted (`Facts.skipped`), never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kargo_actions.ledger.reader import LedgerTree

FINISHED_PROMOTION = frozenset({"Succeeded", "Failed", "Errored", "Aborted"})
FINISHED_VERIFICATION = frozenset({"Successful", "Failed", "Error", "Inconclusive", "Aborted"})


@dataclass(frozen=True, slots=True)
class PromotionFact:
    """One finished promotion: where, what, how it ended and when."""

    stage: str
    name: str
    freight: str
    warehouse: str
    phase: str
    started: datetime
    finished: datetime
    rollback: bool  # asked for by `rollback` (request.mode "rollback"), by hand or by auto-rollback
    run_url: str | None = None


@dataclass(frozen=True, slots=True)
class VerificationFact:
    """One finished verification run of a Stage for a Freight."""

    stage: str
    freight: str
    phase: str
    finished: datetime


@dataclass(frozen=True, slots=True)
class ChangeTime:
    """When the change a Freight carries was made: its newest artifact's creation time when discovery
    recorded one (`source` "artifact"), else when the Freight was discovered (`source` "discovery")."""

    at: datetime
    source: str


@dataclass
class Facts:
    """Everything the metrics read, per Stage in time order."""

    promotions: dict[str, list[PromotionFact]] = field(default_factory=dict)
    verifications: dict[str, list[VerificationFact]] = field(default_factory=dict)
    changes: dict[str, ChangeTime] = field(default_factory=dict)  # Freight ID -> change time
    skipped: int = 0  # records without the fields the metrics need


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _dig(data: Mapping[str, Any], *keys: str) -> Any:
    value: Any = data
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def promotion_fact(data: Any) -> PromotionFact | None:
    """The fact of one promotion record's JSON; None when it is unfinished or lacks a needed field."""
    if not isinstance(data, dict) or data.get("phase") not in FINISHED_PROMOTION:
        return None
    finished = _time(data.get("finishedAt"))
    started = _time(data.get("startedAt")) or _time(data.get("createdAt"))
    stage, name, freight = data.get("stage"), data.get("name"), _dig(data, "freight", "name")
    warehouse = _dig(data, "freight", "origin", "name")
    if finished is None or started is None:
        return None
    if not (
        isinstance(stage, str)
        and isinstance(name, str)
        and isinstance(freight, str)
        and isinstance(warehouse, str)
    ):
        return None
    run_url = data.get("runURL")
    return PromotionFact(
        stage=stage,
        name=name,
        freight=freight,
        warehouse=warehouse,
        phase=data["phase"],
        started=started,
        finished=finished,
        rollback=_dig(data, "request", "mode") == "rollback",
        run_url=run_url if isinstance(run_url, str) else None,
    )


def verification_fact(data: Any) -> VerificationFact | None:
    if not isinstance(data, dict) or data.get("phase") not in FINISHED_VERIFICATION:
        return None
    finished = _time(data.get("finishedAt")) or _time(data.get("startedAt"))
    stage, freight = data.get("stage"), _dig(data, "freight", "name")
    if finished is None or not isinstance(stage, str) or not isinstance(freight, str):
        return None
    return VerificationFact(stage=stage, freight=freight, phase=data["phase"], finished=finished)


def _artifact_times(discovered: Iterable[Any]) -> dict[tuple[str, str, str], datetime]:
    """(kind, repoURL, artifact key) -> creation time, from discovered/<warehouse>.json records."""
    times: dict[tuple[str, str, str], datetime] = {}
    for record in discovered:
        for result in record.get("results", []) if isinstance(record, dict) else []:
            created = result.get("createdAt") if isinstance(result, dict) else None
            if not isinstance(created, dict):
                continue
            kind, url = str(result.get("kind")), str(result.get("repoURL"))
            for key, value in created.items():
                moment = _time(value)
                if moment is not None:
                    times[(kind, url, key)] = moment
    return times


def artifact_keys(freight: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The (kind, repoURL, key) of each artifact of a Freight's JSON, as `DiscoveryResult.createdAt` keys
    them: an image by digest (else tag), a commit by ID, a chart by `name@version`."""
    keys: list[tuple[str, str, str]] = []
    for image in freight.get("images") or []:
        keys.append(("image", str(image.get("repoURL")), str(image.get("digest") or image.get("tag"))))
    for commit in freight.get("commits") or []:
        keys.append(("git", str(commit.get("repoURL")), str(commit.get("id"))))
    for chart in freight.get("charts") or []:
        keys.append(("chart", str(chart.get("repoURL")), f"{chart.get('name', '')}@{chart.get('version')}"))
    return keys


def change_time(
    freight: Mapping[str, Any], times: Mapping[tuple[str, str, str], datetime]
) -> ChangeTime | None:
    """When a Freight's change was made: the newest creation time among its artifacts, else its discovery."""
    known = [times[k] for k in artifact_keys(freight) if k in times]
    if known:
        return ChangeTime(max(known), "artifact")
    found = _time(freight.get("discoveredAt")) or _time(_dig(freight, "metadata", "creationTimestamp"))
    return ChangeTime(found, "discovery") if found is not None else None


def _read_json(tree: LedgerTree, items: Sequence[tuple[str, str]]) -> Iterable[Any]:
    for obj in tree.git.reader.get_many([oid for _, oid in items]):
        if obj is None:
            yield None
            continue
        try:
            yield json.loads(obj[1])
        except ValueError:
            yield None


def read_facts(tree: LedgerTree, stages: Iterable[str]) -> Facts:
    """The facts of the given Stages (and every Freight's change time) at the snapshot `tree`."""
    facts = Facts()
    for stage in stages:
        promotions: list[PromotionFact] = []
        for data in _read_json(tree, tree.blobs(f"promotions/{stage}")):
            fact = promotion_fact(data)
            if fact is not None:
                promotions.append(fact)
            elif not isinstance(data, dict) or data.get("phase") in FINISHED_PROMOTION:
                facts.skipped += 1
        promotions.sort(key=lambda p: (p.finished, p.name))
        facts.promotions[stage] = promotions
        runs: list[VerificationFact] = []
        for data in _read_json(tree, tree.blobs(f"verifications/{stage}")):
            run = verification_fact(data)
            if run is not None:
                runs.append(run)
            elif not isinstance(data, dict) or data.get("phase") in FINISHED_VERIFICATION:
                facts.skipped += 1
        runs.sort(key=lambda v: v.finished)
        facts.verifications[stage] = runs
    times = _artifact_times(_read_json(tree, tree.blobs("discovered")))
    wanted = {p.freight for items in facts.promotions.values() for p in items}
    entries = [e for e in tree.freight_entries() if e.id in wanted]
    for entry, data in zip(entries, _read_json(tree, [(e.id, e.blob) for e in entries]), strict=True):
        change = change_time(data, times) if isinstance(data, dict) else None
        if change is not None:
            facts.changes[entry.id] = change
    return facts
