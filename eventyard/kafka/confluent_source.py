"""The confluent-kafka source: same contract as eventyard.kafka.source.KafkaSource.

The partitions of one worker process share one librdkafka consumer
(eventyard.kafka.confluent_consumer), assigned (never subscribed) at the offsets
from the bytewax snapshots; `consume(timeout=0)` never blocks. The high watermark
comes from the consumer's cache, which librdkafka updates from every fetch
response (like kafka-python's `highwater`), not from ListOffsets.
"""

from __future__ import annotations

from bytewax.inputs import FixedPartitionedSource

from eventyard.config import KafkaSettings
from eventyard.kafka.confluent_client import confluent_kafka, consumer_config, unavailable
from eventyard.kafka.confluent_consumer import worker_consumers
from eventyard.kafka.partition import EdgeSourcePartition, missing_input, parse_part, part_name
from eventyard.core.records import InputTick, SourceMessage

__all__ = ["ConfluentSource", "ConfluentSourcePartition"]

_METADATA_TIMEOUT_S = 15


class ConfluentSourcePartition(EdgeSourcePartition):
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


class ConfluentSource(FixedPartitionedSource[SourceMessage | InputTick, int]):
    def __init__(self, settings: KafkaSettings, topics: list[str], pipeline: str) -> None:
        confluent_kafka()  # fail at build time, not in a worker thread, if it is missing
        self.settings = settings
        self.topics = topics
        self.pipeline = pipeline

    def list_parts(self) -> list[str]:
        ck = confluent_kafka()
        consumer = ck.Consumer(consumer_config(self.settings, self.pipeline))
        try:
            # All topics, not one: asking for one may auto-create it on some brokers.
            topics = consumer.list_topics(timeout=_METADATA_TIMEOUT_S).topics
        except ck.KafkaException as exc:
            raise unavailable(self.settings, exc) from exc
        finally:
            consumer.close()
        parts = []
        for topic in self.topics:
            meta = topics.get(topic)
            if meta is None or meta.error is not None or not meta.partitions:
                raise missing_input(self.settings, topic)
            parts += [part_name(topic, p) for p in sorted(meta.partitions)]
        return parts

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> ConfluentSourcePartition:
        topic, partition = parse_part(for_part)
        return ConfluentSourcePartition(self.settings, topic, partition, resume_state, self.pipeline)
