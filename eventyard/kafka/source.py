"""The kafka-python source: one bytewax source partition per Kafka topic-partition.

Manual assignment, no consumer group: bytewax recovery snapshots hold the next
offset to read, so a resumed partition seeks exactly there. The partitions of one
worker process share one consumer (eventyard.kafka.worker_consumer). Batching, ticks and
metrics are shared with the confluent transport (eventyard.kafka.partition).
"""

from __future__ import annotations

from bytewax.inputs import FixedPartitionedSource
from kafka import KafkaConsumer, TopicPartition

from eventyard.config import KafkaSettings
from eventyard.kafka.client import kafka_errors, source_message
from eventyard.kafka.partition import EdgeSourcePartition, missing_input, parse_part, part_name
from eventyard.kafka.worker_consumer import WorkerConsumers
from eventyard.core.records import InputTick, SourceMessage

__all__ = ["KafkaSource", "KafkaSourcePartition"]


class KafkaSourcePartition(EdgeSourcePartition):
    """One topic-partition, read through the worker process's shared consumer."""

    def __init__(self, settings: KafkaSettings, topic: str, partition: int, resume: int | None,
                 pipeline: str) -> None:
        self._settings = settings
        self._tp = TopicPartition(topic, partition)
        self._shared = WorkerConsumers.acquire(settings)
        try:
            self._shared.add(self._tp, resume)
        except BaseException:
            WorkerConsumers.release(settings)
            raise
        super().__init__(settings, topic, partition, pipeline, resume)

    def fetch(self) -> list[SourceMessage]:
        return [source_message(m) for m in self._shared.take(self._tp)]

    def highwater(self) -> int | None:
        return self._shared.highwater(self._tp)

    def position(self) -> int:
        return self._shared.position(self._tp)

    def close(self) -> None:
        self._shared.remove(self._tp)
        WorkerConsumers.release(self._settings)


class KafkaSource(FixedPartitionedSource[SourceMessage | InputTick, int]):
    def __init__(self, settings: KafkaSettings, topics: list[str], pipeline: str = "eventyard") -> None:
        self.settings = settings
        self.topics = topics
        self.pipeline = pipeline  # metrics label

    def list_parts(self) -> list[str]:
        with kafka_errors(self.settings):
            consumer = KafkaConsumer(**self.settings.client_options())
            try:
                parts = []
                for topic in self.topics:
                    partitions = consumer.partitions_for_topic(topic)
                    if not partitions:
                        raise missing_input(self.settings, topic)
                    parts += [part_name(topic, p) for p in sorted(partitions)]
                return parts
            finally:
                consumer.close()

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> KafkaSourcePartition:
        topic, partition = parse_part(for_part)
        return KafkaSourcePartition(self.settings, topic, partition, resume_state, self.pipeline)
