"""The evaluation state, expr-lang's operators on runtime values and the methods of dates and durations."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kargo_actions.expressions.errors import EvalFailure, did_you_mean
from kargo_actions.expressions.values import ExprObject, equal, is_number, type_name
from kargo_actions.struct import struct

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@struct(slots=True)
class Limits:
    """Bounds on one evaluation; each breach is an error that names the limit."""

    max_depth: int = 100  # nesting of the parsed expression
    max_expression_length: int = 10_000  # characters of one expression
    max_string_length: int = 1_000_000  # characters of any string an expression builds
    max_work: int = (
        1_000_000  # work units per evaluation (loop iterations, elements copied, characters built)
    )


DEFAULT_LIMITS = Limits()

FunctionImpl = Callable[["Evaluation", list[Any]], Any]


@struct(slots=True)
class Function:
    """A function callable from expressions, with its arity checked before the call."""

    name: str
    impl: FunctionImpl
    min_args: int = 0
    max_args: int = 0  # -1: any number
    params: str = ""  # the signature shown in arity errors, e.g. "array, predicate"

    def check_arity(self, count: int) -> None:
        if count < self.min_args or (self.max_args >= 0 and count > self.max_args):
            if self.min_args == self.max_args:
                wanted = f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
            elif self.max_args < 0:
                wanted = f"at least {self.min_args} arguments"
            else:
                wanted = f"{self.min_args} to {self.max_args} arguments"
            raise EvalFailure(f"{self.name}({self.params}) takes {wanted}, got {count}")


class Evaluation:
    """The mutable state of one evaluation: variables, functions, predicate pointer, locals, work budget."""

    __slots__ = (
        "acc",
        "budget",
        "functions",
        "index",
        "item",
        "limits",
        "locals",
        "undefined_is_nil",
        "variables",
    )

    def __init__(
        self,
        variables: Mapping[str, Any],
        functions: Mapping[str, Function],
        limits: Limits = DEFAULT_LIMITS,
        undefined_is_nil: bool = True,
    ) -> None:
        self.variables = variables
        self.functions = functions
        self.limits = limits
        self.undefined_is_nil = undefined_is_nil
        self.budget = limits.max_work
        self.locals: dict[str, Any] | None = None
        self.item: Any = _NO_ITEM
        self.index: int = 0
        self.acc: Any = None

    def charge(self, units: int) -> None:
        """Spend work units; raise once the budget of this evaluation is used up."""
        self.budget -= units
        if self.budget < 0:
            raise EvalFailure(
                f"expression does too much work (over {self.limits.max_work} steps); "
                "reduce the size of ranges, lists or strings it processes"
            )

    def check_string(self, value: str) -> str:
        if len(value) > self.limits.max_string_length:
            raise EvalFailure(
                f"string too long ({len(value)} characters, limit {self.limits.max_string_length})"
            )
        return value


class _NoItem:
    __slots__ = ()


_NO_ITEM: Any = _NoItem()


def no_item(value: Any) -> bool:
    return value is _NO_ITEM


def _mismatch(op: str, left: Any, right: Any) -> EvalFailure:
    return EvalFailure(f"invalid operation: {op} (mismatched types {type_name(left)} and {type_name(right)})")


def _check_int(value: int) -> int:
    if value < INT64_MIN or value > INT64_MAX:
        raise EvalFailure("integer overflow (the result does not fit in 64 bits)")
    return value


def op_add(left: Any, right: Any) -> Any:
    if is_number(left) and is_number(right):
        if isinstance(left, int) and isinstance(right, int):
            return _check_int(left + right)
        return float(left) + float(right)
    if isinstance(left, str) and isinstance(right, str):
        return str(left) + str(right)
    if isinstance(left, dt.datetime) and isinstance(right, dt.timedelta):
        return left + right
    if isinstance(left, dt.timedelta) and isinstance(right, dt.datetime | dt.timedelta):
        return right + left
    raise _mismatch("+", left, right)


def op_sub(left: Any, right: Any) -> Any:
    if is_number(left) and is_number(right):
        if isinstance(left, int) and isinstance(right, int):
            return _check_int(left - right)
        return float(left) - float(right)
    if isinstance(left, dt.datetime) and isinstance(right, dt.datetime | dt.timedelta):
        return left - right
    if isinstance(left, dt.timedelta) and isinstance(right, dt.timedelta):
        return left - right
    raise _mismatch("-", left, right)


def op_mul(left: Any, right: Any) -> Any:
    if is_number(left) and is_number(right):
        if isinstance(left, int) and isinstance(right, int):
            return _check_int(left * right)
        return float(left) * float(right)
    if isinstance(left, dt.timedelta) and isinstance(right, int) and not isinstance(right, bool):
        return left * right
    raise _mismatch("*", left, right)


def op_div(left: Any, right: Any) -> Any:
    if is_number(left) and is_number(right):
        if right == 0:
            raise EvalFailure("division by zero")
        return float(left) / float(right)
    raise _mismatch("/", left, right)


def op_mod(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and not isinstance(left | right, bool):
        if right == 0:
            raise EvalFailure("integer divide by zero (in %)")
        # Go truncates toward zero; Python floors: keep the sign of the dividend as Go does.
        result = abs(left) % abs(right)
        return -result if left < 0 else result
    raise EvalFailure(
        f"invalid operation: % needs two integers, got {type_name(left)} and {type_name(right)}"
    )


def op_pow(left: Any, right: Any) -> Any:
    if is_number(left) and is_number(right):
        try:
            result = float(left) ** float(right)
        except OverflowError:
            raise EvalFailure("invalid operation: ** (the result is too large for a float)") from None
        except ZeroDivisionError:
            raise EvalFailure("invalid operation: ** (zero to a negative power)") from None
        if isinstance(result, complex):
            raise EvalFailure("invalid operation: ** (the result is not a real number)")
        return result
    raise _mismatch("**", left, right)


def _ordered(op: str, left: Any, right: Any) -> tuple[Any, Any]:
    if is_number(left) and is_number(right):
        return left, right
    if isinstance(left, str) and isinstance(right, str):
        return left, right
    if isinstance(left, dt.datetime) and isinstance(right, dt.datetime):
        return left, right
    if isinstance(left, dt.timedelta) and isinstance(right, dt.timedelta):
        return left, right
    raise _mismatch(op, left, right)


def op_lt(left: Any, right: Any) -> bool:
    a, b = _ordered("<", left, right)
    return bool(a < b)


def op_gt(left: Any, right: Any) -> bool:
    a, b = _ordered(">", left, right)
    return bool(a > b)


def op_le(left: Any, right: Any) -> bool:
    a, b = _ordered("<=", left, right)
    return bool(a <= b)


def op_ge(left: Any, right: Any) -> bool:
    a, b = _ordered(">=", left, right)
    return bool(a >= b)


def op_eq(left: Any, right: Any) -> bool:
    return equal(left, right)


def op_ne(left: Any, right: Any) -> bool:
    return not equal(left, right)


def op_in(left: Any, right: Any) -> bool:
    if isinstance(right, list | tuple):
        return any(equal(left, item) for item in right)
    if isinstance(right, Mapping):
        return left in right if isinstance(left, str | int) and not isinstance(left, bool) else False
    if isinstance(right, ExprObject):
        return isinstance(left, str) and left in right.field_names
    raise EvalFailure(f'operator "in" is not defined on {type_name(right)} (use an array or a map)')


@functools.cache
def _re2() -> tuple[Any, Any]:
    """The re2 module and its options, loaded when a pattern is first compiled (3-4 ms most commands skip)."""
    import re2  # type: ignore[import-untyped]

    options = re2.Options()
    options.log_errors = False  # the error is raised to the caller; nothing should print to stderr
    return re2, options


@functools.lru_cache(maxsize=256)
def compiled_regex(pattern: str) -> Any:
    """A compiled RE2 pattern: Go's regular expression syntax, matched in linear time (no ReDoS)."""
    re2, options = _re2()
    try:
        return re2.compile(pattern, options)
    except re2.error as err:
        reason = err.args[0].decode() if err.args and isinstance(err.args[0], bytes) else str(err)
        raise EvalFailure(f"invalid regular expression {pattern!r}: {reason}") from None


