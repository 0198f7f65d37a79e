"""Runtime values: the objects expressions may see, expr-lang's equality, and conversion to plain JSON."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from kargo_actions.expressions.errors import EvalFailure, did_you_mean

Method = Callable[[Sequence[Any]], Any]


class QuotedStr(str):
    """A string a template must keep as text: the result of quote(), unsafeQuote(), asJSON(), asYAML()."""

    __slots__ = ()


class ExprObject:
    """A value with whitelisted members and methods; nothing else of Python is reachable from expressions."""

    type_name: ClassVar[str] = "object"
    field_names: ClassVar[tuple[str, ...]] = ()
    method_names: ClassVar[tuple[str, ...]] = ()

    def field(self, name: str) -> Any:
        """The value of a whitelisted field (an EvalFailure naming the fields when unknown)."""
        if name not in self.field_names:
            raise self._unknown(name)
        return self._field(name)

    def _field(self, name: str) -> Any:
        raise NotImplementedError

    def call(self, name: str, args: Sequence[Any]) -> Any:
        """Call a whitelisted method."""
        if name not in self.method_names:
            raise self._unknown(name)
        return self._call(name, args)

    def _call(self, name: str, args: Sequence[Any]) -> Any:
        raise NotImplementedError

    def _unknown(self, name: str) -> EvalFailure:
        known = [*self.field_names, *(f"{m}()" for m in self.method_names)]
        hint = did_you_mean(name, [*self.field_names, *self.method_names])
        return EvalFailure(f'type {self.type_name} has no member "{name}"{hint}; it has {", ".join(known)}')

    def to_plain(self) -> Any:
        """The JSON form Kargo would marshal for this object."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_plain() == other.to_plain()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_plain(), sort_keys=True, default=str))


def type_name(value: Any) -> str:
    """expr-lang's name for the type of a value (as its type() builtin reports it)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, dt.datetime):
        return "time.Time"
    if isinstance(value, dt.timedelta):
        return "time.Duration"
    if isinstance(value, ExprObject):
        return value.type_name
    return type(value).__name__


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def equal(left: Any, right: Any) -> bool:
    """expr-lang's `==`: numbers compare by value across int and float, other types must match."""
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, str) and isinstance(right, str):
        return str.__eq__(left, right)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    if type(left) is not type(right):
        return False
    return bool(left == right)


def format_float(value: float) -> str:
    """A float as Go's JSON encoder writes it: 42 for 42.0, 1.5, 1e+21."""
    if math.isinf(value) or math.isnan(value):
        raise EvalFailure(f"{value} cannot be represented in JSON")
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    return text


def format_duration(value: dt.timedelta) -> str:
    """A duration as Go prints one: 1h30m0s, 1.5s, 0s."""
    total_us = round(value.total_seconds() * 1_000_000)
    if total_us == 0:
        return "0s"
    sign = "-" if total_us < 0 else ""
    total_us = abs(total_us)
    hours, rest = divmod(total_us, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds = rest / 1_000_000
    sec_text = format_float(seconds) if seconds != int(seconds) else str(int(seconds))
    if hours:
        return f"{sign}{hours}h{minutes}m{sec_text}s"
    if minutes:
        return f"{sign}{minutes}m{sec_text}s"
    if total_us < 1_000_000:
        return f"{sign}{format_float(total_us / 1000)}ms"
    return f"{sign}{sec_text}s"


def format_date(value: dt.datetime) -> str:
    """A date as RFC 3339 (the JSON form of Go's time.Time)."""
    text = value.isoformat()
    return text.replace("+00:00", "Z")


def to_plain(value: Any) -> Any:
    """A JSON-ready copy: objects become Kargo's JSON form, dates RFC 3339, durations nanoseconds."""
    if value is None or isinstance(value, bool | int | str):
        return str(value) if isinstance(value, QuotedStr) else value
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            raise EvalFailure(f"{value} cannot be represented in JSON")
        return value
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else to_text(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, ExprObject):
        return value.to_plain()
    if isinstance(value, dt.datetime):
        return format_date(value)
    if isinstance(value, dt.timedelta):
        return round(value.total_seconds() * 1_000_000_000)
    raise EvalFailure(f"a value of type {type_name(value)} cannot be represented in JSON")


def to_json(value: Any, indent: int | None = None) -> str:
    """JSON text of a value, map keys sorted as Go's encoder sorts them."""
    separators = (",", ": ") if indent else (",", ":")
    return json.dumps(
        to_plain(value), indent=indent, sort_keys=True, ensure_ascii=False, separators=separators
    )


def to_text(value: Any) -> str:
    """A value as text inside a template or string(): strings as they are, everything else as JSON."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if value is None:
        return "null"
    if isinstance(value, dt.timedelta):
        return format_duration(value)
    if isinstance(value, dt.datetime):
        return format_date(value)
    return to_json(value)
