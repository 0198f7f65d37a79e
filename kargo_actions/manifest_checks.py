"""The manifests' cross-checks: references between them (sources, tasks, templates, variables, steps, cycles,
origins), run by the loader (manifests.py) once every document is validated on its own."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from kargo_actions.manifest_yaml import Loc
from kargo_actions.model.project import Project
from kargo_actions.model.promotion_task import PromotionVar
from kargo_actions.model.stage import Stage

if TYPE_CHECKING:
    from kargo_actions.manifests import _Collector, _Doc
    from kargo_actions.model.analysis import AnalysisTemplate, ClusterAnalysisTemplate


def suggest(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def cross_check(
    project: Project,
    loaded: dict[str, dict[str, tuple[_Doc, Any]]],
    out: _Collector,
    steps: Collection[str],
) -> None:
    """References between manifests: sources, tasks, templates, variables, steps, cycles, origins."""
    for _name, (doc, task) in [*loaded["PromotionTask"].items(), *loaded["ClusterPromotionTask"].items()]:
        for i, step in enumerate(task.spec.steps):
            if step.uses is not None and step.uses not in steps:
                out.error(
                    doc.file,
                    doc.node,
                    ("spec", "steps", i, "uses"),
                    f"unknown step {step.uses!r}",
                    suggest(step.uses, steps) or "see docs for the step list",
                )
    for name, (doc, stage) in loaded["Stage"].items():
        _check_stage(project, name, doc, stage, out, steps)
    _check_cycles(project, loaded, out)
    _check_references_by_name(project, loaded, out)


def _check_references_by_name(
    project: Project, loaded: dict[str, dict[str, tuple[_Doc, Any]]], out: _Collector
) -> None:
    """Names that point nowhere but break nothing today: warnings (errors under --strict)."""
    for doc, config in loaded["ProjectConfig"].values():
        for i, policy in enumerate(config.spec.promotion_policies):
            if policy.stage is not None and policy.stage not in project.stages:
                out.warnings.append(
                    out.at(
                        doc.file,
                        doc.node,
                        ("spec", "promotionPolicies", i, "stage"),
                        f"the promotion policy names Stage {policy.stage!r}, which does not exist",
                        suggest(policy.stage, project.stages),
                    )
                )
    for doc, settings in loaded["Settings"].values():
        for stage in settings.spec.environments:
            if stage not in project.stages:
                out.warnings.append(
                    out.at(
                        doc.file,
                        doc.node,
                        ("spec", "environments", stage),
                        f"environment protection for Stage {stage!r}, which does not exist",
                        suggest(stage, project.stages),
                    )
                )
    if project.resource is None:
        return
    for kind in ("ProjectConfig", "Warehouse", "Stage", "PromotionTask", "AnalysisTemplate"):
        for doc, obj in loaded[kind].values():
            namespace = obj.metadata.namespace
            if namespace is not None and namespace != project.name:
                out.warnings.append(
                    out.at(
                        doc.file,
                        doc.node,
                        ("metadata", "namespace"),
                        f"namespace {namespace!r} is not the project's {project.name!r}:"
                        " in Kargo this would belong to another project",
                        f"set it to {project.name!r} or leave it out",
                    )
                )


def _check_stage(
    project: Project, name: str, doc: _Doc, stage: Stage, out: _Collector, steps: Collection[str]
) -> None:
    _check_sources(project, name, doc, stage, out)
    _check_steps(project, doc, stage, out, steps)
    _check_verification(project, doc, stage, out)


def _check_sources(project: Project, name: str, doc: _Doc, stage: Stage, out: _Collector) -> None:
    for r, request in enumerate(stage.spec.requested_freight):
        warehouse = request.origin.name
        base: Loc = ("spec", "requestedFreight", r)
        if warehouse not in project.warehouses and not out.reported("Warehouse", warehouse):
            out.error(
                doc.file,
                doc.node,
                (*base, "origin", "name"),
                f"Warehouse {warehouse!r} does not exist",
                suggest(warehouse, project.warehouses),
            )
        for s, upstream in enumerate(request.sources.stages):
            loc: Loc = (*base, "sources", "stages", s)
            if upstream not in project.stages:
                if out.reported("Stage", upstream):
                    continue
                out.error(
                    doc.file,
                    doc.node,
                    loc,
                    f"Stage {upstream!r} does not exist",
                    suggest(upstream, set(project.stages) - {name}),
                )
            elif upstream != name and project.stages[upstream].request_for(warehouse) is None:
                out.error(
                    doc.file,
                    doc.node,
                    loc,
                    f"Stage {upstream!r} does not request Freight from Warehouse {warehouse!r},"
                    " so it cannot supply it",
                    f"add Warehouse {warehouse!r} to the requestedFreight of Stage {upstream!r}",
                )


def _check_steps(project: Project, doc: _Doc, stage: Stage, out: _Collector, steps: Collection[str]) -> None:
    template = stage.spec.promotion_template
    if template is None:
        return
    outer = {v.name for v in [*stage.spec.vars, *template.spec.vars] if v.value is not None}
    for i, step in enumerate(template.spec.steps):
        loc: Loc = ("spec", "promotionTemplate", "spec", "steps", i)
        if step.uses is not None and step.uses not in steps:
            out.error(
                doc.file,
                doc.node,
                (*loc, "uses"),
                f"unknown step {step.uses!r}",
                suggest(step.uses, steps) or "see docs for the step list",
            )
        if step.task is None:
            continue
        task = project.task(step.task)
        if task is None and out.reported(step.task.kind, step.task.name):
            continue
        if task is None:
            tasks: Collection[str] = (
                project.cluster_promotion_tasks
                if step.task.kind == "ClusterPromotionTask"
                else project.promotion_tasks
            )
            out.error(
                doc.file,
                doc.node,
                (*loc, "task", "name"),
                f"{step.task.kind} {step.task.name!r} does not exist",
                suggest(step.task.name, tasks),
            )
            continue
        given = outer | {v.name for v in step.vars if v.value is not None}
        for missing in [v for v in task.spec.required_vars if v not in given]:
            out.error(
                doc.file,
                doc.node,
                (*loc, "task"),
                f"{step.task.kind} {task.name!r} requires variable {missing!r}, which is not set",
                "set it in this step's vars, the promotionTemplate's vars or the Stage's vars",
            )
        _check_step_vars(step.vars, task.spec.vars, doc, (*loc, "vars"), out)


def _check_verification(project: Project, doc: _Doc, stage: Stage, out: _Collector) -> None:
    verification = stage.spec.verification
    if verification is None:
        return
    passed = {a.name for a in verification.args}
    for t, ref in enumerate(verification.analysis_templates):
        pool: Mapping[str, AnalysisTemplate | ClusterAnalysisTemplate] = (
            project.analysis_templates
            if ref.kind == "AnalysisTemplate"
            else project.cluster_analysis_templates
        )
        loc: Loc = ("spec", "verification", "analysisTemplates", t, "name")
        template = pool.get(ref.name)
        if template is None and out.reported(ref.kind, ref.name):
            continue
        if template is None:
            out.error(
                doc.file, doc.node, loc, f"{ref.kind} {ref.name!r} does not exist", suggest(ref.name, pool)
            )
            continue
        from kargo_actions.verification.templates import provider_problems  # light: models only

        for problem in provider_problems(template):
            out.error(doc.file, doc.node, loc, problem.message, problem.hint)
        for arg in template.spec.required_args:
            if arg not in passed:
                out.error(
                    doc.file,
                    doc.node,
                    loc,
                    f"{ref.kind} {ref.name!r} needs argument {arg!r}, which verification.args does not pass",
                    f"add {{name: {arg}, value: ...}} to spec.verification.args",
                )


def _check_step_vars(
    step_vars: list[PromotionVar],
    declared: list[PromotionVar],
    doc: _Doc,
    loc: tuple[str | int, ...],
    out: _Collector,
) -> None:
    # A var a task does not declare is still visible to expressions; only a near-miss name is suspicious.
    names = {v.name for v in declared}
    for i, var in enumerate(step_vars):
        if var.name not in names:
            hint = suggest(var.name, names)
            if hint:
                out.warnings.append(
                    out.at(
                        doc.file,
                        doc.node,
                        (*loc, i, "name"),
                        f"the task declares no variable {var.name!r}",
                        hint,
                    )
                )


def _check_cycles(project: Project, loaded: dict[str, dict[str, tuple[_Doc, Any]]], out: _Collector) -> None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    reported: set[frozenset[str]] = set()

    def visit(name: str, path: list[str]) -> Iterator[list[str]]:
        state[name] = 1
        for upstream in project.stages[name].upstream_stages:
            if upstream not in project.stages:
                continue
            if state.get(upstream) == 1:
                yield [*path[path.index(upstream) :], upstream] if upstream in path else [name, upstream]
            elif upstream not in state:
                yield from visit(upstream, [*path, upstream])
        state[name] = 2

    for name in sorted(project.stages):
        if name in state:
            continue
        for cycle in visit(name, [name]):
            key = frozenset(cycle)
            if key in reported:
                continue
            reported.add(key)
            first = cycle[0]
            doc = loaded["Stage"][first][0]
            stage = project.stages[first]
            nxt = cycle[1]
            loc: tuple[str | int, ...] = ("spec", "requestedFreight")
            for r, req in enumerate(stage.spec.requested_freight):
                if nxt in req.sources.stages:
                    loc = ("spec", "requestedFreight", r, "sources", "stages", req.sources.stages.index(nxt))
                    break
            chain = " <- ".join(cycle)
            out.error(
                doc.file,
                doc.node,
                loc,
                f"stages form a cycle: {chain}",
                "Freight must flow one way: remove one source",
            )
