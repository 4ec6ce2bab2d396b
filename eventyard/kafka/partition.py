"""PartitionReader: what every transport's reader of one topic-partition does the same way.

A transport only fetches (without blocking) and reports the high watermark of its
latest fetch response; this base turns that into the next offset to resume from,
`next_awake` backoff, input time (how far the partition has been read, in event
time) and edge metrics, so both transports share one definition of "caught up".
A task (eventyard.runtime.task_source) holds one reader per input topic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timezone

from eventyard.config import KafkaSettings
from eventyard.core.errors import TopicMissingError
from eventyard.core.records import SourceMessage
from eventyard.kafka.meter import PartitionMeter

__all__ = ["PartitionReader", "missing_input"]


def missing_input(settings: KafkaSettings, topic: str) -> TopicMissingError:
    return TopicMissingError(f"input topic {topic!r} does not exist on {settings.bootstrap_servers}: "
                             "create it with `eventyard topics create PIPELINE`")


class PartitionReader(ABC):
    """One Kafka topic-partition, read from `next_offset` (None: kafka.start_from)."""

    def __init__(self, settings: KafkaSettings, topic: str, partition: int, pipeline: str,
                 next_offset: int | None) -> None:
        self.topic = topic
        self.partition = partition
        self._next_offset = next_offset
        self._backoff = settings.idle_backoff
        self._awake: datetime | None = None
        self._newest_ts = 0
        self._idle = False  # the latest fetch returned nothing
        self._meter = PartitionMeter(pipeline, topic, partition)

    @abstractmethod
    def fetch(self) -> list[SourceMessage]:
        """Records ready now, in offset order; must not block (bytewax runs every
        operator on this thread)."""

    @abstractmethod
    def highwater(self) -> int | None:
        """High watermark of the latest fetch response; None before one returned."""

    @abstractmethod
    def position(self) -> int:
        """Next offset the client will return; asked only before any record was read."""

    @abstractmethod
    def close(self) -> None:
        """Stop reading the partition (the shared client closes with its last reader)."""

    def read(self) -> list[SourceMessage]:
        """Records ready now (never blocks); updates what `input_time_ms` reports."""
        records = self.fetch()
        if records:
            self._idle = False
            self._awake = None
            self._next_offset = records[-1].offset + 1
            self._newest_ts = max(self._newest_ts, max(m.timestamp_ms for m in records))
            self._meter.read(len(records))
            self._meter.lag(self.highwater(), self._next_offset)
        else:
            self._idle = True
            self._awake = datetime.now(timezone.utc) + self._backoff
        return records

    def input_time_ms(self, now_ms: int) -> int:
        """How far this partition has been read in event time: the wall clock once
        caught up, else the newest record timestamp read."""
        if self._idle and self._caught_up():
            return now_ms
        return self._newest_ts

    def _caught_up(self) -> bool:
        # Fetch responses carry an exact high watermark on real Kafka and on the
        # embedded broker alike, unlike the embedded broker's ListOffsets (DESIGN.md).
        highwater = self.highwater()
        if highwater is None:
            return False
        offset = self._next_offset if self._next_offset is not None else self.position()
        self._meter.lag(highwater, offset)
        return offset >= highwater

    def next_awake(self) -> datetime | None:
        """None: read again at once; else when (after an empty fetch, `idle_backoff`)."""
        return self._awake

    def next_offset(self) -> int:
        """Where to read from again after a restart (what a task snapshots)."""
        if self._next_offset is None:
            self._next_offset = self.position()
        return self._next_offset
