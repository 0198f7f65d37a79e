"""Evaluating one step before it runs, as Kargo does: its variables (the Promotion's, then its own), its `if`
and its config, in the expression environment of the promotion so far (outputs, task outputs, secrets,
metadata, success()/failure()/status()).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.expressions import (
    CONFIG_MAP_ENV_PREFIX,
    SECRET_ENV_PREFIX,
    Environment,
    ExpressionError,
    Function,
    KargoEnvironment,
    environ_provider,
    render_template,
)
from kargo_actions.expressions.errors import EvalFailure
from kargo_actions.expressions.kargo import MetadataProvider
from kargo_actions.promotion.result import StepRun
from kargo_actions.promotion.step_api import StepStatus
from kargo_actions.promotion.tasks import ALIAS_SEPARATOR, PlannedStep, PromotionPlan

if TYPE_CHECKING:
    from kargo_actions.model.project import Project
    from kargo_actions.promotion.engine import PromotionRun
    from kargo_actions.promotion.options import EngineOptions

_FAILED = frozenset({StepStatus.FAILED, StepStatus.ERRORED})


class StepOutcome(Exception):
    """Ends one step early with its final status (raised while evaluating or running it, caught by the engine)."""

    def __init__(self, status: StepStatus, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = tuple(problems)


def has_failures(runs: Sequence[StepRun]) -> bool:
    """Kargo's test for an empty `if` and for success()/failure(): a Failed or Errored step that did not set
    continueOnError."""
    return any(r.status in _FAILED and not r.continue_on_error for r in runs)


class Evaluator:
    """The expression side of one promotion; `state` and `runs` are the engine's own, read as they grow."""

    def __init__(
        self,
        run: PromotionRun,
        options: EngineOptions,
        project: Project | None,
        env: Mapping[str, str],
        state: dict[str, Any],
        runs: list[StepRun],
    ) -> None:
        self.run_info = run
        self.options = options
        self.project = project
        self.secrets = environ_provider(SECRET_ENV_PREFIX, env)
        self.config_maps = environ_provider(CONFIG_MAP_ENV_PREFIX, env)
        self.state = state
        self.runs = runs

    def at(self, planned: PlannedStep, *loc: str | int, message: str, hint: str = "") -> Problem:
        """A problem located at the step's field in its manifest (or named by alias when it has no source)."""
        if planned.source is None:
            shown = ".".join(str(p) for p in loc)
            return Problem(path=f"step {planned.alias!r}: {shown}".rstrip(": "), message=message, hint=hint)
        return planned.source.problem(self.project, *loc, message=message, hint=hint)

    def _task_outputs(self, planned: PlannedStep) -> dict[str, Any] | None:
        if not planned.task:
            preset = self.run_info.preset_task_outputs
            return dict(preset) if preset is not None else None
        prefix = planned.task + ALIAS_SEPARATOR
        return {
            alias[len(prefix) :]: value for alias, value in self.state.items() if alias.startswith(prefix)
        }

    def environment(self, planned: PlannedStep, variables: dict[str, Any], *, outputs: bool) -> Environment:
        """The expression environment of one step; `variables` is shared, so vars evaluated one by one see
        the ones before."""
        info = self.run_info
        kargo = KargoEnvironment(
            project=info.project,
            stage=info.stage,
            promotion=info.name,
            target_freight=info.target_freight,
            actor=info.actor,
            rollback=self.options.rollback,
            step_alias=planned.alias,
            ui_base_url=self.options.ui_base_url,
            outputs=self.state if outputs else None,
            task_outputs=self._task_outputs(planned) if outputs else None,
            freight=info.freight,
            secrets=self.secrets,
            config_maps=self.config_maps,
            stage_metadata=self._metadata_provider("Stage"),
            freight_metadata=self._metadata_provider("Freight"),
        )
        names = kargo.variables()
        names["vars"] = variables
        functions = {**kargo.functions(), **self._status_functions(planned)}
        return Environment(names, functions, kargo.limits)

    def _metadata_provider(self, kind: str) -> MetadataProvider | None:
        """What stageMetadata() / freightMetadata() read: the ledger's metadata records, read afresh on every
        call so a later step sees what set-metadata wrote."""
        if kind == "Stage" and self.options.stage_metadata is not None:
            return self.options.stage_metadata
        ledger = self.options.ledger
        if ledger is None:
            return None

        def provide(name: str) -> Mapping[str, Any] | None:
            try:
                return ledger.metadata("Freight" if kind == "Freight" else "Stage", name)
            except InvalidInputError:  # not a Stage name / Freight ID: nothing recorded under it
                return None

        return provide

    def _status_functions(self, planned: PlannedStep) -> dict[str, Function]:
        """success()/failure() over every earlier step (continueOnError ones do not count), and status(alias),
        which inside a task sees only that task's steps, by their short alias (as Kargo)."""
        scoped: dict[str, str] = {}
        for r in self.runs:
            namespace, _, short = r.alias.rpartition(ALIAS_SEPARATOR)
            if namespace == planned.task:
                scoped[short] = str(r.status)
        failed = has_failures(self.runs)

        def status(args: list[Any]) -> Any:
            alias = args[0]
            if not isinstance(alias, str) or not alias:
                raise EvalFailure("status(): the step alias must be a non-empty string")
            return scoped.get(alias, "")

        return {
            "success": Function("success", lambda ev, args: not failed, 0, 0, ""),
            "failure": Function("failure", lambda ev, args: failed, 0, 0, ""),
            "status": Function("status", lambda ev, args: status(args), 1, 1, "stepAlias"),
        }

    def variables(self, planned: PlannedStep, plan: PromotionPlan) -> dict[str, Any]:
        """The Promotion's vars (no outputs visible), then the step's own (outputs visible), later winning."""
        variables: dict[str, Any] = dict(self.run_info.preset_vars)
        for outputs, declared in ((False, plan.vars), (True, planned.vars)):
            if not declared:
                continue
            env = self.environment(planned, variables, outputs=outputs)
            for var in declared:
                try:
                    variables[var.name] = render_template(var.value or "", env)
                except ExpressionError as err:
                    raise StepOutcome(
                        StepStatus.ERRORED,
                        f"step {planned.alias!r}: variable {var.name!r}: {err.message}"
                        f" (in {err.text!r} at column {err.column})",
                    ) from None
        return variables

    def condition(self, planned: PlannedStep, variables: dict[str, Any]) -> bool:
        env = self.environment(planned, variables, outputs=True)
        try:
            value = render_template(planned.if_, env)
        except ExpressionError as err:
            problem = self.at(
                planned, "if", message=f"{err.message} (in {err.text!r} at column {err.column})"
            )
            raise StepOutcome(StepStatus.ERRORED, str(problem), (problem,)) from None
        if not isinstance(value, bool):
            hint = "write the condition as ${{ expression }}" if isinstance(value, str) else ""
            problem = self.at(
                planned, "if", message=f"`if` must evaluate to a boolean, got {value!r}", hint=hint
            )
            raise StepOutcome(StepStatus.ERRORED, str(problem), (problem,))
        return value

    def config(self, planned: PlannedStep, variables: dict[str, Any]) -> dict[str, Any]:
        """The config with every expression evaluated (keys never are); an error names the field."""
        env = self.environment(planned, variables, outputs=True)

        def render(value: Any, loc: tuple[str | int, ...]) -> Any:
            if isinstance(value, str):
                try:
                    return render_template(value, env)
                except ExpressionError as err:
                    problem = self.at(
                        planned,
                        "config",
                        *loc,
                        message=f"{err.message} (in {err.text!r} at column {err.column})",
                        hint=err.hint,
                    )
                    raise StepOutcome(StepStatus.ERRORED, str(problem), (problem,)) from None
            if isinstance(value, Mapping):
                return {key: render(item, (*loc, key)) for key, item in value.items()}
            if isinstance(value, list | tuple):
                return [render(item, (*loc, i)) for i, item in enumerate(value)]
            return value

        rendered = render(dict(planned.config or {}), ())
        assert isinstance(rendered, dict)
        return rendered
