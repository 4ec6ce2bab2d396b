"""`quick_init`: frozen value classes built at the cost of mutable ones.

A frozen dataclass's generated `__init__` sets each field through
`object.__setattr__` (its own `__setattr__` refuses): a 5-field value costs ~960 ns
to build against ~290 ns unfrozen. The engine builds several per event (`Event`,
`Emit`, `OutRecord`, `Inbound`, `Delivery`, ...), ~4 us of each event's ~90. For a
slotted class, each slot's descriptor sets it directly: ~390 ns, still frozen.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

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
    if hasattr(cls, "__post_init__") or any(
            not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING for f in fields):
        raise TypeError(f"quick_init cannot reproduce the __init__ of {cls.__qualname__}")
    scope: dict[str, Any] = {}
    params_src, body = [], []
    for f in fields:
        scope[f"_set_{f.name}"] = getattr(cls, f.name).__set__
        if f.default is dataclasses.MISSING:
            params_src.append(f.name)
        else:
            scope[f"_default_{f.name}"] = f.default
            params_src.append(f"{f.name}=_default_{f.name}")
        body.append(f"    _set_{f.name}(self, {f.name})")
    source = f"def __init__(self, {', '.join(params_src)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, scope)  # as dataclasses builds its own __init__
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[misc]
    return cls
