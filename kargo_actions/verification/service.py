"""Verify a Stage's current Freight: plan the AnalysisRun, record it Running, run it, record the end.

One verification = two ledger writes (compare-and-swap, like a promotion): a Running VerificationRecord
(after checking that the Freight is current in the Stage, on the freshly fetched ledger), then the final
record with, on Successful, the Stage state's `verified[freight]` entry (verifiedAt = the run's finish time;
an entry from an earlier verification is kept, as Kargo keeps it, so gates.soak_time is not restarted) and
the control-flow Stages settled again, so downstream gates open in the same commit. Failed / Error /
Inconclusive / Aborted leave the Freight unverified; the record's message says which metric, limit and value.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from kargo_actions.errors import InvalidInputError, Problem, RefusedError, did_you_mean
from kargo_actions.ledger.records import (
    AnalysisResult,
    FreightReference,
    StageStateRecord,
    VerificationPhase,
    VerificationRecord,
    VerifiedFreight,
    dump_record,
    stage_path,
    verification_path,
)
from kargo_actions.ledger.store import NoWrite, Snapshot, WritePlan
from kargo_actions.model.promotion import new_ulid
from kargo_actions.struct import struct
from kargo_actions.verification.phases import Measurement, Phase, RunResult
from kargo_actions.verification.providers.base import MeasureContext
from kargo_actions.verification.runner import Clock, RunOptions, SystemClock, run_analysis, stamp
from kargo_actions.verification.templates import AnalysisPlan, RunMetric, plan_analysis

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger
    from kargo_actions.model.freight import Freight
    from kargo_actions.model.project import Project
    from kargo_actions.model.stage import Stage


@struct
class VerifyOptions:
    """Clock, abort, progress callback and environment (secrets, GitHub) of one verification."""

    clock: Clock = field(default_factory=SystemClock)
    abort: threading.Event | None = None
    on_measurement: Callable[[RunMetric, Measurement], None] | None = None
    env: Mapping[str, str] | None = None  # None: os.environ
    mask: Callable[[str], None] | None = None  # None: ::add-mask:: when GITHUB_ACTIONS=true
    github: bool | None = None  # report kargo/verified/<stage>: None = when GitHub is configured


@struct
class VerificationOutcome:
    """What one verification did: the run, the record's id, the Freight."""

    stage: str
    freight: Freight
    record_id: str
    run: RunResult
    plan: AnalysisPlan

    @property
    def succeeded(self) -> bool:
        return self.run.successful

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.record_id,
            "stage": self.stage,
            "freight": self.freight.name,  # a string: the actions' `freight` output reads it
            "alias": self.freight.alias,
            "templates": list(self.plan.templates),
            **self.run.to_json(),
        }


def verification_stage(project: Project, name: str) -> Stage:
    stage = project.stages.get(name)
    if stage is None:
        hint = did_you_mean(name, project.stages) or f"Stages: {', '.join(project.stage_order())}"
        raise InvalidInputError([Problem(path="--stage", message=f"no Stage {name!r}", hint=hint)])
    if stage.spec.verification is None or not stage.spec.verification.analysis_templates:
        raise InvalidInputError(
            [
                Problem(
                    path="--stage",
                    message=f"Stage {name} defines no verification (spec.verification.analysisTemplates)",
                    hint="a Stage without verification is verified by a successful promotion alone",
                )
            ]
        )
    return stage


def _current(ledger: Ledger, stage: Stage, ref: str | None, snap: Snapshot) -> Freight:
    """The Freight to verify: REF (which must be current in the Stage) or the Stage's current Freight."""
    state = ledger.stage_state(stage.name, snap)
    current = [c.name for c in state.current_freight]
    if not current:  # nothing to verify is a mistake in the request, not a gate's refusal (exit 2)
        raise InvalidInputError(
            [
                Problem(
                    path="--stage",
                    message=f"Stage {stage.name} holds no Freight yet",
                    hint=f"promote one first: kargo-actions promote --stage {stage.name} --freight FREIGHT",
                )
            ]
        )
    if ref:
        entry = ledger.resolve(ref, snap)
        if entry.id not in current:
            raise RefusedError(
                f"Freight {ref} ({entry.id[:12]}) is not in Stage {stage.name}, which holds "
                f"{', '.join(c[:12] for c in current)}; verification runs on the Stage's current Freight: "
                "promote it first"
            )
        return ledger.get_freight(entry.id, snap)
    if len(current) > 1:
        raise InvalidInputError(
            [
                Problem(
                    path="--freight",
                    message=f"Stage {stage.name} holds {len(current)} Freight (one per origin)",
                    hint="name the one to verify with --freight REF",
                )
            ]
        )
    return ledger.get_freight(current[0], snap)


