"""The C library through ctypes, for the few Linux/glibc calls Eventyard makes
(malloc arenas and trimming in eventyard.runtime.heap, the parent-death signal
in eventyard.orphans)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["libc"]


@functools.cache
def libc() -> ctypes.CDLL | None:
    """This process's C library; None where it cannot be loaded."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
