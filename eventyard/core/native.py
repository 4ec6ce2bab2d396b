"""Which hot path runs: the compiled one (`eventyard.core._native`) or pure Python.

The compiled module is built by `pip install` when a C compiler, the Python headers
and OpenSSL's headers are there; without them the install still succeeds and the
pure-Python functions run (same results, more CPU per event). Set
`EVENTYARD_PURE_PYTHON=1` to run the pure-Python path on purpose (any value but
empty, 0, false, no or off does); CI runs the tests both ways.
"""

from __future__ import annotations

import functools
import os
import warnings
from types import ModuleType
from typing import Any

__all__ = ["compiled", "hot_path", "choose"]


_API = 11  # the version of eventyard/core/_native.pyx this code calls
_OFF = frozenset({"", "0", "false", "no", "off"})


def _load() -> ModuleType | None:
    if os.environ.get("EVENTYARD_PURE_PYTHON", "").strip().lower() not in _OFF:
        return None
    try:
        from eventyard.core import _native  # type: ignore[attr-defined]
    except ImportError:
        return None
    if getattr(_native, "API", None) != _API:
        # An in-place build older than its source (`pip install -e .` again rebuilds it).
        warnings.warn(f"eventyard.core._native is API {getattr(_native, 'API', None)}, not {_API}: "
                      "running the pure-Python hot path; reinstall eventyard to rebuild it", stacklevel=2)
        return None
    return _native


compiled: ModuleType | None = _load()


def hot_path() -> str:
    """'compiled' or 'pure Python': logged at worker start and shown by the bench."""
    return "compiled" if compiled is not None else "pure Python"


def choose(python: Any, name: str, *leading: Any) -> Any:
    """`python` (a function or class), or the compiled one named `name` when the
    module was loaded, with `leading` arguments bound (a partial: called from C, no
    Python frame between)."""
    if compiled is None:
        return python
    chosen = getattr(compiled, name)
    return functools.partial(chosen, *leading) if leading else chosen
