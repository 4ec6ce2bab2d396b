"""Memory: RSS of one worker process holding M open workflows (100k and 1M).

Open workflows are orders that got OrderPlaced only: state, two pending timers
and dedup entries each, all in RocksDB. One worker is loaded to 100k, measured,
then grown to 1M in the same process and measured again: RSS (psutil) after
every event has been applied, and sampled while loading (for the plot).

An idle worker's RSS still moves: the heap trimmer hands freed memory back every
`state.malloc_trim_interval` (30 s) and it grows again as epochs close (seen
after a 100k load: 173 -> 145 -> 163 -> 172 MB within 30 s). One reading took
wherever that cycle was, so the figure is the median of one-second samples over
one trim interval (the lowest and highest are kept beside it).
"""

from __future__ import annotations

import statistics
import time

from bench.open_state import Session
from bench.saga_env import SagaEnv
from bench.scale import Scale

__all__ = ["run", "settled_rss"]

SETTLE_SECONDS = 30  # the worker's default malloc_trim_interval


def settled_rss(env: SagaEnv, seconds: int = SETTLE_SECONDS) -> list[float]:
    """The worker's RSS (MB) once a second for `seconds`."""
    samples = []
    for _ in range(seconds):
        samples.append(env.rss_mb()[0])
        time.sleep(1)
    return samples


def run(scale: Scale, session: Session) -> tuple[dict[str, float], dict[str, list]]:
    figures: dict[str, float] = {}
    series: dict[str, list] = {}
    for label, count in (("small", scale.open_small), ("large", scale.open_large)):
        loaded = session.open_saga(count)
        rss = settled_rss(loaded.env)
        figures[f"memory.{label}.open_workflows"] = count
        figures[f"memory.{label}.rss_mb"] = statistics.median(rss)
        figures[f"memory.{label}.rss_mb_low"], figures[f"memory.{label}.rss_mb_high"] = min(rss), max(rss)
        figures[f"memory.{label}.load_rate"] = loaded.load_rate
        figures[f"memory.{label}.load_cpu_us_per_event"] = loaded.load_cpu_us
        # Where the state is: flushed to SST files, or still in memtables (and their WAL).
        files = [p for p in (loaded.env.work / "state").rglob("*") if p.is_file()]
        figures[f"memory.{label}.sst_files"] = sum(1 for p in files if p.suffix == ".sst")
        figures[f"memory.{label}.sst_mb"] = sum(p.stat().st_size for p in files if p.suffix == ".sst") / 2**20
        figures[f"memory.{label}.wal_mb"] = sum(p.stat().st_size for p in files if p.suffix == ".log") / 2**20
    if session.loaded is not None:
        series["rss_while_loading"] = session.loaded.rss_samples
    return figures, series