def _results(plan: AnalysisPlan, run: RunResult) -> list[AnalysisResult]:
    """One AnalysisResult per metric: `<template>`, the metric's phase, why, and its last value."""
    out: list[AnalysisResult] = []
    for metric in run.metrics:
        last = metric.last
        parts = [f"metric {metric.name}: {metric.phase}", f"{len(metric.measurements)} measurements"]
        if metric.dry_run:
            parts.append("dry run")
        if last is not None and last.value:
            parts.append(f"last value {last.value}")
        if metric.message:
            parts.append(metric.message)
        out.append(
            AnalysisResult(
                template=metric.template,
                phase=cast(VerificationPhase, str(metric.phase)),
                message="; ".join(parts),
            )
        )
    return out


def _record(
    run_id: str,
    stage: Stage,
    freight: Freight,
    actor: str,
    started: str,
    run: RunResult | None,
    plan: AnalysisPlan,
) -> VerificationRecord:
    return VerificationRecord(
        id=run_id,
        stage=stage.name,
        freight=FreightReference(name=freight.name, alias=freight.alias, origin=freight.origin),
        phase=cast(VerificationPhase, "Running" if run is None else str(run.phase)),
        message=None if run is None else (run.message or None),
        actor=actor,
        started_at=started,
        finished_at=None if run is None else run.finished,
        results=[] if run is None else _results(plan, run),
    )


def check_providers(plan: AnalysisPlan, ctx: MeasureContext) -> None:
    """Open and close every metric's provider: its config problems as an InvalidInputError, before any run."""
    from kargo_actions.verification.providers import open_provider

    for metric in plan.metrics:
        open_provider(metric, ctx).close()


def verified_state(state: StageStateRecord, freight_id: str, verified_at: str) -> StageStateRecord:
    """The Stage state with the Freight verified at `verified_at`. A Freight verified there before keeps its
    entry (verifiedAt and longestSoak), as Kargo's FreightStatus.AddVerifiedStage does: a reverification
    does not restart the soak time downstream Stages count."""
    if freight_id in state.verified:
        return state
    verified = {**state.verified, freight_id: VerifiedFreight(verified_at=verified_at)}
    return state.model_copy(update={"verified": verified, "updated_at": verified_at})


def verify(
    project: Project,
    ledger: Ledger,
    stage_name: str,
    ref: str | None = None,
    options: VerifyOptions | None = None,
) -> VerificationOutcome:
    """Run the Stage's verification on its current Freight (or REF) and record it.

    InvalidInputError (exit 2) for a bad Stage, template, arg or provider config; RefusedError (exit 3)
    when the Freight is not in the Stage; both before anything is recorded.
    """
    from kargo_actions.promotion.gates import changed_states, settle_control_flow
    from kargo_actions.promotion.lifecycle import all_freight, stage_states

    opts = options or VerifyOptions()
    env = os.environ if opts.env is None else opts.env
    stage = verification_stage(project, stage_name)
    mask = opts.mask
    if mask is None and env.get("GITHUB_ACTIONS") == "true":
        from kargo_actions.redact import mask as github_mask

        mask = github_mask
    plan = plan_analysis(project, stage, env, mask)
    ledger.sync()
    actor = ledger.actor()
    run_id = new_ulid().lower()
    started = stamp(opts.clock.wall())

    def start(snap: Snapshot) -> WritePlan[Freight] | NoWrite[Freight]:
        item = _current(ledger, stage, ref, snap)
        record = _record(run_id, stage, item, actor, started, None, plan)
        return WritePlan(
            summary=f"verification: {stage.name} {item.name[:12]} Running (by {actor})",
            files={verification_path(stage.name, run_id): dump_record(record)},
            result=item,
        )

    def _final(snap: Snapshot, result: RunResult) -> WritePlan[None] | NoWrite[None]:
        record = _record(run_id, stage, freight, actor, started, result, plan)
        files: dict[str, bytes | None] = {verification_path(stage.name, run_id): dump_record(record)}
        if result.successful:
            states = stage_states(snap)
            state = states.get(stage.name) or StageStateRecord(stage=stage.name)
            if (
                any(c.name == freight.name for c in state.current_freight)
                and freight.name not in state.verified
            ):
                new = verified_state(state, freight.name, result.finished)
                after = {**states, stage.name: new}
                now = datetime.now(UTC)
                settled = settle_control_flow(project, after, all_freight(snap), now)
                files[stage_path(stage.name)] = dump_record(new)
                for name, changed in changed_states(after, settled).items():
                    files[stage_path(name)] = dump_record(changed)
        return WritePlan(
            summary=f"verification: {stage.name} {freight.name[:12]} {result.phase} (by {actor})",
            files=files,
            result=None,
        )

    abort = opts.abort or threading.Event()
    # Provider configs are checked (opened and closed) on the Freight as the ledger shows it now, so a bad
    # one is bad input that records nothing; the Running record then re-checks the Freight is current.
    check_providers(plan, MeasureContext(freight=_current(ledger, stage, ref, ledger.snapshot()), env=env))
    freight = ledger.write(start).result

    try:
        run = run_analysis(
            plan,
            RunOptions(
                clock=opts.clock,
                abort=abort,
                on_measurement=opts.on_measurement,
                context=MeasureContext(freight=freight, env=env, abort=abort),
            ),
        )
    except Exception as err:  # the Running record must get its end: a crash is the run's Error
        if isinstance(err, InvalidInputError):
            message = "; ".join(str(p) for p in err.problems)
        else:
            message = f"verification stopped by an unexpected error: {type(err).__name__}: {err}"
        now = stamp(opts.clock.wall())
        run = RunResult(phase=Phase.ERROR, message=message, started=started, finished=now)
        ledger.write(lambda snap: _final(snap, run))
        raise

    ledger.write(lambda snap: _final(snap, run))
    outcome = VerificationOutcome(stage=stage.name, freight=freight, record_id=run_id, run=run, plan=plan)
    report_verified(stage, freight, ledger, outcome, env, opts.github)
    return outcome


