"""The worker's C heap settings: arena cap and periodic trim (glibc only)."""

import subprocess
import sys
from datetime import timedelta

import pytest

from eventyard.runtime.heap import HeapTrimmer, _libc, limit_arenas, pin_mmap_threshold, trim

glibc = pytest.mark.skipif(_libc() is None, reason="glibc's malloc only")

# Threads that each malloc while the others hold their memory, then glibc's own
# per-arena report (malloc_stats writes one "Arena N:" block per arena to stderr).
_THREADS = """
import ctypes, sys, threading
from eventyard.runtime.heap import limit_arenas
limit_arenas(int(sys.argv[1]))
barrier = threading.Barrier(6)
def work():
    held = [bytearray(64 << 10) for _ in range(4)]  # > 512 bytes: malloc, not Python's pools
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL("libc.so.6").malloc_stats()
"""


# A 4 MB block freed (glibc then raises its mmap threshold past it, unless it is
# pinned), then 20 blocks of 512 KB: how many more bytes are mmapped after them.
_BIG_BLOCKS = """
import ctypes, sys
from eventyard.runtime.heap import malloc_stats, pin_mmap_threshold
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
pin_mmap_threshold(int(sys.argv[1]))
libc.free(libc.malloc(4 << 20))
before = malloc_stats().mapped
blocks = [libc.malloc(512 << 10) for _ in range(20)]
print(malloc_stats().mapped - before)
"""


def _mmapped_after_a_big_free(threshold: int) -> int:
    done = subprocess.run([sys.executable, "-c", _BIG_BLOCKS, str(threshold)], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)


def _arenas(limit: int) -> int:
    done = subprocess.run([sys.executable, "-c", _THREADS, str(limit)], capture_output=True,
                          text=True, check=True)
    return sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))


@glibc
def test_arena_cap_keeps_threads_in_the_capped_arenas():
    assert _arenas(0) > 2  # glibc's default: threads get arenas of their own
    assert _arenas(2) == 2


@glibc
def test_a_pinned_mmap_threshold_keeps_big_blocks_out_of_the_heap():
    # glibc's default: the freed 4 MB block raised the threshold, so the 512 KB
    # blocks come from the heap (held by it after they are freed, until a trim)
    assert _mmapped_after_a_big_free(0) < 512 << 10
    # pinned: each is its own mapping, handed back to the OS when freed
    assert _mmapped_after_a_big_free(128 << 10) >= 20 * (512 << 10)


@glibc
def test_limit_and_trim_report_they_ran():
    assert limit_arenas(0) is False  # 0 means glibc's default: nothing set
    assert pin_mmap_threshold(0) is False
    assert trim() is True


@glibc
def test_trimmer_trims_until_stopped():
    trimmer = HeapTrimmer(timedelta(milliseconds=10)).start()
    try:
        assert trimmer.trimmed.wait(timeout=10)
    finally:
        trimmer.stop()
    count = trimmer.trims
    assert count >= 1 and not trimmer._thread.is_alive()


def test_trimmer_at_zero_interval_starts_no_thread():
    trimmer = HeapTrimmer(timedelta(0)).start()
    assert not trimmer._thread.is_alive()
    trimmer.stop()
