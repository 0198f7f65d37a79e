"""A promotion's start, published while its first steps run.

The start write (the Running record that claims the Stage) is built on a freshly fetched ledger, then pushed
on a thread (`Ledger.write(..., background=True)`) while the engine runs the steps whose effects stay in the
work dir (clone, edits, commit: `effects_local`). The first step with effects outside (a push, a pull
request, an Argo CD sync) waits for the push to land, and so does the report (a GitHub Deployment) and the
end write: nothing leaves the work dir before the Stage is claimed. A push that lost its race stops the run
with ClaimLost before any such step; the promotion then starts again, as a whole, on the new tip.
"""

from __future__ import annotations

from collections.abc import Callable

from kargo_actions.ledger.plans import PendingPush
from kargo_actions.promotion.options import ClaimLost, StepObserver
from kargo_actions.promotion.reporting import PromotionReport
from kargo_actions.promotion.result import StepRun


class StartClaim:
    """The start's push on its way, and the report that begins once it has landed (step reports held until
    then, in order)."""

    def __init__(
        self,
        pending: PendingPush | None,
        begin_report: Callable[[], PromotionReport],
        progress: StepObserver | None,
    ) -> None:
        self._pending = pending
        self._begin_report = begin_report
        self._progress = progress
        self._report: PromotionReport | None = None
        self._observer: StepObserver | None = None
        self._held: list[StepRun] = []

    def observe(self, run: StepRun) -> None:
        """The engine's step observer: held until the claim has landed, then passed on."""
        if self._report is None:
            self._held.append(run)
        elif self._observer is not None:
            self._observer(run)

    def settle(self) -> PromotionReport:
        """Wait for the start to land and begin the report (once); ClaimLost when it did not land."""
        if self._report is None:
            if self._pending is not None:
                try:
                    landed = self._pending.landed()
                except Exception as err:  # the push failed outright: the run ends with that error
                    raise ClaimLost(err) from err
                if not landed:
                    raise ClaimLost()
            self._report = self._begin_report()
            self._observer = self._report.observe(self._progress)
            held, self._held = self._held, []
            for run in held:
                self.observe(run)
        return self._report

    def before_external(self) -> None:
        self.settle()
