"""Bounded reading of topics: from a start point until caught up.

"Caught up" is decided by fetching, not by the reported end offset: the embedded
broker's ListOffsets answer can be short by up to one producer batch (DESIGN.md),
so a partition is done only when a fetch returned nothing more and the position
has reached the high watermark that fetch responses carry (exact on both).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from config import KafkaSettings
from eventyard.errors import TopicMissingError
from eventyard.kafka.client import caught_up, source_message
from eventyard.records import SourceMessage

__all__ = ["PartitionStream", "open_streams", "merged", "read_topic"]

_EMPTY_POLL_MS = 300


@dataclass
class PartitionStream:
    consumer: KafkaConsumer
    tp: TopicPartition
    start: int
    end: int  # as reported when opened; progress only, not the stop condition
    since_ms: int | None = None  # records older than this are skipped
    done: bool = False

    def __post_init__(self) -> None:
        self.buffer: deque[SourceMessage] = deque()
        self.position = self.start

    def fill(self) -> bool:
        """Fetch more; return False when the partition is exhausted."""
        while not self.buffer and not self.done:
            batch = self.consumer.poll(timeout_ms=_EMPTY_POLL_MS, max_records=5000).get(self.tp, [])
            self.buffer.extend(source_message(m) for m in batch
                               if self.since_ms is None or m.timestamp >= self.since_ms)
            if batch:
                self.position = batch[-1].offset + 1
            elif caught_up(self.consumer, self.tp):
                self.done = True
        return bool(self.buffer)

    def close(self) -> None:
        self.consumer.close()


def open_streams(settings: KafkaSettings, topics: list[str], since_ms: int | None = None) -> list[PartitionStream]:
    meta = KafkaConsumer(**settings.client_options())
    try:
        tps = []
        for topic in topics:
            partitions = meta.partitions_for_topic(topic)
            if not partitions:
                raise TopicMissingError(f"topic {topic!r} does not exist on {settings.bootstrap_servers}")
            tps += [TopicPartition(topic, p) for p in sorted(partitions)]
        ends = meta.end_offsets(tps)
        starts = meta.beginning_offsets(tps)
        if since_ms is not None:
            # Trust only an answer at or after the time asked for: past the last
            # record real Kafka answers None, the embedded broker offset 0 with
            # timestamp -1. Otherwise read from the start; older records are skipped.
            found = meta.offsets_for_times({tp: since_ms for tp in tps})
            starts = {tp: found[tp].offset if found.get(tp) and found[tp].timestamp >= since_ms
                      else starts[tp] for tp in tps}
    finally:
        meta.close()
    streams = []
    for tp in tps:
        consumer = KafkaConsumer(**settings.client_options(), enable_auto_commit=False,
                                 max_poll_records=5000, fetch_max_wait_ms=100)
        consumer.assign([tp])
        consumer.seek(tp, starts[tp])
        streams.append(PartitionStream(consumer, tp, starts[tp], ends[tp], since_ms))
    return streams


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
