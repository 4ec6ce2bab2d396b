"""The confluent-kafka reader of one topic-partition: same contract as the kafka-python one.

The partitions of one worker process share one librdkafka consumer
(eventyard.kafka.confluent_consumer), assigned (never subscribed) at the offsets
from the tasks' snapshots; `consume(timeout=0)` never blocks. The high watermark
comes from the consumer's cache, which librdkafka updates from every fetch
response (like kafka-python's `highwater`), not from ListOffsets.
"""

from __future__ import annotations

from eventyard.config import KafkaSettings
from eventyard.kafka.confluent_consumer import worker_consumers
from eventyard.kafka.partition import PartitionReader
from eventyard.core.records import SourceMessage

__all__ = ["ConfluentSourcePartition"]


class ConfluentSourcePartition(PartitionReader):
    """One topic-partition, read through the worker process's shared consumer."""

    def __init__(self, settings: KafkaSettings, topic: str, partition: int, resume: int | None,
                 pipeline: str) -> None:
        self._settings = settings
        self._pool = worker_consumers(pipeline)
        self._shared = self._pool.acquire(settings)
        try:
            start = self._shared.add(topic, partition, resume)
        except BaseException:
            self._pool.release(settings)
            raise
        super().__init__(settings, topic, partition, pipeline, start)

    def fetch(self) -> list[SourceMessage]:
        return self._shared.take(self.topic, self.partition)

    def highwater(self) -> int | None:
        return self._shared.highwater(self.topic, self.partition)

    def position(self) -> int:
        # Not reached: the start offset is resolved when the partition is added.
        assert self._next_offset is not None
        return self._next_offset

    def close(self) -> None:
        self._shared.remove(self.topic, self.partition)
        self._pool.release(self._settings)
