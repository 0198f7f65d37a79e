"""`@struct`: the package's dataclasses, made without generating code, so that a command starts sooner.

`dataclasses.dataclass` writes the source of `__init__`, `__repr__`, `__eq__`, `__hash__`, `__setattr__` and
`__delattr__` for each class and compiles it: 0.3-0.4 ms per frozen class on Python 3.11, and `promote`
imports about 80 of the package's own (37 ms of its start). `struct` lets dataclasses read the fields
(defaults, factories, `field(init=False)`, `field(repr=False)`, `__post_init__`), so `dataclasses.fields`,
`replace` and `asdict` work as before, and gives every class the same few prepared methods instead: about
0.02 ms per class. Instances compare, hash, print and refuse assignment as a frozen dataclass's do.

Classes are frozen unless `frozen=False`; `slots=True` and `eq=False` mean what they mean to dataclasses.
A class that needs more (`order=True`, `InitVar`, `kw_only`) stays a plain dataclass: struct refuses the
last two with a TypeError rather than build an `__init__` that ignores them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")
_MISSING: Any = dataclasses.MISSING
_set = object.__setattr__


@overload
def struct(cls: type[T], /) -> type[T]: ...


@overload
def struct(*, frozen: bool = True, slots: bool = False, eq: bool = True) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def struct(
    cls: type[T] | None = None, /, *, frozen: bool = True, slots: bool = False, eq: bool = True
) -> type[T] | Callable[[type[T]], type[T]]:
    """Make cls a (frozen) dataclass with shared methods; usable bare or with arguments."""

    def wrap(cls: type[T]) -> type[T]:
        return _make(cls, frozen=frozen, slots=slots, eq=eq)

    return wrap if cls is None else wrap(cls)


def _make(cls: type[T], *, frozen: bool, slots: bool, eq: bool) -> type[T]:
    own = dict(cls.__dict__)
    explicit_hash = own.get("__hash__", _MISSING)
    has_explicit_hash = not (explicit_hash is _MISSING or (explicit_hash is None and "__eq__" in own))
    no_doc = cls.__doc__ is None
    if no_doc:
        cls.__doc__ = "-"  # dataclasses would build one from inspect.signature (0.1 ms); there is no reader
    made: Any = dataclasses.dataclass(cls, init=False, repr=False, eq=False, frozen=False, slots=slots)
    if no_doc:
        made.__doc__ = None
    initvar = getattr(dataclasses, "_FIELD_INITVAR", None)  # how dataclasses marks an InitVar pseudo-field
    special = [
        f.name for f in made.__dataclass_fields__.values() if f.kw_only is True or f._field_type is initvar
    ]
    if special:
        raise TypeError(
            f"{cls.__qualname__}: struct does not do InitVar or kw_only ({', '.join(special)}): use dataclasses"
        )
    fields = dataclasses.fields(made)
    _add(made, own, "__init__", _init(made, fields, frozen))
    _add(made, own, "__repr__", _repr(tuple(f.name for f in fields if f.repr)))
    if eq:
        compared = tuple(f.name for f in fields if f.compare)
        key = _key(compared)
        _add(made, own, "__eq__", _eq(key))
        if not has_explicit_hash:
            hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
            made.__hash__ = _hash(_key(hashed)) if frozen else None
    if frozen:
        setter, deleter = _frozen(made, frozenset(f.name for f in fields))
        _add(made, own, "__setattr__", setter)
        _add(made, own, "__delattr__", deleter)
        if slots:
            names = tuple(f.name for f in fields)
            made.__getstate__ = lambda self: [getattr(self, name) for name in names]
            made.__setstate__ = lambda self, state: [
                _set(self, n, v) for n, v in zip(names, state, strict=True)
            ]
    return made  # type: ignore[no-any-return]


def _add(cls: Any, own: dict[str, Any], name: str, value: Any) -> None:
    """Set a method unless the class body defined it (as dataclasses leaves a hand-written one)."""
    if name not in own:
        setattr(cls, name, value)


def _init(cls: Any, fields: tuple[dataclasses.Field[Any], ...], frozen: bool) -> Callable[..., None]:
    names = tuple(f.name for f in fields if f.init)
    known = frozenset(names)
    count = len(names)
    defaults: dict[str, tuple[bool, Any]] = {}
    later: list[tuple[str, bool, Any]] = []  # fields outside __init__ that have a default
    for f in fields:
        default = (True, f.default_factory) if f.default_factory is not _MISSING else (False, f.default)
        if default[1] is _MISSING:
            continue
        if f.init:
            defaults[f.name] = default
        else:
            later.append((f.name, *default))
    setter = _set if frozen else setattr
    post_init = hasattr(cls, "__post_init__")
    title = f"{cls.__qualname__}.__init__()"

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) == count and not kwargs:
            for name, value in zip(names, args, strict=True):
                setter(self, name, value)
        else:
            for name, value in _bind(title, names, known, defaults, args, kwargs):
                setter(self, name, value)
        for name, factory, value in later:
            setter(self, name, value() if factory else value)
        if post_init:
            self.__post_init__()

    return __init__


def _bind(
    title: str,
    names: tuple[str, ...],
    known: frozenset[str],
    defaults: dict[str, tuple[bool, Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> list[tuple[str, Any]]:
    """Each field's value from the call's arguments and the defaults; TypeError as Python words it."""
    if len(args) > len(names):
        most, least = len(names) + 1, sum(name not in defaults for name in names) + 1
        takes = (
            f"{most} positional argument{'s' if most > 1 else ''}"
            if least == most
            else f"from {least} to {most}"
        )
        if least != most:
            takes += " positional arguments"
        raise TypeError(f"{title} takes {takes} but {len(args) + 1} were given")
    values = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        if key not in known:
            raise TypeError(f"{title} got an unexpected keyword argument {key!r}")
        if key in values:
            raise TypeError(f"{title} got multiple values for argument {key!r}")
        values[key] = value
    missing = []
    for name in names:
        if name not in values:
            default = defaults.get(name)
            if default is None:
                missing.append(name)
            else:
                values[name] = default[1]() if default[0] else default[1]
    if missing:
        quoted = [repr(name) for name in missing]
        listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + ("," if len(quoted) > 2 else "")
        listed += f" and {quoted[-1]}" if len(quoted) > 1 else ""
        plural = "s" if len(missing) > 1 else ""
        raise TypeError(f"{title} missing {len(missing)} required positional argument{plural}: {listed}")
    return [(name, values[name]) for name in names]


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if len(names) >= 2:
        return attrgetter(*names)
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda self: (one(self),)
    return lambda self: ()


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({inner})"

    return __repr__


def _eq(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return __eq__


def _hash(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(key(self))

    return __hash__


def _frozen(cls: Any, names: frozenset[str]) -> tuple[Callable[..., None], Callable[..., None]]:
    """dataclasses' frozen rule: the class's own instances, and every field, refuse assignment and deletion;
    a plain subclass may still set attributes of its own."""

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __setattr__, __delattr__
