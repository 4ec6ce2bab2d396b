"""The order-saga engine alone: no Kafka client, no bytewax, same workload.

Decode -> route -> one grouped RocksDB transaction per shard per batch, as the
worker's stateful step does, over records laid out as the source would read
them (4 partitions per topic, batches of 500 taken in turn from each). The
figure is the ceiling the engine sets on any transport: the end-to-end saga
cannot beat it, so the gap between it and the Kafka clients' plain loop says
where optimizing pays.

The same pass is repeated with parts of the engine's work left out (decision
records, the outbox, building outputs at all, everything after routing), so the
report can say what each guarantee costs per event.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import zlib
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from bench.saga_env import PIPELINE, patched_environ
from bench.scale import Scale
from bench.workload import Workload
from eventyard.core.records import SourceMessage
from eventyard.core.routing import shard_of
from eventyard.runtime.collector import settle_collector
from eventyard.operators.decode import Decoder, Inbound
from eventyard.pipelines import get_pipeline
from eventyard.runtime.flow import build_runtime
from eventyard.state import TaskStore

__all__ = ["run"]

_PARTITIONS = 4
_BATCH = 500


def _batches(orders: int, now_ms: int) -> list[list[SourceMessage]]:
    parts: dict[tuple[str, int], list[SourceMessage]] = defaultdict(list)
    for r in Workload(orders=orders).records():
        partition = zlib.crc32(r.key or b"") % _PARTITIONS
        queue = parts[(r.topic, partition)]
        queue.append(SourceMessage(r.topic, partition, len(queue), r.key, r.value, r.headers, now_ms))
    batches = []
    while any(parts.values()):
        for queue in parts.values():
            if queue:
                batches.append(queue[:_BATCH])
                del queue[:_BATCH]
    return batches


# What each guarantee costs: the same run with one part of the engine's work left
# out (engine settings a worker never uses; replay uses the last two).
_VARIANTS: dict[str, dict[str, object]] = {
    "no_decisions": {"decisions_topic": None},  # AppliedOutOfOrder / TimerFired records
    "no_outbox": {"record_outbox": False},  # outputs built but not stored for re-sending
    "no_outputs": {"record_outbox": False, "build_outputs": False},  # state only, as replay runs
}


def _measure(work: Path, batches: list[list[SourceMessage]], engine: dict[str, object] | None = None,
             apply: bool = True) -> tuple[float, float, float]:
    """(events/s, CPU us/event of the process, of Python's thread) for one pass over `batches`."""
    env = {"EVENTYARD_STATE__DIR": str(work / "state"), "EVENTYARD_RECOVERY__DIR": str(work / "recovery")}
    with patched_environ(env):
        definition = get_pipeline(PIPELINE)
        settings = definition.settings()
    runtime = build_runtime(definition, settings)
    for op_engine in runtime.operators:
        op_engine.config = replace(op_engine.config, **(engine or {}))  # type: ignore[arg-type]
    p = settings.pipeline
    decoder = Decoder(settings.name, definition.catalog, settings.state.shards, p.max_event_bytes, p.max_hops)
    shards = settings.state.shards
    stores = {n: TaskStore.open(runtime.directory.shard_path(n), n, create=True) for n in range(shards)}
    events = sum(len(b) for b in batches)
    settle_collector()  # as a worker does once start-up is done
    started, cpu, thread = time.perf_counter(), time.process_time(), time.thread_time()
    for batch in batches:
        by_shard = defaultdict(list)
        for msg in batch:
            item = decoder(msg)
            if isinstance(item, Inbound):
                for _, delivery in runtime.operators.route(("", item)):
                    by_shard[shard_of(delivery.key, shards)].append(delivery)
        if not apply:
            continue
        for shard, deliveries in by_shard.items():
            txn = stores[shard].transaction(grouped=True)
            for delivery in deliveries:
                runtime.operators.apply(txn, delivery)
            txn.flush()
    elapsed = time.perf_counter() - started
    cpu, thread = time.process_time() - cpu, time.thread_time() - thread
    for store in stores.values():
        store.close()
    return events / elapsed, 1e6 * cpu / events, 1e6 * thread / events


def run(scale: Scale) -> dict[str, float]:
    batches = _batches(scale.saga_orders * 2, int(time.time() * 1000))
    figures: dict[str, float] = {"engine.events": sum(len(b) for b in batches)}
    passes: list[tuple[str, dict[str, object] | None, bool]] = [
        ("engine", None, True), *((f"engine.{name}", tweak, True) for name, tweak in _VARIANTS.items()),
        ("engine.decode_route", None, False)]
    for prefix, tweak, apply in passes:
        work = Path(tempfile.mkdtemp(prefix="eventyard-bench-engine-"))
        try:
            rate, cpu_us, thread_us = _measure(work, batches, tweak, apply)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        figures.update({f"{prefix}.events_per_s": rate, f"{prefix}.cpu_us_per_event": cpu_us,
                        f"{prefix}.main_thread_us_per_event": thread_us})
    return figures
