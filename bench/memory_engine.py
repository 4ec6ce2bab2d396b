"""Memory of the order-saga engine holding M open workflows, without Kafka or bytewax.

`python -m bench.memory_engine [--workflows 100000,1000000] [--tracemalloc]`

Loads open workflows (OrderPlaced only: instance, two pending timers, dedup
entries) through the real engine in this process, as a worker's tasks apply
them: one Task per input partition (4), `offer` a batch of 500, input times
caught up, `run` (decode, merge, operators, one WriteBatch), over the task
stores opened with the worker's StoreMemory budget. At each checkpoint it reports where the memory is:

- RSS (psutil) and glibc's malloc view (mallinfo2: bytes handed out vs held),
- RocksDB, summed over stores: memtables, table readers (index and filter
  blocks kept outside the block cache), the shared block cache (and its pinned part),
- with --tracemalloc, the Python allocations that grew since the last checkpoint.

The loading rate is reported too, so a memory fix can be checked for its cost.
The worker adds bytewax, Kafka clients and metrics on top; `python -m bench
--only memory` measures that whole process.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import tempfile
import time
import tracemalloc
import zlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import psutil

from bench.open_state import REMINDER_AFTER_S, TIMEOUT_S
from bench.saga_env import PIPELINE, patched_environ
from bench.workload import Workload
from eventyard.core.records import SourceMessage
from eventyard.operators.merge import EventTimeMerge, MergeBounds
from eventyard.operators.task import Task, TaskSettings
from eventyard.pipelines import get_pipeline
from eventyard.runtime.flow import budget_store_memory, build_decoder, build_operators
from eventyard.runtime.heap import malloc_stats, trim as heap_trim
from eventyard.state import StateDirectory, TaskStore
from eventyard.state.memory import store_memory

__all__ = ["run", "rocksdb_mb", "malloc_mb"]

_PARTITIONS = 4
_BATCH = 500
MB = 1 << 20
_PROPERTIES = {
    "memtables": "rocksdb.cur-size-all-mem-tables",
    "table_readers": "rocksdb.estimate-table-readers-mem",
}


def malloc_mb() -> dict[str, float]:
    """glibc's main-arena-plus-mmap view: what is in use vs what malloc holds (empty if not glibc)."""
    stats = malloc_stats()
    if stats is None:
        return {}
    return {"malloc.in_use_mb": stats.in_use / MB, "malloc.free_held_mb": stats.free_held / MB,
            "malloc.mmapped_mb": stats.mapped / MB}


def rocksdb_mb(stores: list[TaskStore]) -> dict[str, float]:
    """RocksDB's own memory over all stores (the block cache is shared: counted once)."""
    out = {f"rocksdb.{name}_mb": sum(s._db.property_int_value(prop) or 0 for s in stores) / MB
           for name, prop in _PROPERTIES.items()}
    cache = store_memory().cache
    out["rocksdb.block_cache_mb"] = cache.get_usage() / MB
    out["rocksdb.block_cache_pinned_mb"] = cache.get_pinned_usage() / MB
    out["rocksdb.sst_files"] = sum(len(list(s.path.glob("*.sst"))) for s in stores)
    return out


