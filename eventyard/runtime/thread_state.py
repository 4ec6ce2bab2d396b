"""Keep the Python thread state of a bytewax worker thread for the thread's life.

With more than one process (`eventyard run -p 2` and up) bytewax runs each worker
in a thread started from Rust, and enters Python there through PyO3's GIL guard.
Such a thread has no Python thread state of its own: every entry made one and
every exit deleted it, so each operator activation paid for a fresh thread state
(and its frame stack) and lost thread-local data (`threading.local`, context
variables) between batches. One extra PyGILState reference, taken the first time
our code runs in the thread, keeps that state until the thread ends; the
interpreter clears it at exit. Measured on the order saga, one worker run through
bytewax's cluster entry point: 120-153 us of CPU per event without it, 92-113
with it, 93-101 for the single-process entry point (docs/benchmarks.md).

A single-process run executes its worker on Python's main thread, which keeps its
state anyway; there this does nothing.
"""

from __future__ import annotations

import ctypes
import threading

__all__ = ["keep_thread_state"]

_kept = threading.local()


def keep_thread_state() -> None:
    """Keep the calling thread's Python thread state alive (once per thread).

    Call it with the GIL held, from code bytewax runs in its worker thread."""
    if getattr(_kept, "done", False) or threading.get_ident() == threading.main_thread().ident:
        return
    ensure = getattr(getattr(ctypes, "pythonapi", None), "PyGILState_Ensure", None)
    if ensure is not None:  # CPython; other interpreters manage thread states their own way
        ensure()  # never released: the counter stays above zero until the thread exits
    _kept.done = True
