"""Which hot path runs: the compiled one or pure Python.

Two parts are compiled by `pip install` (setup.py) when a C compiler, the Python
headers and OpenSSL's headers are there: `eventyard.core._native` (typed twins of a
few functions) and the engine's modules, compiled from their own `.py` source.
Without a compiler the install still succeeds and everything runs as pure Python
(same results, more CPU per event). Set `EVENTYARD_PURE_PYTHON=1` to run the
pure-Python path on purpose (any value but empty, 0, false, no or off does); CI
runs the tests both ways.

Which of the engine's modules run compiled is decided at import by
`eventyard.core.source_first`.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import warnings
from types import ModuleType
from typing import Any

from eventyard.core.source_first import pure_python_asked

__all__ = ["compiled", "hot_path", "choose"]


_API = 12  # the version of eventyard/core/_native.pyx this code calls


def _load() -> ModuleType | None:
    if pure_python_asked():
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
    """'compiled', 'partly compiled (...)' or 'pure Python': logged at worker start,
    shown by `eventyard --version` and the bench."""
    spec = importlib.util.find_spec("eventyard.operators.engine")  # through SourceFirst
    engine = spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)
    if compiled is not None and engine:
        return "compiled"
    if compiled is None and not engine:
        return "pure Python"
    return "partly compiled (" + ("the engine's modules run from source" if compiled is not None
                                  else "eventyard.core._native is not loaded") + ")"


def choose(python: Any, name: str, *leading: Any) -> Any:
    """`python` (a function or class), or the compiled one named `name` when the
    module was loaded, with `leading` arguments bound (a partial: called from C, no
    Python frame between)."""
    if compiled is None:
        return python
    chosen = getattr(compiled, name)
    return functools.partial(chosen, *leading) if leading else chosen
