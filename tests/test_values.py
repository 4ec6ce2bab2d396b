"""quick_init: a faster constructor that changes nothing a user of the class sees."""

from __future__ import annotations

import dataclasses
import pickle
import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventyard.core import native
from eventyard.core.records import OutRecord, SourceMessage
from eventyard.core.values import quick_init


@dataclasses.dataclass(frozen=True, slots=True)
class Plain:
    a: int
    b: str = "x"
    c: tuple[int, ...] = ()


@quick_init
@dataclasses.dataclass(frozen=True, slots=True)
class Quick:
    a: int
    b: str = "x"
    c: tuple[int, ...] = ()


@given(st.integers(), st.text(), st.lists(st.integers()).map(tuple), st.booleans(), st.booleans())
def test_a_quick_class_builds_what_the_dataclass_builds(a: int, b: str, c: tuple[int, ...],
                                                        give_b: bool, give_c: bool) -> None:
    kwargs = {**({"b": b} if give_b else {}), **({"c": c} if give_c else {})}
    plain, quick = Plain(a, **kwargs), Quick(a, **kwargs)
    assert dataclasses.astuple(quick) == dataclasses.astuple(plain)
    assert repr(quick).removeprefix("Quick") == repr(plain).removeprefix("Plain")
    assert quick == Quick(a, **kwargs) and hash(quick) == hash(Quick(a, **kwargs))
    assert pickle.loads(pickle.dumps(quick)) == quick
    replaced = dataclasses.replace(quick, a=a + 1)  # through the new __init__
    assert dataclasses.astuple(replaced) == dataclasses.astuple(dataclasses.replace(plain, a=a + 1))


def test_a_quick_class_is_still_frozen_and_checks_its_arguments() -> None:
    value = Quick(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.a = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Quick()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Quick(1, "y", (), 4)  # type: ignore[call-arg]


def test_the_engine_values_use_it() -> None:
    for cls in (SourceMessage, OutRecord):
        python_init = getattr(cls.__init__, "__wrapped__", cls.__init__)  # behind the compiled one
        assert "__quick_set_0" in python_init.__code__.co_freevars
        assert (cls.__init__ is not python_init) == (native.compiled is not None)
    msg = SourceMessage("orders", 0, 7, b"k", b"{}", (), 1)
    assert (msg.topic, msg.offset, msg.timestamp_ms) == ("orders", 7, 1)
    assert OutRecord("t", None, b"v").headers == ()


def test_its_signature_reads_as_the_dataclass_one() -> None:
    assert typing.get_type_hints(Quick.__init__) == typing.get_type_hints(Plain.__init__)
    assert Quick.__init__.__qualname__ == "Quick.__init__"


def test_fields_named_like_its_own_variables_are_fine() -> None:
    @quick_init
    @dataclasses.dataclass(frozen=True, slots=True)
    class Odd:
        self: int
        _set_self: int = 2

    assert (Odd(1).self, Odd(1)._set_self, Odd(1, 3)._set_self) == (1, 2, 3)


def test_what_it_cannot_reproduce_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match="frozen slotted"):
        quick_init(dataclasses.dataclass(frozen=True)(type("NoSlots", (), {"__annotations__": {"a": int}})))
    with pytest.raises(TypeError, match="cannot reproduce"):
        @quick_init
        @dataclasses.dataclass(frozen=True, slots=True)
        class WithFactory:
            a: list[int] = dataclasses.field(default_factory=list)
    with pytest.raises(TypeError, match="cannot reproduce"):
        @quick_init
        @dataclasses.dataclass(frozen=True, slots=True)
        class WithInitVar:
            a: int
            b: dataclasses.InitVar[int] = 0
    with pytest.raises(TypeError, match="cannot reproduce"):
        @quick_init
        @dataclasses.dataclass(frozen=True, slots=True, init=False)
        class OwnInit:
            a: int

            def __init__(self) -> None:
                object.__setattr__(self, "a", 1)


def test_an_init_called_on_another_class_is_refused() -> None:
    # cls.__init__(other) must not write into another layout's memory (the compiled init stores slots directly)
    with pytest.raises(TypeError):
        Quick.__init__(Plain(1), 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Quick.__init__(object(), 2)  # type: ignore[arg-type]
