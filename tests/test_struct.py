"""`@struct` classes behave as the dataclasses they replace: each case builds the same class both ways."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.struct import struct

Maker = Callable[..., Any]


def _pair(**options: Any) -> list[Maker]:
    frozen = options.pop("frozen", True)
    return [
        lambda cls: dataclasses.dataclass(cls, frozen=frozen, **options),
        lambda cls: struct(frozen=frozen, **options)(cls),
    ]


def _build(make: Maker) -> Any:
    class Point:
        x: int
        y: int = 0
        tags: list[str] = dataclasses.field(default_factory=list)
        secret: str = dataclasses.field(default="", repr=False)
        seen: int = dataclasses.field(default=7, init=False)

    return make(Point)


@pytest.mark.parametrize("make", _pair(), ids=["dataclass", "struct"])
def test_construction_defaults_and_factories(make: Maker) -> None:
    point = _build(make)
    a, b = point(1), point(1, 2, ["t"], secret="s")
    assert (a.x, a.y, a.tags, a.secret, a.seen) == (1, 0, [], "", 7)
    assert (b.x, b.y, b.tags, b.secret) == (1, 2, ["t"], "s")
    assert a.tags is not point(1).tags  # a fresh list each time
    assert point(y=3, x=4).y == 3


def test_the_same_behaviour_as_dataclasses() -> None:
    made = [_build(make) for make in _pair()]
    results = []
    for point in made:
        one, same, other = point(1, 2, ["a"], "s"), point(1, 2, ["a"], "s"), point(2)
        results.append(
            (
                repr(one).replace(point.__qualname__, "P"),
                one == same,
                one == other,
                one == (1, 2),
                hash(point(1, 2, (), "s")) == hash(point(1, 2, (), "s")),
                [f.name for f in dataclasses.fields(point)],
                dataclasses.asdict(one),
                dataclasses.replace(one, y=5).y,
                getattr(point, "__match_args__", None),
            )
        )
    assert results[0] == results[1]


@pytest.mark.parametrize("make", _pair(), ids=["dataclass", "struct"])
def test_hash_is_the_dataclass_hash(make: Maker) -> None:
    point = _build(make)
    assert hash(point(1, 2, (), "s")) == hash((1, 2, (), "s", 7))


@pytest.mark.parametrize("make", _pair(), ids=["dataclass", "struct"])
def test_frozen_refuses_assignment(make: Maker) -> None:
    point = _build(make)(1)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'x'"):
        point.x = 2
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'x'"):
        del point.x


@pytest.mark.parametrize("make", _pair(), ids=["dataclass", "struct"])
def test_a_plain_subclass_may_set_its_own_attributes(make: Maker) -> None:
    class Plain(_build(make)):  # type: ignore[misc]
        pass

    item = Plain(1)
    item.extra = "x"
    assert item.extra == "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.x = 2


def _errors(point: Any) -> list[str]:
    messages = []
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((), {}),
        ((1, 2, [], "", 5), {}),
        ((1,), {"x": 2}),
    ]
    for args, kwargs in [*calls, ((1,), {"z": 1})]:
        with pytest.raises(TypeError) as caught:
            point(*args, **kwargs)
        messages.append(str(caught.value).replace(point.__qualname__, "P"))
    return messages


def test_wrong_arguments_are_worded_as_python_words_them() -> None:
    dataclass_made, struct_made = (_build(make) for make in _pair())
    assert _errors(dataclass_made) == _errors(struct_made)

    @dataclasses.dataclass(frozen=True)
    class Three:
        a: int
        b: int
        c: int

    @struct
    class Three2:
        a: int
        b: int
        c: int

    arguments: list[tuple[int, ...]] = [(), (1,)]
    for args in arguments:
        with pytest.raises(TypeError) as expected:
            Three(*args)
        with pytest.raises(TypeError) as got:
            Three2(*args)
        assert str(got.value).replace("Three2", "Three") == str(expected.value)


@pytest.mark.parametrize("make", _pair(slots=True), ids=["dataclass", "struct"])
def test_slots_and_pickling(make: Maker) -> None:
    point = _build(make)
    point.__qualname__ = "Point"
    globals()["Point"] = point  # pickle finds the class by its module-level name
    try:
        one = point(1, 2, ["a"], "s")
        assert not hasattr(one, "__dict__")
        assert pickle.loads(pickle.dumps(one)) == one  # noqa: S301 - our own bytes
    finally:
        del globals()["Point"]


@pytest.mark.parametrize("make", _pair(eq=False), ids=["dataclass", "struct"])
def test_eq_false_compares_identity(make: Maker) -> None:
    point = _build(make)
    one = point(1)
    assert one != point(1)
    assert one == one
    assert hash(one) == object.__hash__(one)


@pytest.mark.parametrize("make", _pair(frozen=False), ids=["dataclass", "struct"])
def test_mutable_classes_assign_and_do_not_hash(make: Maker) -> None:
    point = _build(make)(1)
    point.x = 5
    assert point.x == 5
    with pytest.raises(TypeError, match="unhashable"):
        hash(point)


@pytest.mark.parametrize("make", _pair(), ids=["dataclass", "struct"])
def test_subclasses_post_init_and_hand_written_methods(make: Maker) -> None:
    class Base:
        a: int

        def __repr__(self) -> str:
            return "hand-written"

    base = make(Base)

    class Child(base):  # type: ignore[misc,valid-type]
        b: str = "x"

        def __post_init__(self) -> None:
            object.__setattr__(self, "b", self.b.upper())

    child = make(Child)(1)
    assert (child.a, child.b) == (1, "X")
    assert repr(base(1)) == "hand-written"
    assert [f.name for f in dataclasses.fields(child)] == ["a", "b"]


def test_a_class_without_a_docstring_gets_none() -> None:
    @struct
    class Bare:
        a: int

    @struct
    class Documented:
        """Says what it is."""

        a: int

    assert Bare.__doc__ is None
    assert Documented.__doc__ == "Says what it is."


def test_the_package_makes_its_dataclasses_with_struct() -> None:
    # A frozen dataclass cannot inherit from a struct (dataclasses sees a non-frozen base), and each costs
    # 0.37 ms of start-up: only what struct does not do (order=True) stays a plain dataclass.
    package = Path(__file__).resolve().parent.parent / "kargo_actions"
    found = [
        f"{path.relative_to(package)}:{number}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if line.strip().startswith("@dataclass(") or line.strip() == "@dataclass"
        if "order=True" not in line
    ]
    assert found == []


def test_what_struct_does_not_do_is_refused() -> None:
    class WithInitVar:
        a: int
        seed: dataclasses.InitVar[int]

    class WithKwOnly:
        a: int = dataclasses.field(kw_only=True)

    for cls in (WithInitVar, WithKwOnly):
        with pytest.raises(TypeError, match="struct does not do InitVar or kw_only"):
            struct(cls)
