"""Kubernetes label selectors: matchLabels / matchExpressions as the selector text Argo CD's list API takes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from kargo_actions.struct import struct

# a label key: an optional DNS-subdomain prefix and a name of 1-63 characters (what Kubernetes accepts)
_KEY = re.compile(
    r"^(?:[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^(?:[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


@struct
class Requirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()


def selector_text(match_labels: Mapping[str, str], expressions: Sequence[Requirement]) -> str:
    """`k=v,k2 in (a,b),!k3`: the requirements ANDed; ValueError says which one Kubernetes would refuse."""
    parts: list[str] = []
    for key, value in sorted(match_labels.items()):
        _check_key(key)
        _check_value(key, value)
        parts.append(f"{key}={value}")
    for req in expressions:
        _check_key(req.key)
        if req.operator in ("In", "NotIn"):
            if not req.values:
                raise ValueError(f"{req.key} {req.operator}: values must not be empty for In and NotIn")
            for value in req.values:
                _check_value(req.key, value)
            word = "in" if req.operator == "In" else "notin"
            parts.append(f"{req.key} {word} ({','.join(sorted(set(req.values)))})")
        elif req.operator in ("Exists", "DoesNotExist"):
            if req.values:
                raise ValueError(
                    f"{req.key} {req.operator}: values must be empty for Exists and DoesNotExist"
                )
            parts.append(req.key if req.operator == "Exists" else f"!{req.key}")
        else:
            raise ValueError(f"{req.key}: operator {req.operator!r} is not In, NotIn, Exists or DoesNotExist")
    return ",".join(parts)


def _check_key(key: str) -> None:
    if not _KEY.match(key):
        raise ValueError(f"{key!r} is not a valid label key")


def _check_value(key: str, value: str) -> None:
    if not _VALUE.match(value):
        raise ValueError(f"{key}: {value!r} is not a valid label value")
