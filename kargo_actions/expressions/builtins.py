"""expr-lang's builtin functions (the predicate functions all, filter, map, ... are in predicates.py)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kargo_actions.expressions.errors import EvalFailure
from kargo_actions.expressions.runtime import Evaluation, Function, FunctionImpl
from kargo_actions.expressions.values import equal, is_number, to_json, to_plain, type_name


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise EvalFailure(f"{what} must be a string, got {type_name(value)}")
    return str(value)


def _int_arg(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise EvalFailure(f"{what} must be an integer, got {type_name(value)}")
    return value


def array_arg(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise EvalFailure(f"{what} must be an array, got {type_name(value)}")
    return list(value)


def _map(value: Any, what: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise EvalFailure(f"{what} must be a map, got {type_name(value)}")
    return value


def number_arg(value: Any, what: str) -> int | float:
    if not is_number(value):
        raise EvalFailure(f"{what} must be a number, got {type_name(value)}")
    return value  # type: ignore[no-any-return]


def go_value_text(value: Any) -> str:
    """Go's `%v` of a value, which expr-lang's string() returns."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float_g(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_value_text(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "map[" + " ".join(f"{k}:{go_value_text(v)}" for k, v in items) + "]"
    if isinstance(value, dt.timedelta):
        from kargo_actions.expressions.values import format_duration

        return format_duration(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %z ") + (value.tzname() or "")
    return json.dumps(to_plain(value), sort_keys=True)


def _go_float_g(value: float) -> str:
    """Go's %v (shortest %g) of a float: 1e+06, 123456, 1.5."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == 0:
        return "0"
    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text_digits = "".join(map(str, digits))
    point = len(text_digits) + exponent  # position of the decimal point
    exp10 = point - 1
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= max(6, len(text_digits) if len(text_digits) >= point else 6):
        mantissa = text_digits[0] + ("." + text_digits[1:] if len(text_digits) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text_digits}"
    if point >= len(text_digits):
        return prefix + text_digits + "0" * (point - len(text_digits))
    return f"{prefix}{text_digits[:point]}.{text_digits[point:]}"


def _len(ev: Evaluation, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise EvalFailure(f"invalid argument for len (type {type_name(value)})")


def _abs(ev: Evaluation, args: list[Any]) -> Any:
    return abs(number_arg(args[0], "the argument of abs()"))


def _to_int(ev: Evaluation, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, bool):
        raise EvalFailure("invalid argument for int (type bool)")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            raise EvalFailure(f"cannot convert {value} to int")
        return _in_int64(int(value), value)
    if isinstance(value, str):
        try:
            return _in_int64(int(value.strip()), value)
        except ValueError:
            raise EvalFailure(f'cannot convert "{value}" to int') from None
    raise EvalFailure(f"invalid argument for int (type {type_name(value)})")


def _in_int64(number: int, source: Any) -> int:
    if not -(2**63) <= number < 2**63:
        raise EvalFailure(f"cannot convert {go_value_text(source)} to int: out of the 64-bit range")
    return number


def _to_float(ev: Evaluation, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, bool):
        raise EvalFailure("invalid argument for float (type bool)")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise EvalFailure(f'cannot convert "{value}" to float') from None
    raise EvalFailure(f"invalid argument for float (type {type_name(value)})")


def _to_string(ev: Evaluation, args: list[Any]) -> Any:
    return ev.check_string(go_value_text(args[0]))


def _trim(ev: Evaluation, args: list[Any]) -> Any:
    text = _string(args[0], "the first argument of trim()")
    if len(args) > 1:
        return text.strip(_string(args[1], "the characters of trim()"))
    return text.strip(" \t\n\r\v\f")


def _string_fn(name: str, fn: Callable[..., Any], *extra: str) -> FunctionImpl:
    def impl(ev: Evaluation, args: list[Any]) -> Any:
        texts = [_string(a, f"argument {i + 1} of {name}()") for i, a in enumerate(args[: 1 + len(extra)])]
        ev.charge(len(texts[0]) // 64 + 1)
        result = fn(*texts, *args[1 + len(extra) :])
        return ev.check_string(result) if isinstance(result, str) else result

    return impl


def _split(ev: Evaluation, args: list[Any], after: bool = False) -> Any:
    text = _string(args[0], "the first argument of split()")
    sep = _string(args[1], "the delimiter of split()")
    limit = _int_arg(args[2], "the count of split()") if len(args) > 2 else -1
    ev.charge(len(text) // 16 + 1)
    if limit == 0:
        return []
    if sep == "":
        parts = list(text)
        if limit > 0 and len(parts) > limit:
            parts = [*parts[: limit - 1], "".join(parts[limit - 1 :])]
        return parts
    pieces = text.split(sep, limit - 1 if limit > 0 else -1)
    if after:
        pieces = [p + sep for p in pieces[:-1]] + [pieces[-1]]
    return pieces


def _repeat(ev: Evaluation, args: list[Any]) -> Any:
    text = _string(args[0], "the first argument of repeat()")
    count = _int_arg(args[1], "the count of repeat()")
    if count < 0:
        raise EvalFailure("the count of repeat() must not be negative")
    size = len(text) * count
    if size > ev.limits.max_string_length:
        raise EvalFailure(f"string too long ({size} characters, limit {ev.limits.max_string_length})")
    ev.charge(size // 64 + 1)
    return text * count


def _join(ev: Evaluation, args: list[Any]) -> Any:
    items = array_arg(args[0], "the first argument of join()")
    sep = _string(args[1], "the delimiter of join()") if len(args) > 1 else ""
    ev.charge(len(items) + 1)
    return ev.check_string(sep.join(_string(i, "each element joined by join()") for i in items))


def _replace(ev: Evaluation, args: list[Any]) -> Any:
    text, old, new = (_string(a, "each argument of replace()") for a in args)
    ev.charge(len(text) // 16 + 1)
    return ev.check_string(text.replace(old, new))


def _keys(ev: Evaluation, args: list[Any]) -> Any:
    value = _map(args[0], "the argument of keys()")
    ev.charge(len(value) + 1)
    return list(value.keys())


def _values(ev: Evaluation, args: list[Any]) -> Any:
    value = _map(args[0], "the argument of values()")
    ev.charge(len(value) + 1)
    return list(value.values())


def _to_json(ev: Evaluation, args: list[Any]) -> Any:
    return ev.check_string(to_json(args[0], indent=2))


def _from_json(ev: Evaluation, args: list[Any]) -> Any:
    text = _string(args[0], "the argument of fromJSON()")
    ev.charge(len(text) // 16 + 1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise EvalFailure(f"fromJSON(): invalid JSON: {err}") from None


def _to_base64(ev: Evaluation, args: list[Any]) -> Any:
    text = _string(args[0], "the argument of toBase64()")
    return ev.check_string(base64.b64encode(text.encode()).decode())


def _from_base64(ev: Evaluation, args: list[Any]) -> Any:
    text = _string(args[0], "the argument of fromBase64()")
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as err:
        raise EvalFailure(f"fromBase64(): {err}") from None


def _to_pairs(ev: Evaluation, args: list[Any]) -> Any:
    return [[k, v] for k, v in _map(args[0], "the argument of toPairs()").items()]


def _from_pairs(ev: Evaluation, args: list[Any]) -> Any:
    result: dict[Any, Any] = {}
    for pair in array_arg(args[0], "the argument of fromPairs()"):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise EvalFailure("fromPairs() needs an array of [key, value] pairs")
        result[pair[0]] = pair[1]
    return result


def _now(ev: Evaluation, args: list[Any]) -> Any:
    return dt.datetime.now(dt.UTC)


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(text: str) -> dt.timedelta:
    """Go's time.ParseDuration: "1h30m", "1.5s", "-300ms"."""
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    if body == "0":
        return dt.timedelta(0)
    seconds = 0.0
    position = 0
    for match in _DURATION_PART.finditer(body):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    if position != len(body) or not body:
        raise EvalFailure(f'invalid duration "{text}" (use units ns, us, ms, s, m, h, e.g. "1h30m")')
    return dt.timedelta(seconds=sign * seconds)


def _duration(ev: Evaluation, args: list[Any]) -> Any:
    return parse_duration(_string(args[0], "the argument of duration()"))


_DATE_FORMATS = (
    "%Y-%m-%d",
    "%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%d %b %y %H:%M %Z",  # RFC 822
    "%A, %d-%b-%y %H:%M:%S %Z",  # RFC 850
    "%a, %d %b %Y %H:%M:%S %Z",  # RFC 1123
)


def _date(ev: Evaluation, args: list[Any]) -> Any:
    text = _string(args[0], "the first argument of date()")
    if len(args) > 1:
        raise EvalFailure(
            "date() with a Go layout argument is not supported; give an RFC 3339 or YYYY-MM-DD date"
        )
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for layout in _DATE_FORMATS:
            try:
                parsed = dt.datetime.strptime(text, layout)
                break
            except ValueError:
                continue
    if parsed is None:
        raise EvalFailure(f'cannot parse "{text}" as a date (use RFC 3339, e.g. 2024-05-01T10:00:00Z)')
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _minmax(name: str, pick_first: Callable[[Any, Any], bool]) -> FunctionImpl:
    def impl(ev: Evaluation, args: list[Any]) -> Any:
        flat: list[Any] = []
        for arg in args:
            flat.extend(arg if isinstance(arg, list | tuple) else [arg])
        ev.charge(len(flat) + 1)
        best: Any = None
        for value in flat:
            number_arg(value, f"each argument of {name}()")
            if best is None or pick_first(value, best):
                best = value
        return best

    return impl


def _rounding(name: str, fn: Callable[[float], float]) -> FunctionImpl:
    def impl(ev: Evaluation, args: list[Any]) -> Any:
        value = number_arg(args[0], f"the argument of {name}()")
        return float(fn(float(value)))

    return impl


def _round_half_away(value: float) -> float:
    return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)


