"""The kafka-python source: one bytewax source partition per Kafka topic-partition.

Manual assignment, no consumer group: bytewax recovery snapshots hold the next
offset to read, so a resumed partition seeks exactly there. Batching, ticks and
metrics are shared with the confluent transport (eventyard.kafka.partition).
"""

from __future__ import annotations

from bytewax.inputs import FixedPartitionedSource
from kafka import KafkaConsumer, TopicPartition

from config import KafkaSettings
from eventyard.kafka.client import kafka_errors, source_message
from eventyard.kafka.partition import EdgeSourcePartition, missing_input, parse_part, part_name
from eventyard.records import InputTick, SourceMessage

__all__ = ["KafkaSource", "KafkaSourcePartition"]


class KafkaSourcePartition(EdgeSourcePartition):
    def __init__(self, settings: KafkaSettings, topic: str, partition: int, resume: int | None,
                 pipeline: str) -> None:
        with kafka_errors(settings):
            self._consumer = KafkaConsumer(
                **settings.client_options(),
                enable_auto_commit=False,
                auto_offset_reset=settings.start_from,  # a resumed offset past retention
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
        super().__init__(settings, topic, partition, pipeline, resume)

    def fetch(self) -> list[SourceMessage]:
        return [source_message(m) for m in self._consumer.poll(timeout_ms=0).get(self._tp, ())]

    def highwater(self) -> int | None:
        return self._consumer.highwater(self._tp)

    def position(self) -> int:
        return self._consumer.position(self._tp)

    def close(self) -> None:
        self._consumer.close()


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
