"""Job summaries ($GITHUB_STEP_SUMMARY) of discover, promote and verify: a Mermaid drawing of the pipeline
with each Stage's Freight and the Stage acted on highlighted, what a promotion changed (images with registry
links, commit ranges with compare links, chart versions), its steps with timings and its pull request; cut
with a note to stay under GitHub's 1 MiB per step."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from kargo_actions.errors import KargoActionsError
from kargo_actions.github.prbody import changes_section
from kargo_actions.ledger.records import StageStateRecord
from kargo_actions.model.freight import Freight
from kargo_actions.model.project import Project
from kargo_actions.promotion.result import PromotionResult, StepRun
from kargo_actions.report.graph import build_graph, node_id, render_mermaid
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger
    from kargo_actions.ledger.store import Snapshot
    from kargo_actions.promotion.service import PromotionOutcome

SUMMARY_LIMIT = 1024 * 1024  # bytes GitHub shows of one step's summary
_NOTE_ROOM = 400  # bytes kept for the note saying what was cut


def cell(text: object) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    return str(text).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def stage_freight_labels(states: Mapping[str, StageStateRecord]) -> dict[str, str]:
    """Stage node ID -> the Freight it holds (aliases, else short IDs), from the Stage states."""
    labels: dict[str, str] = {}
    for stage, state in states.items():
        held = state.freight_history[0].freight if state.freight_history else []
        names = [ref.alias or ref.name[:7] for ref in held] or [c.name[:7] for c in state.current_freight]
        labels[node_id("Stage", stage)] = ", ".join(names) if names else "no Freight"
    return labels


def pipeline_section(
    project: Project,
    states: Mapping[str, StageStateRecord],
    *,
    promoted: Iterable[str] = (),
    failed: Iterable[str] = (),
    warehouses: Iterable[str] = (),
) -> str:
    """A Mermaid block of the pipeline: each Stage with its Freight; `promoted` Stages (and `warehouses` that
    made new Freight) green, `failed` ones red."""
    highlight = {node_id("Stage", s): "promoted" for s in promoted}
    highlight.update({node_id("Warehouse", w): "promoted" for w in warehouses})
    highlight.update({node_id("Stage", s): "failed" for s in failed})
    labels = {node_id("Stage", s): "no Freight" for s in project.stages} | stage_freight_labels(states)
    chart = render_mermaid(build_graph(project), labels=labels, highlight=highlight)
    return f"```mermaid\n{chart}```\n"


def steps_table(steps: Sequence[StepRun]) -> str:
    if not steps:
        return ""
    lines = ["| Step | Uses | Status | Time | Message |", "|---|---|---|---|---|"]
    for s in steps:
        lines.append(
            f"| {cell(s.alias)} | `{cell(s.uses)}` | {cell(s.status)} | {s.duration:.2f}s | {cell(s.message)} |"
        )
    return "\n".join(lines) + "\n"


def pull_request_url(steps: Sequence[StepRun]) -> str:
    """The pull request a promotion opened (git-open-pr's `pr.url`) or waits on, or ""."""
    for s in steps:
        pr = s.outputs.get("pr")
        if isinstance(pr, Mapping) and isinstance(pr.get("url"), str):
            return str(pr["url"])
        if s.waiting is not None and s.waiting.kind == "pull-request" and s.waiting.url:
            return s.waiting.url
    return ""


@struct
class PromotionView:
    """One promotion as its summary section shows it."""

    result: PromotionResult
    freight: Freight
    previous: Freight | None  # what the Stage held before, for "what changed"
    detail: str = ""  # how it ended beyond the phase (verification, queued, waiting)


def promotion_section(view: PromotionView) -> str:
    result, freight = view.result, view.freight
    name = f"`{freight.alias}` ({freight.name[:7]})" if freight.alias else f"`{freight.name[:12]}`"
    lines = [
        f"#### {result.stage}: {result.phase}",
        "",
        f"Promotion `{result.name}` of Freight {name}, {result.duration:.1f}s."
        + (f" {view.detail}" if view.detail else ""),
    ]
    pr = pull_request_url(result.steps)
    if pr:
        lines += ["", f"Pull request: {pr}"]
    if result.message and not result.succeeded:
        lines += ["", f"> {cell(result.message)}"]
    changes = changes_section(freight, view.previous)
    if changes:
        lines += [
            "",
            "**What changed**"
            + (f" (from `{view.previous.alias or view.previous.name[:7]}`)" if view.previous else ""),
            "",
            changes.rstrip(),
        ]
    table = steps_table(result.steps)
    if table:
        lines += ["", "**Steps**", "", table.rstrip()]
    return "\n".join(lines) + "\n"


def fit_summary(parts: Sequence[str], limit: int = SUMMARY_LIMIT) -> str:
    """The parts joined, cut at a line where the next would pass `limit` bytes, with a note saying what was
    left out (GitHub refuses a step summary over 1 MiB and shows none of it)."""
    whole = "\n".join(parts)
    if len(whole.encode()) <= limit:
        return whole
    room = limit - _NOTE_ROOM
    kept: list[str] = []
    used = 0
    for part in parts:
        size = len(part.encode()) + 1
        if used + size <= room:
            kept.append(part)
            used += size
            continue
        # part of this one, to a line boundary
        data = part.encode()[: max(room - used, 0)].decode(errors="ignore")
        cut = data[: data.rfind("\n") + 1] if "\n" in data else ""
        if cut.count("```") % 2:  # do not leave a code block open
            cut += "```\n"
        kept.append(cut)
        break
    text = "\n".join(kept)
    left = len(whole.encode()) - len(text.encode())
    note = (
        f"\n> [!NOTE]\n> This summary is cut to stay within GitHub's 1 MiB job summary limit: {left:,} bytes "
        "left out. The command's output and `--output json` have everything.\n"
    )
    return text + note


def promotion_summary(
    project: Project,
    states: Mapping[str, StageStateRecord],
    views: Sequence[PromotionView],
    table: str,
    *,
    limit: int = SUMMARY_LIMIT,
) -> str:
    """The promote (or rollback, reconcile) job summary: the outcome table, the pipeline, each promotion."""
    promoted = [v.result.stage for v in views if v.result.succeeded]
    failed = [v.result.stage for v in views if not v.result.succeeded and str(v.result.phase) != "Running"]
    parts = [table, "#### Pipeline", "", pipeline_section(project, states, promoted=promoted, failed=failed)]
    parts += [promotion_section(v) for v in views]
    return fit_summary(parts, limit)


def simple_summary(
    project: Project,
    states: Mapping[str, StageStateRecord],
    table: str,
    *,
    promoted: Iterable[str] = (),
    failed: Iterable[str] = (),
    warehouses: Iterable[str] = (),
    limit: int = SUMMARY_LIMIT,
) -> str:
    """discover's and verify's summary: their own table, then the pipeline with what they touched highlighted."""
    drawing = pipeline_section(project, states, promoted=promoted, failed=failed, warehouses=warehouses)
    return fit_summary([table, "#### Pipeline", "", drawing], limit)


def _previous(
    ledger: Ledger, snap: Snapshot, state: StageStateRecord | None, outcome: PromotionOutcome
) -> Freight | None:
    """What the Stage held of the Freight's origin before the promotion (for "what changed")."""
    if state is None:
        return None
    history = state.freight_history
    at = next((i for i, h in enumerate(history) if h.promotion == outcome.result.name), None)
    entry = (
        history[at + 1]
        if at is not None and at + 1 < len(history)
        else (history[0] if at is None and history else None)
    )
    if entry is None:
        return None
    origin = outcome.freight.origin.name
    ref = next((r for r in entry.freight if r.origin.name == origin and r.name != outcome.freight.name), None)
    if ref is None:
        return None
    try:
        return ledger.get_freight(ref.name, snap)
    except KargoActionsError:  # a Freight record gone from the ledger: the table shows no "from"
        return None


def _detail(outcome: PromotionOutcome) -> str:
    if outcome.queued:
        return "Queued behind the Stage's running promotion."
    if outcome.verification_failed:
        return f"Verification {outcome.verification}: {outcome.verification_message}".rstrip(": ")
    if outcome.verification == "Successful" or outcome.verified:
        return "Verified."
    return ""


def promotion_views(
    ledger: Ledger, outcomes: Sequence[PromotionOutcome]
) -> tuple[dict[str, StageStateRecord], list[PromotionView]]:
    """The Stage states after the promotions and one view per promotion, from one ledger snapshot."""
    snap = ledger.snapshot()
    states = {s.stage: s for s in snap.stage_states().records}
    views = [
        PromotionView(o.result, o.freight, _previous(ledger, snap, states.get(o.result.stage), o), _detail(o))
        for o in outcomes
    ]
    return states, views
