"""What every metric provider is: opened once per metric, asked for one Reading per measurement, closed."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Any, Protocol

from kargo_actions.struct import struct
from kargo_actions.verification.providers.oauth2 import TokenCache

if TYPE_CHECKING:
    from kargo_actions.model.freight import Freight


@struct
class Reading:
    """What a provider measured: the value the conditions see (`result`) and its text for the record."""

    result: Any
    value: str
    # Conditions used when the metric sets neither (a provider whose result is not a pass/fail by itself).
    default_success: str = ""
    default_failure: str = ""


@struct
class MeasureContext:
    """What providers may need besides the metric: the Freight being verified, the environment, the abort."""

    freight: Freight | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    abort: threading.Event = field(default_factory=threading.Event)
    sleep: Callable[[float], None] | None = None  # for providers that poll (GitHub checks); None: abort.wait
    tokens: TokenCache = field(default_factory=TokenCache)  # OAuth2 tokens, shared by the run's metrics


class Provider(Protocol):
    """One metric's provider: `measure` is called once per measurement, `close` once at the end."""

    def measure(self) -> Reading: ...

    def close(self) -> None: ...


def go_text(value: Any) -> str:
    """A value as Argo records it (Go's json.Marshal: compact, no spaces)."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
