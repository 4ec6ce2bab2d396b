"""WorkerConsumer: one kafka-python consumer for every input partition of a worker process.

A consumer per topic-partition (the first design) meant a socket, a network
thread and a `poll()` per partition: 48 partitions cost 48 threads fighting
for the GIL with the dataflow, +18 MB, and a fetch request each. One consumer
fetches every partition the worker reads in one request; each bytewax source
partition takes its own records from a buffer the shared fetch fills.

Flow control is the reader's (`assign_below_cap`): a partition whose buffer is
full leaves the assignment and comes back, at the offset after its buffered
records, once its buffer is drained to half. Every fetched record is taken into
the buffers first, so a partition that leaves loses no fetched record: a buffer
holds at most its cap plus one fetch response (kafka-python's
max_partition_fetch_bytes, 1 MB by default).

Records arrive as `SourceMessage`s, read out of the fetch responses by
eventyard.kafka.fetched (or converted after kafka-python read them, on a release
that module was not checked against).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from eventyard.config import KafkaSettings
from eventyard.core.records import SourceMessage
from eventyard.kafka import fetched
from eventyard.kafka.client import assign_below_cap, kafka_errors, source_message
from eventyard.kafka.pool import SharedClients

__all__ = ["WorkerConsumer", "WorkerConsumers"]

# poll() does more than fetch: it drives offset resets and validations (KIP-320: a
# leader's epoch moved on). fetched_so_far runs only while none is pending as far
# as it can tell; calling poll() at least this often leaves those checks to it.
_POLL_EVERY_S = 1.0


class WorkerConsumer:
    def __init__(self, settings: KafkaSettings) -> None:
        self._start_from = settings.start_from
        self._max_records = settings.max_poll_records
        # Buffered records per partition before it leaves the fetch. Small on purpose:
        # a partition asleep in next_awake collects others' fetches meanwhile, and a
        # deep buffer handed to bytewax at once kept ~40-120 MB more RSS (bench).
        self._cap = 2 * settings.max_poll_records
        with kafka_errors(settings):
            self.consumer = KafkaConsumer(
                **settings.client_options(),
                enable_auto_commit=False,
                auto_offset_reset=settings.start_from,  # a resumed offset past retention
                max_poll_records=settings.max_poll_records,
                fetch_max_wait_ms=100,
                metrics_enabled=False,  # kafka-python's own sensors: Eventyard exports its own metrics
            )
        self._converted = not fetched.install(self.consumer)  # records come as ConsumerRecords
        self._buffers: dict[TopicPartition, deque[SourceMessage]] = {}
        self._next: dict[TopicPartition, int | None] = {}  # offset after the last record fetched
        # The latest high watermark of each partition: kafka-python forgets it when the
        # partition leaves the assignment (its buffer is full), and lag is asked then too.
        self._highwater: dict[TopicPartition, int] = {}
        self._assigned: set[TopicPartition] = set()
        self._polled = 0.0  # when poll() itself last ran

    # -- partitions ----------------------------------------------------------------
    def add(self, tp: TopicPartition, resume: int | None) -> None:
        """Read `tp` from `resume`, or from settings.start_from when None."""
        if tp in self._buffers:
            raise ValueError(f"{tp} is read twice in one worker process")
        self._buffers[tp] = deque()
        self._next[tp] = resume
        self._reassign()
        if resume is None:
            if self._start_from == "earliest":
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek_to_end(tp)

    def remove(self, tp: TopicPartition) -> bool:
        """Stop reading `tp`; True when no partition is left (the consumer may close)."""
        self._buffers.pop(tp, None)
        self._next.pop(tp, None)
        self._highwater.pop(tp, None)
        self._reassign()
        return not self._buffers

    # -- reading -----------------------------------------------------------------
    def take(self, tp: TopicPartition) -> list[SourceMessage]:
        """Up to max_poll_records of `tp` ready now (fetching for every partition if it
        has none); never blocks."""
        buffer = self._buffers[tp]
        if not buffer:
            self._poll()
        count = min(len(buffer), self._max_records)
        return [buffer.popleft() for _ in range(count)]

    def highwater(self, tp: TopicPartition) -> int | None:
        if tp in self._assigned:
            self._remember_highwater(tp)
        return self._highwater.get(tp)

    def position(self, tp: TopicPartition) -> int:
        """Offset of the next record `take(tp)` will return."""
        buffer = self._buffers[tp]
        if buffer:
            return int(buffer[0].offset)
        next_offset = self._next[tp]
        if next_offset is None:  # nothing fetched yet: where the consumer starts
            next_offset = self._next[tp] = int(self.consumer.position(tp))
        return next_offset

    def close(self) -> None:
        self.consumer.close()

    # -- internals ---------------------------------------------------------------------
    def _poll(self) -> None:
        self._reassign()
        if fetched.waiting_on_fetches(self.consumer, self._assigned):
            return  # nothing to hand out yet; see waiting_on_fetches
        now = time.monotonic()
        batches = None
        if now - self._polled < _POLL_EVERY_S:  # poll() itself now and then: see _POLL_EVERY_S
            batches = fetched.fetched_so_far(self.consumer, self._assigned)
        if batches is None:
            # poll() too hands out every record fetched (see fetched.fetched_so_far), and
            # sends the next fetches itself: a partition it filled leaves at once, and
            # what a fetch in flight brings for it is dropped (at most once a second).
            self._keep(self.consumer.poll(timeout_ms=0, max_records=fetched.ALL_FETCHED))
            self._polled = now
            self._reassign()
            return
        self._keep(batches)
        # Partitions these records filled leave before the next fetches go out, so
        # nothing is fetched for them that would be dropped.
        self._reassign()
        fetched.send_fetches(self.consumer, self._assigned)

    def _keep(self, batches: dict[TopicPartition, list[Any]]) -> None:
        for tp, records in batches.items():
            buffer = self._buffers.get(tp)
            if buffer is not None and records:
                buffer.extend(map(source_message, records) if self._converted else records)
                self._next[tp] = records[-1].offset + 1
                self._remember_highwater(tp)

    def _remember_highwater(self, tp: TopicPartition) -> None:
        highwater = self.consumer.highwater(tp)
        if highwater is not None:
            self._highwater[tp] = highwater

    def _reassign(self) -> None:
        buffered = {tp: len(buffer) for tp, buffer in self._buffers.items()}
        self._assigned = assign_below_cap(self.consumer, self._assigned, buffered, self._cap, self._next.get)


# One per process and settings value, shared by the worker's source partitions.
WorkerConsumers: SharedClients[WorkerConsumer] = SharedClients(WorkerConsumer, lambda c: c.close())