def _messages(count: int, prefix: str, now_ms: int, offsets: dict[tuple[str, int], int]
              ) -> Iterator[list[SourceMessage]]:
    """Batches of source messages as one partition's fetch would bring them."""
    batch: list[SourceMessage] = []
    for r in Workload(open_workflows=count, prefix=prefix).records():
        partition = zlib.crc32(r.key or b"") % _PARTITIONS
        offset = offsets[(r.topic, partition)]
        offsets[(r.topic, partition)] = offset + 1
        batch.append(SourceMessage(r.topic, partition, offset, r.key, r.value, r.headers, now_ms))
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def run(checkpoints: list[int], trace: bool = False, trim: bool = False, env: dict[str, str] | None = None) -> list[dict[str, float]]:
    work = Path(tempfile.mkdtemp(prefix="eventyard-bench-memory-"))
    if trace:
        tracemalloc.start(8)
    process = psutil.Process()
    try:
        environ = {"EVENTYARD_STATE__DIR": str(work / "state"),
                   "EVENTYARD_RECOVERY__DIR": str(work / "recovery"),
                   # As bench/open_state.py: no loaded workflow's timer comes due while measuring.
                   "EVENTYARD_ORDER_SAGA__PAYMENT_REMINDER_AFTER": f"{REMINDER_AFTER_S}s",
                   "EVENTYARD_ORDER_SAGA__PAYMENT_TIMEOUT": f"{TIMEOUT_S}s", **(env or {})}
        with patched_environ(environ):
            definition = get_pipeline(PIPELINE)
            settings = definition.settings()
        state, p = settings.state, settings.pipeline
        budget_store_memory(settings, _PARTITIONS)
        directory = StateDirectory(state.dir, settings.name, _PARTITIONS)
        directory.ensure()
        operators, decoder = build_operators(definition, settings), build_decoder(definition, settings)
        bounds = MergeBounds(p.merge_max_records, p.merge_max_bytes)
        task_settings = TaskSettings(settings.name, p.dead_letter, state.outbox_retention, state.dedup_retention)
        tasks = [Task(n, TaskStore.open(directory.task_path(n), n, create=True), operators, decoder,
                      EventTimeMerge([(topic, n) for topic in p.inputs], bounds), task_settings)
                 for n in range(_PARTITIONS)]
        stores = [task.store for task in tasks]
        offsets: dict[tuple[str, int], int] = defaultdict(int)
        results: list[dict[str, float]] = []
        loaded = 0
        before = tracemalloc.take_snapshot() if trace else None
        for target in checkpoints:
            started, cpu = time.perf_counter(), time.process_time()
            events = 0
            for batch in _messages(target - loaded, f"open{loaded}", int(time.time() * 1000), offsets):
                by_task: dict[int, list[SourceMessage]] = defaultdict(list)
                for msg in batch:
                    by_task[msg.partition].append(msg)
                now_ms = int(time.time() * 1000)
                for number, records in by_task.items():
                    task = tasks[number]
                    task.offer(records)
                    for topic in p.inputs:  # caught up
                        task.merge.set_input_time(topic, number, now_ms)
                    task.run(now_ms)
                events += len(batch)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            loaded = target
            gc.collect()
            time.sleep(2)  # let background flushes settle before reading memory
            rss = process.memory_info().rss / MB
            trimmed = trim and heap_trim()
            figures = {"open_workflows": loaded, "rss_mb": rss,
                       "rss_after_malloc_trim_mb": process.memory_info().rss / MB if trimmed else rss,
                       "events_per_s": events / elapsed, "cpu_us_per_event": 1e6 * cpu / events,
                       **rocksdb_mb(stores), **malloc_mb()}
            if trace:
                figures["python.traced_mb"] = tracemalloc.get_traced_memory()[0] / MB
            results.append(figures)
            print(" ".join(f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v:,}" for k, v in figures.items()),
                  flush=True)
            if trace:
                after = tracemalloc.take_snapshot()
                for stat in after.compare_to(before, "traceback")[:8]:
                    print(f"  {stat.size_diff / MB:+.1f} MB {stat.count_diff:+,} blocks",
                          " <- ".join(f"{f.filename.split('/')[-1]}:{f.lineno}" for f in stat.traceback[:5]))
                before = after
        for task in tasks:
            task.close()
        return results
    finally:
        if trace:
            tracemalloc.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", default="100000,300000",
                        help="comma-separated checkpoints of open workflows (cumulative)")
    parser.add_argument("--tracemalloc", action="store_true", help="report Python allocation growth")
    parser.add_argument("--trim", action="store_true",
                        help="also report RSS after malloc_trim(0) (changes later checkpoints)")
    parser.add_argument("--set", action="append", default=[], metavar="ENV=VALUE",
                        help="extra EVENTYARD_* setting for the run (repeatable)")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.set)
    run([int(n) for n in args.workflows.split(",")], args.tracemalloc, args.trim, env)


if __name__ == "__main__":
    main()
