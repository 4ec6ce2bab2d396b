"""`quick_init`: frozen value classes built at the cost of mutable ones.

A frozen dataclass's generated `__init__` sets each field through
`object.__setattr__` (its own `__setattr__` refuses): a 5-field value costs ~960 ns
to build against ~290 ns unfrozen. The engine builds several per event (`Event`,
`Emit`, `OutRecord`, `Inbound`, `Delivery`, ...), ~4 us of each event's ~90. For a
slotted class, each slot's descriptor sets it directly: ~390 ns, still frozen.
Where the compiled hot path is built, positional arguments are stored into the
slots by `eventyard.core._native.slot_init` (~170 ns for `SourceMessage`'s seven
fields against ~320 through the descriptors); keyword arguments take the Python
`__init__`.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, TypeVar

from eventyard.core.native import compiled

__all__ = ["quick_init"]

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Give a `@dataclass(frozen=True, slots=True)` class an `__init__` that sets
    its slots through their descriptors. Same signature, defaults and result; apply
    it above the `@dataclass` decorator. Classes with features it does not
    reproduce (default factories, keyword-only fields, InitVars, `__post_init__`)
    are refused when the module loads, not at their first use."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"quick_init is for frozen slotted dataclasses, not {cls.__qualname__}")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    declared = cls.__dataclass_fields__  # type: ignore[attr-defined]
    if not params.init or hasattr(cls, "__post_init__") or len(declared) != len(fields) or any(
            not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING for f in fields):
        raise TypeError(f"quick_init cannot reproduce the __init__ of {cls.__qualname__}")
    # As dataclasses does: the setters and defaults are closure cells of a maker, the
    # module's globals are the function's (typing.get_type_hints resolves its
    # annotations there), and its own names start with __quick_ (no field clashes).
    closure: dict[str, Any] = {}
    params_src, body = [], []
    for i, f in enumerate(fields):
        closure[f"__quick_set_{i}"] = getattr(cls, f.name).__set__
        if f.default is dataclasses.MISSING:
            params_src.append(f.name)
        else:
            closure[f"__quick_default_{i}"] = f.default
            params_src.append(f"{f.name}=__quick_default_{i}")
        body.append(f"        __quick_set_{i}(__quick_self, {f.name})")
    source = (f"def __quick_make({', '.join(closure)}):\n"
              f"    def __init__(__quick_self, {', '.join(params_src)}):\n"
              + ("\n".join(body) or "        pass") + "\n    return __init__\n")
    made: dict[str, Any] = {}
    exec(source, sys.modules[cls.__module__].__dict__, made)  # as dataclasses builds its own __init__
    init = made["__quick_make"](**closure)
    if compiled is not None:
        # Positional arguments go straight into the slots (~170 ns for SourceMessage,
        # against ~320 through the descriptors); keywords take `init`.
        python_init = init
        init = compiled.slot_init(cls, tuple(f.name for f in fields),
                                  tuple(f.default for f in fields if f.default is not dataclasses.MISSING),
                                  python_init)
        init.__wrapped__ = python_init
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = {**cls.__init__.__annotations__}
    cls.__init__ = init  # type: ignore[misc]
    return cls
