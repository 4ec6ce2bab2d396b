"""The kafka-python reader of one topic-partition, and the partition counts of topics.

Manual assignment, no consumer group: a task's recovery snapshot holds the next
offset to read, so a resumed partition seeks exactly there. The partitions of one
worker process share one consumer (eventyard.kafka.worker_consumer). Input time
and metrics are shared with the confluent transport (eventyard.kafka.partition).
"""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition

from eventyard.config import KafkaSettings
from eventyard.kafka.client import kafka_errors
from eventyard.kafka.partition import PartitionReader, missing_input
from eventyard.kafka.worker_consumer import WorkerConsumers
from eventyard.core.records import SourceMessage

__all__ = ["KafkaSourcePartition", "partition_counts"]


class KafkaSourcePartition(PartitionReader):
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
        return self._shared.take(self._tp)

    def highwater(self) -> int | None:
        return self._shared.highwater(self._tp)

    def position(self) -> int:
        return self._shared.position(self._tp)

    def close(self) -> None:
        self._shared.remove(self._tp)
        WorkerConsumers.release(self._settings)


def partition_counts(settings: KafkaSettings, topics: list[str]) -> dict[str, int]:
    """Partitions of each topic; a missing topic raises TopicMissingError."""
    with kafka_errors(settings):
        consumer = KafkaConsumer(**settings.client_options())
        try:
            counts = {}
            for topic in topics:
                partitions = consumer.partitions_for_topic(topic)
                if not partitions:
                    raise missing_input(settings, topic)
                counts[topic] = len(partitions)
            return counts
        finally:
            consumer.close()
