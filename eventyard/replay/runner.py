"""One replay: read decisions, merge inputs by timestamp, rebuild, report progress."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterable
from queue import Empty
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaProducer

from eventyard.config import EventyardSettings
from eventyard.kafka.reader import PartitionStream, merged, open_streams, read_topic
from eventyard.core.records import OutRecord
from eventyard.replay.decisions import DecisionLog
from eventyard.replay.rebuild import Rebuilder, RebuildStats
from eventyard.operators.decisions import merge_key
from eventyard.pipelines.definition import PipelineDefinition
from eventyard.core.errors import EventyardError
from eventyard.runtime.flow import budget_store_memory, input_tasks
from eventyard.state import StateDirectory
from eventyard.state.store import stores_opened_here

__all__ = ["ReplayProgress", "ReplayResult", "ReplayFailed", "run_replay"]


class ReplayFailed(EventyardError):
    """A replay process failed; the rebuilt directory is incomplete."""


@dataclass(frozen=True)
class ReplayProgress:
    done: int  # offsets consumed, all partitions
    total: int  # offsets to consume as reported at the start
    partitions: dict[str, tuple[int, int]]  # "topic[p]" -> (offsets done, offsets to do)
    events_per_s: float


@dataclass(frozen=True)
class ReplayResult:
    stats: RebuildStats
    decisions: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.stats.events / self.seconds if self.seconds else 0.0


def _progress(streams: list[PartitionStream], started: float, events: int) -> ReplayProgress:
    parts = {f"{s.tp.topic}[{s.tp.partition}]": (s.position - s.start, max(s.end, s.position) - s.start)
             for s in streams}
    done = sum(position for position, _ in parts.values())
    total = sum(end for _, end in parts.values())
    return ReplayProgress(done, total, parts, events / max(time.monotonic() - started, 1e-9))


def run_replay(definition: PipelineDefinition, settings: EventyardSettings, target: Path, *,
               since_ms: int | None = None, emit: bool = False, aggregate: str | None = None,
               on_progress: Callable[[ReplayProgress], None] | None = None,
               processes: int = 1) -> ReplayResult:
    """Rebuild every task store into `target`. With `processes` > 1 the tasks are
    split over that many OS processes (task p in process p mod N), each reading only
    its tasks' partitions: a task's state depends on its own partitions alone, so
    the result is the same as one process's."""
    started = time.monotonic()
    tasks = input_tasks(settings, definition)
    StateDirectory(target, settings.name, tasks).ensure()
    processes = 1 if aggregate is not None else max(1, min(processes, tasks))
    if processes == 1:
        stats, decisions = _replay_tasks(definition, settings, target, None, since_ms, emit, aggregate, tasks,
                                         on_progress, started)
        return ReplayResult(stats, decisions, time.monotonic() - started)
    if stores_opened_here():
        raise ReplayFailed(
            f"run_replay(processes={processes}) forks its workers, and this process has opened RocksDB "
            "stores already: their background threads do not survive fork, so the workers would hang. "
            "Call it from a process that has not (as `eventyard replay -p N` does), or with processes=1")
    return _replay_in_processes(definition, settings, target, since_ms, emit, tasks, processes, on_progress,
                                started)


def _replay_tasks(definition: PipelineDefinition, settings: EventyardSettings, target: Path,
                  only: set[int] | None, since_ms: int | None, emit: bool, aggregate: str | None, tasks: int,
                  on_progress: Callable[[ReplayProgress], None] | None,
                  started: float) -> tuple[RebuildStats, int]:
    budget_store_memory(settings, len(only) if only is not None else tasks)
    decisions = DecisionLog.from_records(read_topic(settings.kafka, settings.pipeline.decisions))
    producer = KafkaProducer(**settings.kafka.client_options(), linger_ms=5) if emit else None

    def send(records: list[OutRecord]) -> None:
        assert producer is not None
        for r in records:
            producer.send(r.topic, key=r.key, value=r.value, headers=list(r.headers))

    rebuilder = Rebuilder(definition, settings, target, decisions, send if producer else None, aggregate, tasks)
    streams = open_streams(settings.kafka, definition.task_inputs(settings), since_ms, only)
    try:
        for n, msg in enumerate(merged(streams, merge_key), 1):
            rebuilder.feed(msg)
            if on_progress and n % 500 == 0:
                on_progress(_progress(streams, started, n))
        stats = rebuilder.finish()
        if on_progress:
            on_progress(_progress(streams, started, stats.events))
        if producer:
            producer.flush()
    finally:
        rebuilder.close()
        for stream in streams:
            stream.close()
        if producer:
            producer.close()
    return stats, decisions.records


def _replay_in_processes(definition: PipelineDefinition, settings: EventyardSettings, target: Path,
                         since_ms: int | None, emit: bool, tasks: int, processes: int,
                         on_progress: Callable[[ReplayProgress], None] | None, started: float) -> ReplayResult:
    # fork: the children inherit the pipeline definition and settings as they are
    # (a settings class made at run time cannot be pickled); nothing of RocksDB or
    # Kafka is open in this process yet.
    context = multiprocessing.get_context("fork")
    queue = context.Queue()

    def child(index: int) -> None:
        only = {task for task in range(tasks) if task % processes == index}
        try:
            def report(p: ReplayProgress) -> None:
                queue.put(("progress", index, p))
            stats, decisions = _replay_tasks(definition, settings, target, only, since_ms, emit, None, tasks,
                                             report, started)
            queue.put(("done", index, (stats, decisions)))
        except BaseException as exc:  # reported by the parent, which fails the replay
            queue.put(("error", index, f"{type(exc).__name__}: {exc}"))

    children = [context.Process(target=child, args=(i,), name=f"replay-{i}") for i in range(processes)]
    for process in children:
        process.start()
    latest: dict[int, ReplayProgress] = {}
    results: dict[int, tuple[RebuildStats, int]] = {}
    try:
        while len(results) < processes:
            try:
                kind, index, payload = queue.get(timeout=1.0)
            except Empty:
                dead = [p for p in children if p.exitcode not in (None, 0)]
                if dead:
                    raise ReplayFailed(f"replay process {dead[0].name} died with exit code {dead[0].exitcode}")
                continue
            if kind == "error":
                raise ReplayFailed(f"replay process {index} failed: {payload}")
            if kind == "progress":
                latest[index] = payload
                if on_progress:
                    on_progress(_combined(latest.values(), started))
            else:
                results[index] = payload
    finally:
        for process in children:
            if process.is_alive() and len(results) < processes:
                process.terminate()
            process.join()
    total = RebuildStats()
    for stats, _ in results.values():
        for name in ("events", "applied", "dead_letters", "timers_fired", "held"):
            setattr(total, name, getattr(total, name) + getattr(stats, name))
    return ReplayResult(total, max(d for _, d in results.values()), time.monotonic() - started)


def _combined(parts: Iterable[ReplayProgress], started: float) -> ReplayProgress:
    """One view of every process's progress (their partitions are disjoint)."""
    partitions: dict[str, tuple[int, int]] = {}
    for p in parts:
        partitions.update(p.partitions)
    done = sum(position for position, _ in partitions.values())
    total = sum(end for _, end in partitions.values())
    return ReplayProgress(done, total, partitions, sum(p.events_per_s for p in parts))
