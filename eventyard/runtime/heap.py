"""The C heap of a worker process: few malloc arenas, freed pages handed back.

A worker's RSS is mostly memory RocksDB and the Kafka clients allocate with
glibc's malloc, from many threads (bytewax, RocksDB flushes and compactions,
the producer's sender, the metrics server). glibc gives each thread its own
arena (up to 8 per core) and returns freed pages from the middle of an arena
only on `malloc_trim`. Measured on a worker holding 40k open workflows: 236 MB
of heap in 16 arenas for 154 MB in use; one `malloc_trim(0)` gave 44 MB back
(docs/benchmarks.md, change log). So a worker caps its arenas at start and
trims on a timer. Elsewhere than glibc these are no-ops.

glibc also raises its mmap threshold each time a large mmapped block is freed
(up to 32 MB), after which big blocks come from the arenas and stay there after
they are freed, until a trim. A worker pins the threshold at 1 MB, so blocks from
that size up go straight back to the OS when freed: at 1M open workflows the
worker's RSS before a trim fell from 234-241 to 216-218 MB. Not lower: at 128 KB
(glibc's starting value) it fell to 202 MB, but the producer's ~1 MB batch buffers
were then mapped and unmapped per batch, +8% CPU per event (docs/benchmarks.md,
change log).
"""

from __future__ import annotations

import ctypes
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from eventyard.libc import libc

__all__ = ["limit_arenas", "pin_mmap_threshold", "trim", "malloc_stats", "MallocStats", "HeapTrimmer"]

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # mallopt parameters, glibc's malloc.h
_M_MMAP_THRESHOLD = -3


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


def pin_mmap_threshold(size: int) -> bool:
    """Blocks of `size` bytes or more are mmapped (returned to the OS when freed),
    and glibc stops raising that threshold (0: glibc's dynamic default); False if not glibc."""
    libc = _libc()
    if libc is None or size <= 0:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, size))


@dataclass(frozen=True)
class MallocStats:
    """glibc's view of its main arena and its mapped blocks, in bytes."""

    in_use: int  # handed out: main arena plus mapped blocks
    free_held: int  # freed but kept by the main arena (a trim hands back what it can)
    mapped: int  # in blocks mmapped one by one (above the mmap threshold)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


def malloc_stats() -> MallocStats | None:
    """glibc's `mallinfo2()`; None where it is missing (not glibc, or older than 2.33)."""
    libc = _libc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _Mallinfo2
    info = libc.mallinfo2()
    return MallocStats(in_use=info.uordblks + info.hblkhd, free_held=info.fordblks, mapped=info.hblkhd)


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