def _strings(op: str, left: Any, right: Any) -> tuple[str, str]:
    if isinstance(left, str) and isinstance(right, str):
        return left, right
    raise _mismatch(op, left, right)


def op_matches(left: Any, right: Any) -> bool:
    a, b = _strings("matches", left, right)
    return compiled_regex(b).search(a) is not None


def op_contains(left: Any, right: Any) -> bool:
    a, b = _strings("contains", left, right)
    return b in a


def op_starts_with(left: Any, right: Any) -> bool:
    a, b = _strings("startsWith", left, right)
    return a.startswith(b)


def op_ends_with(left: Any, right: Any) -> bool:
    a, b = _strings("endsWith", left, right)
    return a.endswith(b)


BINARY_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": op_add,
    "-": op_sub,
    "*": op_mul,
    "/": op_div,
    "%": op_mod,
    "**": op_pow,
    "^": op_pow,
    "==": op_eq,
    "!=": op_ne,
    "<": op_lt,
    ">": op_gt,
    "<=": op_le,
    ">=": op_ge,
    "in": op_in,
    "matches": op_matches,
    "contains": op_contains,
    "startsWith": op_starts_with,
    "endsWith": op_ends_with,
}


def get_member(value: Any, name: str) -> Any:
    """`value.name`: a map's key (nil when absent) or a whitelisted field of an object."""
    if isinstance(value, Mapping):
        return value.get(name)
    if isinstance(value, ExprObject):
        return value.field(name)
    if value is None:
        raise EvalFailure(
            f'cannot read "{name}" of nil', hint="use ?. to get nil instead, and ?? for a default"
        )
    raise EvalFailure(f'cannot read "{name}" of a value of type {type_name(value)}')


