"""How promotion progress names things: a header line per promotion, and each step by its name or, for an
unnamed one, by the step it uses (`step-2` tells a reader nothing)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kargo_actions.promotion.reporting import PromotionReport, Reporter

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger
    from kargo_actions.model.freight import Freight
    from kargo_actions.model.stage import Stage
    from kargo_actions.promotion.result import StepRun

# The alias Kargo gives a step without `as` (`step-<index>`), alone or inside a task (`task::step-1`).
_UNNAMED = re.compile(r"(?:^|::)step-\d+$")


def step_label(run: StepRun) -> str:
    """`out (compose-output)` for a named step; `compose-output (step-2)` for an unnamed one."""
    if _UNNAMED.search(run.alias):
        return f"{run.uses} ({run.alias})"
    return f"{run.alias} ({run.uses})"


def header_line(stage: str, freight: Freight, promotion: str) -> str:
    """The line above a promotion's step lines: which Stage, which Freight, which promotion."""
    return f"{stage}: promoting Freight {freight.alias or freight.name[:12]} ({promotion})"


class HeadedReporter(Reporter):
    """A reporter that first tells `on_begin` which promotion begins, so its step lines follow a header."""

    def __init__(self, inner: Reporter, on_begin: Callable[[str, Freight, str], None]) -> None:
        self.inner = inner
        self.name = inner.name
        self._on_begin = on_begin

    def begin(
        self, stage: Stage, freight: Freight, promotion: str, ledger: Ledger, deployment_id: int | None = None
    ) -> PromotionReport:
        self._on_begin(stage.name, freight, promotion)
        return self.inner.begin(stage, freight, promotion, ledger, deployment_id)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)
