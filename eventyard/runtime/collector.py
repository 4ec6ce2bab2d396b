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

Collections between batches (session 19): most of what a young collection walks
is the batch in hand (its messages, envelopes, outputs; live until the batch is
done), and a collection mid-batch walked 50,000-100,000 of them at 5-55 ms each
(gc callbacks in a kafka-python worker: 1-3.5 us per event). The worker now
collects between batches, once YOUNG_THRESHOLD containers were made since the
last collection, when the batch's objects are gone; the automatic collector
stays on with a high threshold as a backstop, should one batch alone make that
many.
"""

from __future__ import annotations

import gc

__all__ = ["settle_collector", "collect_between_batches", "YOUNG_THRESHOLD", "BACKSTOP_THRESHOLD"]

YOUNG_THRESHOLD = 50_000  # containers made between collections, checked between batches
BACKSTOP_THRESHOLD = 1_000_000  # the automatic collector's, for a batch that alone makes more


def settle_collector() -> None:
    """Call once start-up is done: later collections skip everything built so far,
    and run between batches (`collect_between_batches`)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(BACKSTOP_THRESHOLD, older, oldest)


def collect_between_batches() -> None:
    """Where a batch's objects are gone: collect the generations that are due, as
    the automatic collector picks them at a young threshold of YOUNG_THRESHOLD (the
    young one; the middle one once more than `older` young collections ran since
    its last, all once more than `oldest` middle ones did; without CPython's check
    that a full collection has enough new long-lived objects to walk)."""
    young, middle, old = gc.get_count()
    if young < YOUNG_THRESHOLD:
        return
    _, older, oldest = gc.get_threshold()
    gc.collect(2 if old > oldest else 1 if middle > older else 0)