def get_index(value: Any, key: Any, ev: Evaluation) -> Any:
    """`value[key]`: array element (negative counts from the end), map item, string character."""
    if isinstance(value, Mapping):
        if isinstance(key, list | dict):
            raise EvalFailure(f"cannot use a {type_name(key)} as a map key")
        return value.get(key)
    if isinstance(value, list | tuple | str):
        if not isinstance(key, int) or isinstance(key, bool):
            raise EvalFailure(f"array index must be an integer, got {type_name(key)}")
        size = len(value)
        position = key + size if key < 0 else key
        if position < 0 or position >= size:
            raise EvalFailure(f"index out of range: {key} (length {size})")
        return value[position]
    if isinstance(value, ExprObject):
        if not isinstance(key, str):
            raise EvalFailure(f"{value.type_name} fields are named by strings, got {type_name(key)}")
        return value.field(key)
    if value is None:
        raise EvalFailure(f"cannot index nil with {key!r}", hint="use ?.[ ] to get nil instead")
    raise EvalFailure(f"cannot index a value of type {type_name(value)}")


def get_slice(value: Any, start: Any, end: Any, ev: Evaluation) -> Any:
    """`value[start:end]`, bounds clamped to the length; negative bounds count from the end."""
    if not isinstance(value, list | tuple | str):
        raise EvalFailure(f"cannot slice a value of type {type_name(value)}")
    size = len(value)
    bounds = []
    for bound, default in ((start, 0), (end, size)):
        if bound is None:
            bounds.append(default)
            continue
        if not isinstance(bound, int) or isinstance(bound, bool):
            raise EvalFailure(f"slice bounds must be integers, got {type_name(bound)}")
        position = bound + size if bound < 0 else bound
        bounds.append(min(max(position, 0), size))
    low, high = bounds
    high = max(high, low)
    ev.charge(high - low)
    return value[low:high] if isinstance(value, str) else list(value[low:high])


def call_method(value: Any, name: str, args: Sequence[Any]) -> Any:
    """`value.name(args)`: only whitelisted methods of objects, dates and durations."""
    if isinstance(value, ExprObject):
        return value.call(name, args)
    if isinstance(value, dt.datetime | dt.timedelta):
        return call_time_method(value, name, args)
    if value is None:
        raise EvalFailure(f'cannot call "{name}()" on nil', hint="use ?. to get nil instead")
    raise EvalFailure(f'a value of type {type_name(value)} has no method "{name}()"')


_TIME_METHODS: dict[str, Callable[[dt.datetime], Any]] = {
    "Year": lambda d: d.year,
    "Month": lambda d: d.month,
    "Day": lambda d: d.day,
    "Hour": lambda d: d.hour,
    "Minute": lambda d: d.minute,
    "Second": lambda d: d.second,
    "Weekday": lambda d: (d.weekday() + 1) % 7,
    "YearDay": lambda d: d.timetuple().tm_yday,
    "Unix": lambda d: int(d.timestamp()),
    "UTC": lambda d: d.astimezone(dt.UTC),
    "String": lambda d: d.isoformat(),
}
_DURATION_METHODS: dict[str, Callable[[dt.timedelta], Any]] = {
    "Hours": lambda d: d.total_seconds() / 3600,
    "Minutes": lambda d: d.total_seconds() / 60,
    "Seconds": lambda d: d.total_seconds(),
    "Milliseconds": lambda d: int(d.total_seconds() * 1000),
}


def call_time_method(value: dt.datetime | dt.timedelta, name: str, args: Sequence[Any]) -> Any:
    """The whitelisted methods of dates (Year(), Month(), ...) and durations (Hours(), Seconds(), ...)."""
    table: Mapping[str, Callable[[Any], Any]] = (
        _TIME_METHODS if isinstance(value, dt.datetime) else _DURATION_METHODS
    )
    method = table.get(name)
    if method is None:
        raise EvalFailure(
            f'{type_name(value)} has no method "{name}()"{did_you_mean(name, table)}; '
            f"supported: {', '.join(f'{m}()' for m in table)}"
        )
    if args:
        raise EvalFailure(f"{name}() takes no arguments, got {len(args)}")
    return method(value)
