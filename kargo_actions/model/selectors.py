"""Stage selectors of ProjectConfig (promotion policies and promotion windows): name, `glob:`, `regex:`, labels."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, field_validator

from kargo_actions.model.base import ManifestModel
from kargo_actions.model.fields import check_regex
from kargo_actions.model.stage import Stage


class LabelSelectorRequirement(ManifestModel):
    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        inside = self.key in labels and labels[self.key] in self.values
        return inside if self.operator == "In" else not inside


class StageSelector(ManifestModel):
    """Selects Stages by name (exact, `glob:PATTERN`, `regex:PATTERN`) and/or labels; all given must match."""

    name: str | None = None
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        for prefix in ("regex:", "regexp:"):
            if value is not None and value.startswith(prefix):
                check_regex(value[len(prefix) :])
        return value

    def matches(self, stage: Stage) -> bool:
        labels = stage.metadata.labels or {}
        if self.name is not None and not _name_matches(self.name, stage.name):
            return False
        if self.match_labels and any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        return all(req.matches(labels) for req in self.match_expressions or [])


def _name_matches(selector: str, name: str) -> bool:
    if selector.startswith("glob:"):
        return fnmatch.fnmatchcase(name, selector[len("glob:") :])
    for prefix in ("regex:", "regexp:"):
        if selector.startswith(prefix):
            return re.search(selector[len(prefix) :], name) is not None
    return selector == name
