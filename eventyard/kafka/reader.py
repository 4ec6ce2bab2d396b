"""Bounded reading of topics: from a start point until caught up.

"Caught up" is decided by fetching, not by the reported end offset: the embedded
broker's ListOffsets answer can be short by up to one producer batch (DESIGN.md),
so a partition is done only when a fetch returned nothing more and the position
has reached the high watermark that fetch responses carry (exact on both).

One consumer reads every partition (`SharedFetch`): a fetch request covers all of
them at once, where one consumer per partition paid a connect and a blocking poll
per partition and waited on each in turn (replay's merged reader did ~800 records/s).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from eventyard.config import KafkaSettings
from eventyard.core.errors import TopicMissingError
from eventyard.kafka.client import FIRST_OFFSET, assign_below_cap, caught_up, source_message
from eventyard.core.records import SourceMessage

__all__ = ["PartitionStream", "SharedFetch", "open_streams", "merged", "read_topic"]

# A read ends with a fetch that returns nothing: kafka-python's poll waits out its
# whole timeout for one, and the broker holds an empty fetch for fetch_max_wait.
# 300 ms and 100 ms made reading an empty topic take 0.31 s and the end of every
# read wait ~0.25 s (replay of 106,684 events: -p 2 in 2.95-3.11 s, now 2.56-2.60).
_EMPTY_POLL_MS = 50
_FETCH_MAX_WAIT_MS = 20
_MAX_POLL_RECORDS = 5000
# A partition whose buffer holds this many records is paused until its buffer is
# drained to half of it: a merge can lag far behind one partition (memory bound).
_BUFFER_CAP = 20_000


class SharedFetch:
    """One consumer assigned every partition of a read; fills each stream's buffer.

    A partition leaves the assignment when done, or when its buffer is full
    (`assign_below_cap`), and comes back at its stream's position.
    """

    def __init__(self, consumer: KafkaConsumer) -> None:
        self.consumer = consumer
        self.streams: dict[TopicPartition, PartitionStream] = {}
        self._assigned: set[TopicPartition] = set()
        self._closed = False

    def poll(self) -> None:
        """One fetch for every partition not done and not over its buffer cap."""
        self._flow_control()
        batches = self.consumer.poll(timeout_ms=_EMPTY_POLL_MS, max_records=_MAX_POLL_RECORDS)
        for tp in self._assigned:
            stream = self.streams[tp]
            batch = batches.get(tp)
            if batch:
                stream.take(batch)
            # Only after a fetch that returned nothing: a high watermark reached
            # by the records just taken proved not enough on the embedded broker
            # (a replay then missed the last decisions of a partition).
            elif caught_up(self.consumer, tp):
                stream.done = True

    def _flow_control(self) -> None:
        buffered = {tp: len(stream.buffer) for tp, stream in self.streams.items() if not stream.done}
        self._assigned = assign_below_cap(self.consumer, self._assigned, buffered, _BUFFER_CAP,
                                          lambda tp: self.streams[tp].position)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.consumer.close()


@dataclass
class PartitionStream:
    fetch: SharedFetch
    tp: TopicPartition
    start: int
    end: int  # as reported when opened; progress only, not the stop condition
    since_ms: int | None = None  # records older than this are skipped
    done: bool = False

    def __post_init__(self) -> None:
        self.buffer: deque[SourceMessage] = deque()
        self.position = self.start
        self.fetch.streams[self.tp] = self

    def take(self, batch: list) -> None:  # type: ignore[type-arg]
        since = self.since_ms
        self.buffer.extend(source_message(m) for m in batch if since is None or m.timestamp >= since)
        self.position = batch[-1].offset + 1

    def fill(self) -> bool:
        """Fetch more (for every partition of the read); False when this one is exhausted."""
        while not self.buffer and not self.done:
            self.fetch.poll()
        return bool(self.buffer)

    def close(self) -> None:
        self.fetch.close()


def open_streams(settings: KafkaSettings, topics: list[str], since_ms: int | None = None,
                 only: set[int] | None = None) -> list[PartitionStream]:
    """One stream per partition of `topics` (`only` these partition numbers, if given)."""
    meta = KafkaConsumer(**settings.client_options())
    try:
        tps = []
        for topic in topics:
            partitions = meta.partitions_for_topic(topic)
            if not partitions:
                raise TopicMissingError(f"topic {topic!r} does not exist on {settings.bootstrap_servers}")
            tps += [TopicPartition(topic, p) for p in sorted(partitions) if only is None or p in only]
        ends = meta.end_offsets(tps)
        starts = {tp: FIRST_OFFSET for tp in tps}  # not the broker's EARLIEST answer: seek_to_first
        if since_ms is not None:
            # Trust only an answer at or after the time asked for: past the last
            # record real Kafka answers None, the embedded broker offset 0 with
            # timestamp -1. Otherwise read from the start; older records are skipped.
            found = meta.offsets_for_times({tp: since_ms for tp in tps})
            starts = {tp: found[tp].offset if found.get(tp) and found[tp].timestamp >= since_ms
                      else starts[tp] for tp in tps}
    finally:
        meta.close()
    consumer = KafkaConsumer(**settings.client_options(), enable_auto_commit=False,
                             auto_offset_reset="earliest",  # offset 0 past retention: the log start
                             max_poll_records=_MAX_POLL_RECORDS, fetch_max_wait_ms=_FETCH_MAX_WAIT_MS)
    fetch = SharedFetch(consumer)  # assigns and seeks on its first poll
    return [PartitionStream(fetch, tp, starts[tp], ends[tp], since_ms) for tp in tps]


def merged(streams: list[PartitionStream],
           key: Callable[[SourceMessage], tuple]) -> Iterator[SourceMessage]:
    """K-way merge of partition streams by `key` (each stream is in offset order)."""
    heap: list[tuple[tuple, int]] = []
    for i, stream in enumerate(streams):
        if stream.fill():
            heapq.heappush(heap, (key(stream.buffer[0]), i))
    while heap:
        _, i = heapq.heappop(heap)
        stream = streams[i]
        yield stream.buffer.popleft()
        if stream.fill():
            heapq.heappush(heap, (key(stream.buffer[0]), i))


def read_topic(settings: KafkaSettings, topic: str) -> Iterator[SourceMessage]:
    """Every record of `topic`, partition by partition, until caught up."""
    streams = open_streams(settings, [topic])
    try:
        for stream in streams:
            while stream.fill():
                while stream.buffer:
                    yield stream.buffer.popleft()
    finally:
        for stream in streams:
            stream.close()
