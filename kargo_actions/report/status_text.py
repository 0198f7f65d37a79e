"""`kargo-actions status` as text that fits the terminal (80 columns when it is not one).

One head line per Stage (STAGE, FREIGHT, VERIFIED, MODE) and indented detail lines under it, one fact
each (`artifacts`, `promoted`, `verification`, `available`, `in progress`, ...), wrapped to the width; a legend explains
the markers that appear. A feature that adds a per-Stage fact adds a detail line (`StageBlock.details`),
so the head line keeps its four columns whatever the Stage has.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field

from kargo_actions.ledger.records import VerificationRecord
from kargo_actions.ledger.store import Snapshot
from kargo_actions.model.freight import Freight
from kargo_actions.promotion.pipeline import StageStatus
from kargo_actions.struct import struct

DEFAULT_WIDTH = 80
MIN_WIDTH = 40
HEADERS = ("STAGE", "FREIGHT", "VERIFIED", "MODE")
NEWER = "*"  # after FREIGHT: a newer Freight is available to the Stage
CHECK_FAILED = "!"  # after VERIFIED: the latest verification of what the Stage holds did not succeed
# Each marker's line of the legend, printed when the marker appears.
LEGEND = {
    NEWER: f"{NEWER} after FREIGHT: a newer Freight is available to the Stage (its `available` line)",
    CHECK_FAILED: (
        f"{CHECK_FAILED} after VERIFIED: the latest verification of the current Freight did not succeed; "
        "as in Kargo, a Freight once verified in a Stage stays verified there (its `verification` line)"
    ),
    "held": "held: auto-promotion paused since a Freight was promoted here by hand (its `held` line)",
}
# How many newest verification records of a Stage are read to find one of the Freight it holds.
LATEST_SCAN = 20


def terminal_width() -> int:
    """$COLUMNS, else the terminal's width, else 80 (piped output); never below MIN_WIDTH."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(MIN_WIDTH, int(columns))
    return max(MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


@struct
class StageBlock:
    """One Stage as `status` prints it: the head line's four cells and its detail lines (label, text)."""

    stage: str
    freight: tuple[str, ...]  # one cell line per Freight held
    verified: str
    mode: str
    details: tuple[tuple[str, str], ...] = ()
    markers: frozenset[str] = field(default_factory=frozenset)


def latest_verifications(snap: Snapshot, rows: Iterable[StageStatus]) -> dict[str, VerificationRecord]:
    """Stage -> its newest verification run of a Freight it holds now (IDs are ULIDs: name order is time)."""
    latest: dict[str, VerificationRecord] = {}
    for row in rows:
        held = {f.name for f in row.current}
        if not held or row.control_flow:
            continue
        names = [path for path, _ in snap.blobs(f"verifications/{row.stage}")][-LATEST_SCAN:]
        for path in reversed(names):
            run = snap.load(VerificationRecord, path)
            if run is not None and run.freight.name in held:
                latest[row.stage] = run
                break
    return latest


def latest_verification_json(run: VerificationRecord | None) -> dict[str, object] | None:
    """`status --output json`'s lastVerification: the newest run for what the Stage holds, beside `verified`."""
    if run is None:
        return None
    return {
        "id": run.id,
        "freight": run.freight.name,
        "phase": run.phase,
        "message": run.message,
        "startedAt": run.started_at,
        "finishedAt": run.finished_at,
    }


def _freight_label(freight: Freight) -> str:
    return f"{freight.alias or ''} {freight.name[:12]}".strip()


def _artifacts(freight: Freight) -> list[str]:
    parts = [f"{i.repo_url}:{i.tag or i.digest[:19]}" for i in freight.images]
    parts += [f"{c.repo_url}@{c.tag or c.id[:7]}" for c in freight.commits]
    parts += [
        f"{c.repo_url}/{c.name}:{c.version}" if c.name else f"{c.repo_url}:{c.version}"
        for c in freight.charts
    ]
    return parts


def stage_block(
    row: StageStatus, latest: VerificationRecord | None = None, extra: Sequence[tuple[str, str]] = ()
) -> StageBlock:
    """The head cells and detail lines of one Stage; `extra` detail lines come last."""
    markers: set[str] = set()
    held_ids = {f.name for f in row.current}
    freight = tuple(_freight_label(f) for f in row.current) or ("-",)
    newest = row.newest_available
    if newest is not None and newest.name not in held_ids and not row.control_flow:
        markers.add(NEWER)
        freight = (*freight[:-1], f"{freight[-1]} {NEWER}")
    verified = "yes" if row.verified else ("no" if row.current else "-")
    failed = latest is not None and latest.phase not in ("Successful", "Pending", "Running")
    if latest is not None and latest.phase in ("Pending", "Running"):
        verified += " (running)"
    elif failed:
        markers.add(CHECK_FAILED)
        verified += f" {CHECK_FAILED}"
    mode = "auto" if row.auto_promotion else "manual"
    if row.holds:
        markers.add("held")
        mode += " held"
    details: list[tuple[str, str]] = []
    if row.control_flow:
        details.append(
            ("kind", "control flow: no promotion steps; Freight available to it counts as verified")
        )
    artifacts = [a for f in row.current for a in _artifacts(f)]
    if artifacts:
        details.append(("artifacts", "\n".join(artifacts)))
    last = row.last_promotion
    if last is not None:
        details.append(("promoted", f"{last.phase} {last.finished_at or ''} {last.name}".replace("  ", " ")))
    if latest is not None and (failed or latest.phase in ("Pending", "Running")):
        message = f": {latest.message}" if latest.message else ""
        details.append(("verification", f"{latest.phase} {latest.finished_at or latest.started_at}{message}"))
    if NEWER in markers and newest is not None:
        details.append(("available", _freight_label(newest)))
    for warehouse, fid in row.holds.items():
        details.append(("held", f"{warehouse} at {fid[:12]}; promote the newest Freight by hand to lift it"))
    details += [("in progress", line) for line in row.activity()]
    details += extra
    return StageBlock(row.stage, freight, verified, mode, tuple(details), frozenset(markers))


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for part in text.splitlines() or [""]:
        lines += textwrap.wrap(part, width, break_on_hyphens=False, break_long_words=True) or [""]
    return lines


def render(blocks: Sequence[StageBlock], width: int, legend: Mapping[str, str] = LEGEND) -> list[str]:
    """The table's lines, none longer than `width`, then the legend of the markers that appear."""
    stage_w = max(len(HEADERS[0]), *(len(b.stage) for b in blocks)) if blocks else len(HEADERS[0])
    verified_w = max(len(HEADERS[2]), *(len(b.verified) for b in blocks)) if blocks else len(HEADERS[2])
    mode_w = max(len(HEADERS[3]), *(len(b.mode) for b in blocks)) if blocks else len(HEADERS[3])
    widest = max((len(cell) for b in blocks for cell in b.freight), default=0)
    room = width - stage_w - verified_w - mode_w - 6
    freight_w = max(len(HEADERS[1]), min(widest, room), 12)

    def line(stage: str, freight: str, verified: str, mode: str) -> str:
        cells = (stage.ljust(stage_w), freight.ljust(freight_w), verified.ljust(verified_w), mode)
        return "  ".join(cells).rstrip()

    out = [line(*HEADERS)]
    label_w = max((len(label) for b in blocks for label, _ in b.details), default=0)
    text_w = max(20, width - 2 - label_w - 2)
    for block in blocks:
        cells = [c for cell in block.freight for c in _wrap(cell, freight_w)]
        out.append(line(block.stage, cells[0], block.verified, block.mode))
        out += [line("", c, "", "") for c in cells[1:]]
        for label, text in block.details:
            wrapped = _wrap(text, text_w)
            out.append(f"  {label.ljust(label_w)}  {wrapped[0]}".rstrip())
            out += [f"  {'':{label_w}}  {w}".rstrip() for w in wrapped[1:]]
    used = set().union(*(b.markers for b in blocks)) if blocks else set()
    notes = [legend[m] for m in legend if m in used]
    if notes:
        out += ["", "Legend:"]
        for note in notes:
            wrapped = _wrap(note, width - 4)
            out += [f"  {wrapped[0]}", *(f"    {w}" for w in wrapped[1:])]
    return out
