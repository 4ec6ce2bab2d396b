"""A partitioned bytewax source: one source partition per Kafka topic-partition.

Manual assignment, no consumer group: bytewax recovery snapshots hold the next
offset to read, so a resumed partition seeks exactly there.
"""

from __future__ import annotations

from datetime import datetime, timezone

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from kafka import KafkaConsumer, TopicPartition

from config import KafkaSettings
from eventyard.errors import TopicMissingError
from eventyard.kafka.client import caught_up, source_message
from eventyard.records import InputTick, SourceMessage

__all__ = ["KafkaSource", "KafkaSourcePartition"]


def _part_name(topic: str, partition: int) -> str:
    return f"{partition}-{topic}"


class KafkaSourcePartition(StatefulSourcePartition[SourceMessage | InputTick, int]):
    def __init__(self, settings: KafkaSettings, topic: str, partition: int, resume: int | None) -> None:
        self._consumer = KafkaConsumer(
            **settings.client_options(),
            enable_auto_commit=False,
            max_poll_records=settings.max_poll_records,
            fetch_max_wait_ms=100,
        )
        self._tp = TopicPartition(topic, partition)
        self._consumer.assign([self._tp])
        if resume is not None:
            self._consumer.seek(self._tp, resume)
        elif settings.start_from == "earliest":
            self._consumer.seek_to_beginning(self._tp)
        else:
            self._consumer.seek_to_end(self._tp)
        self._next_offset = resume
        self._backoff = settings.idle_backoff
        self._awake: datetime | None = None
        self._tick_every_ms = int(settings.tick_interval.total_seconds() * 1000)
        self._next_tick_ms = 0
        self._newest_ts = 0

    def next_batch(self) -> list[SourceMessage | InputTick]:
        # poll(0) must not block: bytewax runs all operators on this thread.
        batch = self._consumer.poll(timeout_ms=0).get(self._tp, [])
        now = datetime.now(timezone.utc)
        out: list[SourceMessage | InputTick] = [source_message(m) for m in batch]
        if batch:
            self._awake = None
            self._next_offset = batch[-1].offset + 1
            self._newest_ts = max(self._newest_ts, max(m.timestamp for m in batch))
        else:
            self._awake = now + self._backoff
        now_ms = int(now.timestamp() * 1000)
        if now_ms >= self._next_tick_ms:
            self._next_tick_ms = now_ms + self._tick_every_ms
            # Caught up: input time is now. Otherwise it is the newest event read
            # (the tick follows this batch's records in order).
            out.append(InputTick(self._tp.topic, self._tp.partition,
                                 now_ms if not batch and caught_up(self._consumer, self._tp)
                                 else self._newest_ts))
        return out

    def next_awake(self) -> datetime | None:
        return self._awake

    def snapshot(self) -> int | None:
        if self._next_offset is None:
            self._next_offset = self._consumer.position(self._tp)
        return self._next_offset

    def close(self) -> None:
        self._consumer.close()


class KafkaSource(FixedPartitionedSource[SourceMessage | InputTick, int]):
    def __init__(self, settings: KafkaSettings, topics: list[str]) -> None:
        self.settings = settings
        self.topics = topics

    def list_parts(self) -> list[str]:
        consumer = KafkaConsumer(**self.settings.client_options())
        try:
            parts = []
            for topic in self.topics:
                partitions = consumer.partitions_for_topic(topic)
                if not partitions:
                    raise TopicMissingError(
                        f"input topic {topic!r} does not exist on {self.settings.bootstrap_servers}: "
                        "create it with `eventyard topics create PIPELINE`"
                    )
                parts += [_part_name(topic, p) for p in sorted(partitions)]
            return parts
        finally:
            consumer.close()

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> KafkaSourcePartition:
        partition, topic = for_part.split("-", 1)
        return KafkaSourcePartition(self.settings, topic, int(partition), resume_state)