def _concat(ev: Evaluation, args: list[Any]) -> Any:
    result: list[Any] = []
    for arg in args:
        result.extend(array_arg(arg, "each argument of concat()"))
    ev.charge(len(result) + 1)
    return result


def _flatten(ev: Evaluation, args: list[Any]) -> Any:
    result: list[Any] = []

    def walk(items: Sequence[Any]) -> None:
        for item in items:
            ev.charge(1)
            if isinstance(item, list | tuple):
                walk(item)
            else:
                result.append(item)

    walk(array_arg(args[0], "the argument of flatten()"))
    return result


def _uniq(ev: Evaluation, args: list[Any]) -> Any:
    result: list[Any] = []
    for item in array_arg(args[0], "the argument of uniq()"):
        ev.charge(len(result) + 1)
        if not any(equal(item, seen) for seen in result):
            result.append(item)
    return result


def _first(ev: Evaluation, args: list[Any]) -> Any:
    items = array_arg(args[0], "the argument of first()")
    return items[0] if items else None


def _last(ev: Evaluation, args: list[Any]) -> Any:
    items = array_arg(args[0], "the argument of last()")
    return items[-1] if items else None


def _take(ev: Evaluation, args: list[Any]) -> Any:
    items = array_arg(args[0], "the first argument of take()")
    return items[: max(0, _int_arg(args[1], "the count of take()"))]