def report_verified(
    stage: Stage,
    freight: Freight,
    ledger: Ledger,
    outcome: VerificationOutcome,
    env: Mapping[str, str],
    github: bool | None,
) -> None:
    """`kargo/verified/<stage>` on the Freight's commit (success, or failure/error), through the promotion's
    GitHub reporter when GitHub is configured; never raises (a failed report is a warning)."""
    from kargo_actions.promotion.reporters import choose_reporter

    reporter = choose_reporter(github, env)
    if reporter.name != "github" or outcome.run.phase is Phase.ABORTED:
        return
    from kargo_actions.github.statuses import mark_verified
    from kargo_actions.promotion.github_reporting import GitHubReporter, verified_commits

    assert isinstance(reporter, GitHubReporter)
    state = {Phase.SUCCESSFUL: "success", Phase.FAILED: "failure"}.get(outcome.run.phase, "error")
    tag_ref = ledger.config.tag_ref(freight.origin.name, freight.name)
    proc = ledger.git.run("rev-parse", "--verify", "-q", f"{tag_ref}^{{commit}}", check=False)
    tag_commit = proc.stdout.decode().strip() if proc.returncode == 0 else ""
    for sha in verified_commits(freight, reporter.repository, tag_commit):
        reporter.attempt(
            "statuses",
            f"post kargo/verified/{stage.name} on {sha[:12]}",
            lambda sha=sha: mark_verified(  # type: ignore[misc]
                reporter.client(),
                stage.name,
                sha,
                freight=freight,
                state=state,  # type: ignore[arg-type]
                target_url=reporter.log_url,
            ),
        )


def abort_verification(project: Project, ledger: Ledger, stage_name: str) -> list[VerificationRecord]:
    """Mark every Running verification record of the Stage Aborted (e.g. after its job was cancelled)."""
    stage = verification_stage(project, stage_name)
    ledger.sync()
    actor = ledger.actor()

    def build(snap: Snapshot) -> WritePlan[list[VerificationRecord]] | NoWrite[list[VerificationRecord]]:
        read = snap.load_dir(VerificationRecord, f"verifications/{stage.name}")
        running = [r for r in read.records if r.phase == "Running"]
        if not running:
            return NoWrite([])
        now = stamp(datetime.now(UTC))
        ended = [
            r.model_copy(update={"phase": "Aborted", "finished_at": now, "message": f"aborted by {actor}"})
            for r in running
        ]
        return WritePlan(
            summary=f"verification: {stage.name} {len(ended)} Aborted (by {actor})",
            files={verification_path(r.stage, r.id): dump_record(r) for r in ended},
            result=ended,
        )

    return ledger.write(build).result
