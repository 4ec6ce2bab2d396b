"""The C heap of a worker process: few malloc arenas, freed pages handed back.

A worker's RSS is mostly memory RocksDB and the Kafka clients allocate with
glibc's malloc, from many threads (bytewax, RocksDB flushes and compactions,
the producer's sender, the metrics server). glibc gives each thread its own
arena (up to 8 per core) and returns freed pages from the middle of an arena
only on `malloc_trim`. Measured on a worker holding 40k open workflows: 236 MB
of heap in 16 arenas for 154 MB in use; one `malloc_trim(0)` gave 44 MB back
(docs/benchmarks.md, change log). So a worker caps its arenas at start and
trims on a timer. Elsewhere than glibc both are no-ops.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from datetime import timedelta

from eventyard.libc import libc

__all__ = ["limit_arenas", "trim", "HeapTrimmer"]

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # mallopt parameter, glibc's malloc.h


def _libc() -> ctypes.CDLL | None:
    """glibc (the only C library with these malloc calls), or None."""
    lib = libc()
    return lib if lib is not None and hasattr(lib, "malloc_trim") and hasattr(lib, "mallopt") else None


def limit_arenas(count: int) -> bool:
    """At most `count` malloc arenas from now on (0: glibc's default); False if not glibc."""
    libc = _libc()
    if libc is None or count <= 0:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, count))


def trim() -> bool:
    """Return free heap pages of every arena to the OS; False if not glibc."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)  # its result only says whether anything was released
    return True


class HeapTrimmer:
    """A daemon thread calling `trim()` every `interval` (ctypes drops the GIL meanwhile)."""

    def __init__(self, interval: timedelta) -> None:
        self.interval = interval
        self.trims = 0
        self.trimmed = threading.Event()  # set after each trim: lets tests await one
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eventyard-heap-trim", daemon=True)

    def start(self) -> "HeapTrimmer":
        if self.interval > timedelta(0) and _libc() is not None:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        seconds = self.interval.total_seconds()
        while not self._stop.wait(seconds):
            try:
                trim()
            except Exception:  # never let housekeeping kill the worker
                log.exception("malloc_trim failed")
                return
            self.trims += 1
            self.trimmed.set()