def _reverse(ev: Evaluation, args: list[Any]) -> Any:
    return list(reversed(array_arg(args[0], "the argument of reverse()")))


def _sort_key(value: Any) -> Any:
    if is_number(value) or isinstance(value, str | dt.datetime | dt.timedelta):
        return value
    raise EvalFailure(f"cannot sort values of type {type_name(value)}")


def is_descending(value: Any) -> bool:
    if value not in ("asc", "desc"):
        raise EvalFailure(f'sort order must be "asc" or "desc", got {value!r}')
    return bool(value == "desc")


def sort_by_keys(ev: Evaluation, items: list[Any], keys: list[Any], descending: bool) -> list[Any]:
    ev.charge(len(items) * max(1, len(items).bit_length()))
    kinds = {type_name(k) if not is_number(k) else "number" for k in keys}
    if len(kinds) > 1:
        raise EvalFailure(f"cannot sort values of mixed types ({', '.join(sorted(kinds))})")
    order = sorted(range(len(items)), key=lambda i: _sort_key(keys[i]), reverse=descending)
    return [items[i] for i in order]


def _sort(ev: Evaluation, args: list[Any]) -> Any:
    items = array_arg(args[0], "the first argument of sort()")
    return sort_by_keys(ev, items, items, is_descending(args[1]) if len(args) > 1 else False)


def _numbers(ev: Evaluation, value: Any, name: str) -> list[int | float]:
    items = array_arg(value, f"the argument of {name}()")
    ev.charge(len(items) + 1)
    return [number_arg(i, f"each element given to {name}()") for i in items]


def _mean(ev: Evaluation, args: list[Any]) -> Any:
    items = _numbers(ev, args[0], "mean")
    return float(sum(items)) / len(items) if items else 0.0


def _median(ev: Evaluation, args: list[Any]) -> Any:
    items = sorted(_numbers(ev, args[0], "median"))
    if not items:
        return 0.0
    middle = len(items) // 2
    return float(items[middle]) if len(items) % 2 else (items[middle - 1] + items[middle]) / 2.0


def _get(ev: Evaluation, args: list[Any]) -> Any:
    container, key = args
    if isinstance(container, Mapping):
        return container.get(key) if isinstance(key, str | int) else None
    if isinstance(container, list | tuple) and isinstance(key, int) and not isinstance(key, bool):
        position = key + len(container) if key < 0 else key
        return container[position] if 0 <= position < len(container) else None
    return None


def _type(ev: Evaluation, args: list[Any]) -> Any:
    return type_name(args[0])


def _bit(name: str, fn: Callable[..., int]) -> FunctionImpl:
    def impl(ev: Evaluation, args: list[Any]) -> Any:
        return fn(*(_int_arg(a, f"each argument of {name}()") for a in args))

    return impl


