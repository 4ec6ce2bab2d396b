"""Garbage-collector settings for long-running event loops (worker, replay).

A worker allocates several short-lived containers per event (records, envelopes,
intents); with the default threshold (700 allocations) the collector runs every
few events and walks the long-lived objects of bytewax, pydantic and the
pipeline each time it reaches the older generations. Measured on the order saga
engine: 6% of a worker's CPU in `gc_collect_main`; freezing what start-up built
and collecting the young generation every 10,000 allocations took the engine
bench from 295 to 271-274 us per event (docs/benchmarks.md, change log). With
partition-local tasks (engine v2), same bench at full scale (160k events),
interleaved: 175 / 175 / 198 us of Python-thread CPU per event with it, 276 /
216 / 246 without (busy box). Reference cycles are still collected, only less
often.

The young threshold was raised from 10,000 to 50,000 (session 17): every young
collection walks the batch's live containers (its records, outputs, the
transaction's buffers), which survive into the older generation and are walked
again there. Garbage waiting for a collection holds memory meanwhile, and the
worker's used to be large: kafka-python's empty polls left a timeout exception
whose traceback held the caller's frames, outputs included, until the collector
found the cycle (at 200,000 that kept ~30 MB; eventyard.kafka.fetched's
`waiting_on_fetches` now skips those polls). Worker RSS at 100k open workflows,
10,000 vs 50,000: 148/149 vs 145/151 MB; CPU per event benchmarks.md.
"""

from __future__ import annotations

import gc

__all__ = ["settle_collector", "YOUNG_THRESHOLD"]

YOUNG_THRESHOLD = 50_000


def settle_collector() -> None:
    """Call once start-up is done: later collections skip everything built so far."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
