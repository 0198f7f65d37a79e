"""What a promotion reports besides its ledger records: nothing by default; a Deployment and commit statuses
when it runs for a GitHub repository (kargo_actions.promotion.github_reporting, chosen by promotion.reporters).

Reporting never decides a promotion's outcome: a report that cannot be made is a warning (a missing token
permission an error message, printed once), and the ledger record and exit code stay the promotion's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger
    from kargo_actions.model.freight import Freight
    from kargo_actions.model.stage import Stage
    from kargo_actions.promotion.options import StepObserver
    from kargo_actions.promotion.result import PromotionResult


class PromotionReport:
    """The reports of one promotion; this one reports nothing."""

    deployment_id: int | None = None  # kept in the promotion record, so a resumed run reports to it

    def observe(self, inner: StepObserver | None) -> StepObserver | None:
        """The engine's step observer: `inner` (progress) plus whatever this report does after each step."""
        return inner

    def suspend(self, result: PromotionResult) -> None:
        """The run stopped at a waiting step (`result` is Running); another process resumes it later."""

    def finish(self, result: PromotionResult, *, verified: bool, error: str = "") -> None:
        """The promotion ended with `result` (recorded in the ledger unless `error` says why it was not)."""


class Reporter:
    """Opens a PromotionReport per promotion; this one reports nothing (local runs, `--no-github`)."""

    name = "none"

    def begin(
        self, stage: Stage, freight: Freight, promotion: str, ledger: Ledger, deployment_id: int | None = None
    ) -> PromotionReport:
        """Called after the Running record is written (the Freight's tag is on the remote, and fetched); with
        `deployment_id` (a resumed promotion) the report goes on with that Deployment instead of a new one."""
        return PromotionReport()