def _fn(
    name: str, impl: FunctionImpl, min_args: int, max_args: int | None = None, params: str = ""
) -> Function:
    return Function(name, impl, min_args, min_args if max_args is None else max_args, params)


BUILTINS: dict[str, Function] = {
    f.name: f
    for f in (
        _fn("len", _len, 1, params="v"),
        _fn("abs", _abs, 1, params="n"),
        _fn("int", _to_int, 1, params="v"),
        _fn("float", _to_float, 1, params="v"),
        _fn("string", _to_string, 1, params="v"),
        _fn("type", _type, 1, params="v"),
        _fn("trim", _trim, 1, 2, "str[, chars]"),
        _fn("trimPrefix", _string_fn("trimPrefix", str.removeprefix, "prefix"), 2, params="str, prefix"),
        _fn("trimSuffix", _string_fn("trimSuffix", str.removesuffix, "suffix"), 2, params="str, suffix"),
        _fn("upper", _string_fn("upper", str.upper), 1, params="str"),
        _fn("lower", _string_fn("lower", str.lower), 1, params="str"),
        _fn("split", _split, 2, 3, "str, delimiter[, n]"),
        _fn("splitAfter", lambda ev, a: _split(ev, a, after=True), 2, 3, "str, delimiter[, n]"),
        _fn("replace", _replace, 3, params="str, old, new"),
        _fn("repeat", _repeat, 2, params="str, n"),
        _fn("indexOf", _string_fn("indexOf", str.find, "substring"), 2, params="str, substring"),
        _fn("lastIndexOf", _string_fn("lastIndexOf", str.rfind, "substring"), 2, params="str, substring"),
        _fn("hasPrefix", _string_fn("hasPrefix", str.startswith, "prefix"), 2, params="str, prefix"),
        _fn("hasSuffix", _string_fn("hasSuffix", str.endswith, "suffix"), 2, params="str, suffix"),
        _fn("join", _join, 1, 2, "array[, delimiter]"),
        _fn("keys", _keys, 1, params="map"),
        _fn("values", _values, 1, params="map"),
        _fn("toJSON", _to_json, 1, params="v"),
        _fn("fromJSON", _from_json, 1, params="str"),
        _fn("toBase64", _to_base64, 1, params="str"),
        _fn("fromBase64", _from_base64, 1, params="str"),
        _fn("toPairs", _to_pairs, 1, params="map"),
        _fn("fromPairs", _from_pairs, 1, params="array"),
        _fn("now", _now, 0),
        _fn("duration", _duration, 1, params="str"),
        _fn("date", _date, 1, 3, "str[, format[, timezone]]"),
        _fn("max", _minmax("max", lambda a, b: bool(a > b)), 1, -1, "n1, n2, ..."),
        _fn("min", _minmax("min", lambda a, b: bool(a < b)), 1, -1, "n1, n2, ..."),
        _fn("ceil", _rounding("ceil", math.ceil), 1, params="n"),
        _fn("floor", _rounding("floor", math.floor), 1, params="n"),
        _fn("round", _rounding("round", _round_half_away), 1, params="n"),
        _fn("concat", _concat, 1, -1, "array1, array2, ..."),
        _fn("flatten", _flatten, 1, params="array"),
        _fn("uniq", _uniq, 1, params="array"),
        _fn("first", _first, 1, params="array"),
        _fn("last", _last, 1, params="array"),
        _fn("take", _take, 2, params="array, n"),
        _fn("reverse", _reverse, 1, params="array"),
        _fn("sort", _sort, 1, 2, "array[, order]"),
        _fn("mean", _mean, 1, params="array"),
        _fn("median", _median, 1, params="array"),
        _fn("get", _get, 2, params="v, index"),
        _fn("bitand", _bit("bitand", lambda a, b: a & b), 2, params="a, b"),
        _fn("bitor", _bit("bitor", lambda a, b: a | b), 2, params="a, b"),
        _fn("bitxor", _bit("bitxor", lambda a, b: a ^ b), 2, params="a, b"),
        _fn("bitnand", _bit("bitnand", lambda a, b: a & ~b), 2, params="a, b"),
        _fn("bitnot", _bit("bitnot", lambda a: ~a), 1, params="a"),
        _fn("bitshl", _bit("bitshl", lambda a, b: (a << b) & 0xFFFFFFFFFFFFFFFF), 2, params="a, b"),
        _fn("bitshr", _bit("bitshr", lambda a, b: a >> b), 2, params="a, b"),
        _fn("bitushr", _bit("bitushr", lambda a, b: (a & 0xFFFFFFFFFFFFFFFF) >> b), 2, params="a, b"),
    )
}

# expr-lang builtins left out: calling one says so by name.
UNSUPPORTED_FUNCTIONS = frozenset({"timezone"})
