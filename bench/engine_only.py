"""The order-saga engine alone: no Kafka client, no bytewax, same workload.

What a worker does minus Kafka and bytewax: one `Task` per input partition
number (4, the default partition count), each over its own TaskStore on disk;
records laid out as the source would read them (4 partitions per topic, batches
of 500 taken in turn from each), and for each batch `task.offer(batch)`, every
input partition of the task reported caught up (input time = the wall clock),
then `task.run()`: decode, the event-time merge, workflow and operators, one
WriteBatch per run. The figure is the ceiling the engine sets on any transport:
the end-to-end saga cannot beat it, so the gap between it and the Kafka clients'
plain loop says where optimizing pays.

The same pass is repeated with parts of the engine's work left out (decision
records, the outbox, building outputs at all, everything after decode and
routing), so the report can say what each guarantee costs per event.

This box's speed moves 10-40% within minutes (the same code measured 65 and 111
us per event in one A/B), so the figures that targets judge are taken the way
`timeit` takes them: the full engine pass runs ENGINE_PASSES times and the best
is the figure (other load only ever adds time; the median is reported beside
it), and the 2-against-1-process ratio is the median of alternated pairs, each
pair measured back to back.

`python -m bench.engine_only [--orders N] [--passes engine,...] [--processes 1,2]
[--no-freeze]` runs it alone; --processes K runs the tasks split over K OS
processes at once (task p in process p % K) and reports the combined rate.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import tempfile
import time
import zlib
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from bench.saga_env import PIPELINE, patched_environ
from bench.scale import FULL, Scale
from bench.stats import median_pair
from bench.workload import Workload
from eventyard.core.records import SourceMessage
from eventyard.operators.decode import Inbound
from eventyard.operators.merge import EventTimeMerge, MergeBounds
from eventyard.operators.task import Task, TaskSettings
from eventyard.pipelines import get_pipeline
from eventyard.runtime.collector import collect_between_batches, settle_collector
from eventyard.runtime.flow import budget_store_memory, build_decoder, build_operators
from eventyard.state import StateDirectory, TaskStore

__all__ = ["run", "measure", "batches_of"]

_PARTITIONS = 4  # = tasks
_BATCH = 500
ENGINE_PASSES = 3
# 5, not 3: 14 pairs ranged 1.56-1.83x around a median of 1.675x (benchmarks.md,
# session 19), and a median of 3 fell below 1.6x in 2 of 6 runs.
SCALING_PAIRS = 5


def batches_of(orders: int, now_ms: int) -> list[list[SourceMessage]]:
    parts: dict[tuple[str, int], list[SourceMessage]] = defaultdict(list)
    records = list(Workload(orders=orders).records())
    # Stamped as a producer stamps them (CreateTime, in the order they were sent,
    # in the past): the merge can order the topics, as it does end to end.
    for i, r in enumerate(records):
        partition = zlib.crc32(r.key or b"") % _PARTITIONS
        queue = parts[(r.topic, partition)]
        queue.append(SourceMessage(r.topic, partition, len(queue), r.key, r.value, r.headers,
                                   now_ms - len(records) + i))
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


def measure(work: Path, batches: list[list[SourceMessage]], engine: dict[str, object] | None = None,
            apply: bool = True, tasks: list[int] | None = None, freeze: bool = True,
            barrier: object = None) -> dict[str, float]:
    """One pass over `batches` (those of `tasks` only, default all): events, seconds,
    CPU seconds of the process and of Python's thread, wall start and end."""
    env = {"EVENTYARD_STATE__DIR": str(work / "state"), "EVENTYARD_RECOVERY__DIR": str(work / "recovery")}
    with patched_environ(env):
        definition = get_pipeline(PIPELINE)
        settings = definition.settings()
    numbers = list(range(_PARTITIONS)) if tasks is None else tasks
    batches = [b for b in batches if b[0].partition in numbers]
    state = settings.state
    # As build_flow: the memory budget is shared by the tasks of this process.
    budget_store_memory(settings, len(numbers))
    directory = StateDirectory(state.dir, settings.name, _PARTITIONS)
    directory.ensure()
    operators = build_operators(definition, settings)
    for op_engine in operators:
        op_engine.config = replace(op_engine.config, **(engine or {}))  # type: ignore[arg-type]
    decoder = build_decoder(definition, settings)
    inputs = list(settings.pipeline.inputs)
    bounds = MergeBounds(settings.pipeline.merge_max_records, settings.pipeline.merge_max_bytes)
    task_settings = TaskSettings(settings.name, settings.pipeline.dead_letter, state.outbox_retention,
                                 state.dedup_retention, state.sync_at_snapshot)
    by_number = {n: Task(n, TaskStore.open(directory.task_path(n), n, create=True), operators, decoder,
                         EventTimeMerge([(topic, n) for topic in inputs], bounds), task_settings)
                 for n in numbers}
    events = sum(len(b) for b in batches)
    outputs = 0
    if freeze:
        settle_collector()  # as a worker does once start-up is done
    if barrier is not None:
        barrier.wait()  # type: ignore[attr-defined]
    wall0, started, cpu, thread = time.time(), time.perf_counter(), time.process_time(), time.thread_time()
    left = defaultdict(int)  # records not offered yet, per input partition
    for batch in batches:
        left[(batch[0].topic, batch[0].partition)] += len(batch)
    for batch in batches:
        if freeze:
            collect_between_batches()  # as a worker's task source does before each batch
        if not apply:
            for msg in batch:
                item = decoder(msg)
                if isinstance(item, Inbound):
                    operators.deliveries(item)
            continue
        task = by_number[batch[0].partition]
        task.offer(batch)
        tp = (batch[0].topic, batch[0].partition)
        left[tp] -= len(batch)
        now_ms = int(time.time() * 1000)
        # As a reader reports it: read up to its newest record, or caught up (the wall
        # clock) once its partition has no more.
        task.merge.set_input_time(*tp, now_ms if left[tp] == 0 else batch[-1].timestamp_ms)
        for topic in inputs:
            if left[(topic, task.number)] == 0:
                task.merge.set_input_time(topic, task.number, now_ms)
        outputs += len(task.run(now_ms))
    elapsed = time.perf_counter() - started
    cpu, thread = time.process_time() - cpu, time.thread_time() - thread
    wall1 = time.time()
    for task in by_number.values():
        assert not apply or len(task.merge) == 0, "the merge held records back"
        task.close()
    return {"events": events, "seconds": elapsed, "cpu_s": cpu, "thread_s": thread,
            "outputs": outputs, "wall0": wall0, "wall1": wall1}


