"""TaskSource: the pipeline's bytewax input, one source partition per task.

Task p reads partition p of every input topic and runs the workflow and the
operators right there, in the worker process bytewax gave the partition to, so
no event crosses processes (bytewax's stateful steps would hash keys over
workers). What the partition emits is what the task published: output records,
dead letters and decisions, which the sink writes from the same process.

The snapshot of a task is where to read each topic from again (the oldest record
still waiting in the event-time merge, else the next offset) plus the outbox
sequence emitted so far. bytewax takes it at the end of an epoch, after the sink
flushed the epoch's records, so a resumed task re-emits only the outbox entries
that may not have reached Kafka, and records it applied before are skipped by
its store's watermarks.

This module and eventyard.runtime.flow are the only places that know bytewax.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from eventyard.core.records import OutRecord
from eventyard.kafka.partition import PartitionReader
from eventyard.observe import metrics
from eventyard.operators.task import Task
from eventyard.runtime.collector import collect_between_batches
from eventyard.runtime.thread_state import keep_thread_state

__all__ = ["TaskSource", "TaskPartition", "task_part", "parse_task_part"]

log = logging.getLogger(__name__)

Item = tuple[str, list[OutRecord]]  # one per task run: its records, in order
ReaderFactory = Callable[[str, int, int | None], PartitionReader]
TaskFactory = Callable[[int, dict[str, Any] | None], Task]


def task_part(task: int) -> str:
    return f"task-{task:05d}"


def parse_task_part(name: str) -> int:
    return int(name.removeprefix("task-"))


class TaskPartition(StatefulSourcePartition[Item, dict[str, Any]]):
    def __init__(self, task: Task, readers: list[PartitionReader], read_cap: int, backoff: timedelta,
                 pipeline: str) -> None:
        self.task = task
        self.readers = readers
        self._read_cap = read_cap  # records waiting in the merge before a partition is read again
        self._backoff = backoff
        self._busy = True
        self._latency = metrics.BATCH_LATENCY.labels(pipeline, "task")

    def next_batch(self) -> list[Item]:
        collect_between_batches()  # the last batch's objects are gone: a collection walks few
        try:
            return self._next_batch()
        except Exception:
            # In a cluster bytewax reports a Python error only as "Send thread panic"
            # in every worker: log it where it happens, with its traceback.
            log.exception("task %d failed", self.task.number)
            raise

    def _next_batch(self) -> list[Item]:
        started = time.perf_counter()
        task, merge = self.task, self.task.merge
        now_ms = int(time.time() * 1000)
        busy = False
        for reader in self.readers:
            if merge.buffered(reader.topic, reader.partition) >= self._read_cap:
                busy = True  # enough of it waits for the others: read them first
                continue
            records = reader.read()
            if records:
                task.offer(records)
                busy = True
            merge.set_input_time(reader.topic, reader.partition, reader.input_time_ms(now_ms))
        out = task.run(now_ms)
        self._busy = busy or bool(out)
        self._latency.observe(time.perf_counter() - started)
        # One item for the run's records, not one per record: bytewax's per-item work
        # (part_fn, routing, batching) was per output record.
        return [("", out)] if out else []

    def next_awake(self) -> datetime | None:
        if self._busy:
            return None
        now = datetime.now(timezone.utc)
        awake = now + self._backoff
        due = self.task.next_due()
        # A due time in the past that run() could not act on (a partition has not
        # vouched for it yet) must not busy-loop the worker (bytewax #578).
        if due is not None and now < due < awake:
            return due
        return awake

    def snapshot(self) -> dict[str, Any]:
        try:
            return self._snapshot()
        except Exception:
            log.exception("task %d: snapshot failed", self.task.number)
            raise

    def _snapshot(self) -> dict[str, Any]:
        read_next = {(r.topic, r.partition): r.next_offset() for r in self.readers}
        offsets = self.task.merge.resume_offsets(read_next)
        return {"offsets": {topic: offset for (topic, _), offset in offsets.items()},
                "outbox_seq": self.task.snapshot()}

    def close(self) -> None:
        for reader in self.readers:
            reader.close()
        self.task.close()


class TaskSource(FixedPartitionedSource[Item, dict[str, Any]]):
    """`tasks` partitions, each built from its readers (one per input topic) and its Task."""

    def __init__(self, topics: list[str], tasks: int, readers: ReaderFactory, build_task: TaskFactory,
                 read_cap: int, backoff: timedelta, pipeline: str) -> None:
        self.topics = topics
        self.tasks = tasks
        self._readers = readers
        self._build_task = build_task
        self._read_cap = read_cap
        self._backoff = backoff
        self._pipeline = pipeline

    def list_parts(self) -> list[str]:
        return [task_part(p) for p in range(self.tasks)]

    def build_part(self, step_id: str, for_part: str, resume_state: dict[str, Any] | None) -> TaskPartition:
        keep_thread_state()  # bytewax builds partitions in the worker thread that runs them
        number = parse_task_part(for_part)
        offsets = resume_state["offsets"] if resume_state else {}
        task = self._build_task(number, resume_state)
        readers: list[PartitionReader] = []
        try:
            for topic in self.topics:
                readers.append(self._readers(topic, number, offsets.get(topic)))
        except BaseException:
            for reader in readers:
                reader.close()
            task.close()
            raise
        return TaskPartition(task, readers, self._read_cap, self._backoff, self._pipeline)
