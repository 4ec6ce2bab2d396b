"""Memory: RSS of one worker process holding M open workflows (100k and 1M).

Open workflows are orders that got OrderPlaced only: state, two pending timers
and dedup entries each, all in RocksDB. One worker is loaded to 100k, measured,
then grown to 1M in the same process and measured again: RSS (psutil) after
every event has been applied, and sampled while loading (for the plot).
"""

from __future__ import annotations

import time

from bench.open_state import Session
from bench.scale import Scale

__all__ = ["run"]


def run(scale: Scale, session: Session) -> tuple[dict[str, float], dict[str, list]]:
    figures: dict[str, float] = {}
    series: dict[str, list] = {}
    for label, count in (("small", scale.open_small), ("large", scale.open_large)):
        loaded = session.open_saga(count)
        time.sleep(3)  # let the last epoch close before reading memory
        figures[f"memory.{label}.open_workflows"] = count
        figures[f"memory.{label}.rss_mb"] = loaded.env.rss_mb()[0]
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