def _figures(prefix: str, m: dict[str, float]) -> dict[str, float]:
    events = m["events"]
    return {f"{prefix}.events_per_s": events / m["seconds"], f"{prefix}.cpu_us_per_event": 1e6 * m["cpu_s"] / events,
            f"{prefix}.main_thread_us_per_event": 1e6 * m["thread_s"] / events}


def _child(batches: list[list[SourceMessage]], tasks: list[int], barrier: object, queue: object) -> None:
    work = Path(tempfile.mkdtemp(prefix="eventyard-bench-engine-"))
    try:
        queue.put(measure(work, batches, tasks=tasks, barrier=barrier))  # type: ignore[attr-defined]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def in_processes(batches: list[list[SourceMessage]], processes: int) -> dict[str, float]:
    """The tasks split over `processes` OS processes run at once (task p in process
    p % processes); the rate is all events over first start to last end."""
    # Not fork: a parent that has used RocksDB has its background threads, which a
    # forked child lacks (closing a store then waits forever).
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(processes), ctx.Queue()
    children = [ctx.Process(target=_child, args=(batches, [p for p in range(_PARTITIONS) if p % processes == i],
                                                 barrier, queue)) for i in range(processes)]
    for c in children:
        c.start()
    got = [queue.get(timeout=1800) for _ in children]
    for c in children:
        c.join()
    events = sum(m["events"] for m in got)
    span = max(m["wall1"] for m in got) - min(m["wall0"] for m in got)
    return {"events": events, "events_per_s": events / span,
            "thread_us_per_event": 1e6 * sum(m["thread_s"] for m in got) / events}


def _one_pass(batches: list[list[SourceMessage]], tweak: dict[str, object] | None, apply: bool) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="eventyard-bench-engine-"))
    try:
        return measure(work, batches, tweak, apply)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(scale: Scale) -> dict[str, float]:
    batches = batches_of(scale.saga_orders * 2, int(time.time() * 1000))
    figures: dict[str, float] = {"engine.events": sum(len(b) for b in batches)}
    engine = sorted((_one_pass(batches, None, True) for _ in range(ENGINE_PASSES)), key=lambda m: m["thread_s"])
    figures.update(_figures("engine", engine[0]))
    figures["engine.passes"] = len(engine)
    figures["engine.median_main_thread_us_per_event"] = 1e6 * engine[len(engine) // 2]["thread_s"] / engine[0]["events"]
    passes: list[tuple[str, dict[str, object] | None, bool]] = [
        *((f"engine.{name}", tweak, True) for name, tweak in _VARIANTS.items()), ("engine.decode_route", None, False)]
    for prefix, tweak, apply in passes:
        figures.update(_figures(prefix, _one_pass(batches, tweak, apply)))
    # The engine in tasks over 2 processes against 1, no broker (issue 14: >= 1.6x),
    # in alternated pairs; the median pair's figures.
    pairs = [(in_processes(batches, 1), in_processes(batches, 2)) for _ in range(SCALING_PAIRS)]
    one, two = median_pair(pairs)
    figures.update({"engine.1p.events_per_s": one["events_per_s"], "engine.2p.events_per_s": two["events_per_s"],
                    "engine.2p_vs_1p": two["events_per_s"] / one["events_per_s"], "engine.scaling_pairs": len(pairs)})
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=FULL.saga_orders * 2)
    parser.add_argument("--passes", default="engine", help="engine, no_decisions, no_outbox, no_outputs, decode_route")
    parser.add_argument("--processes", default="", help="comma-separated process counts, e.g. 1,2")
    parser.add_argument("--no-freeze", action="store_true", help="skip gc.freeze() after start-up")
    args = parser.parse_args()
    batches = batches_of(args.orders, int(time.time() * 1000))
    print(f"events={sum(len(b) for b in batches)}", flush=True)
    for name in filter(None, args.passes.split(",")):
        work = Path(tempfile.mkdtemp(prefix="eventyard-bench-engine-"))
        try:
            m = measure(work, batches, _VARIANTS.get(name), name != "decode_route", freeze=not args.no_freeze)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(" ".join(f"{k}={v:,.1f}" for k, v in _figures(name, m).items()), f"outputs={m['outputs']}", flush=True)
    for k in filter(None, args.processes.split(",")):
        m = in_processes(batches, int(k))
        print(f"processes={k} events_per_s={m['events_per_s']:,.0f} thread_us_per_event={m['thread_us_per_event']:.1f}",
              flush=True)


if __name__ == "__main__":
    main()
