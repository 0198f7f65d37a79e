"""A first, simple availability rule for `freight list --available-for` (the full gates come later).

Kargo's rule: the Freight's origin must be requested by the Stage, and it is approved for the Stage, or the
request takes it directly from the Warehouse, or it is verified in one (OneOf) / all (All) upstream Stages.
Not applied here yet: requiredSoakTime (the promotion gates own that).
"""

from __future__ import annotations

from kargo_actions.model.freight import Freight
from kargo_actions.model.stage import Stage


def simply_available(freight: Freight, stage: Stage) -> bool:
    """Whether `freight` is available to `stage` by origin, approval, direct source or upstream verification."""
    request = stage.request_for(freight.origin.name)
    if request is None:
        return False
    status = freight.status
    if status is not None and stage.metadata.name in (status.approved_for or {}):
        return True
    sources = request.sources
    if sources.direct:
        return True
    verified = set(status.verified_in or {}) if status is not None else set()
    upstream = set(sources.stages)
    if not upstream:
        return False
    if sources.availability_strategy == "All":
        return upstream <= verified
    return bool(upstream & verified)
