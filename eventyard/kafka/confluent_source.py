"""The confluent-kafka source: same contract as eventyard.kafka.source.KafkaSource.

One librdkafka consumer per topic-partition, assigned (never subscribed) at the
offset from the bytewax snapshot; `consume(timeout=0)` never blocks. The high
watermark comes from the consumer's cache, which librdkafka updates from every
fetch response (like kafka-python's `highwater`), not from ListOffsets.
"""

from __future__ import annotations

import logging
from typing import Any

from bytewax.inputs import FixedPartitionedSource

from config import KafkaSettings
from eventyard.kafka.confluent_client import confluent_kafka, consumer_config, unavailable
from eventyard.kafka.partition import EdgeSourcePartition, missing_input, parse_part, part_name
from eventyard.records import InputTick, SourceMessage

__all__ = ["ConfluentSource", "ConfluentSourcePartition"]

_log = logging.getLogger("eventyard.kafka.confluent")
_METADATA_TIMEOUT_S = 15


class ConfluentSourcePartition(EdgeSourcePartition):
    def __init__(self, settings: KafkaSettings, topic: str, partition: int, resume: int | None,
                 pipeline: str) -> None:
        self._ck = confluent_kafka()
        self._settings = settings
        self._consumer = self._ck.Consumer(consumer_config(settings, pipeline))
        self._tp = self._ck.TopicPartition(topic, partition)
        self._max = settings.max_poll_records
        start = resume if resume is not None else self._start_offset(settings.start_from)
        self._consumer.assign([self._ck.TopicPartition(topic, partition, start)])
        super().__init__(settings, topic, partition, pipeline, start)

    def _start_offset(self, start_from: str) -> int:
        # A concrete offset, so the first snapshot has one even before any record.
        try:
            low, high = self._consumer.get_watermark_offsets(self._tp, timeout=_METADATA_TIMEOUT_S)
        except self._ck.KafkaException as exc:
            raise unavailable(self._settings, exc) from exc
        return low if start_from == "earliest" else high

    def fetch(self) -> list[SourceMessage]:
        topic, partition = self.topic, self.partition
        out = []
        for m in self._consumer.consume(self._max, 0):
            if m.error() is not None:
                self._on_error(m.error())
                continue
            headers = m.headers()
            out.append(SourceMessage(topic, partition, m.offset(), m.key(), m.value(),
                                     tuple((k, v or b"") for k, v in headers) if headers else (),
                                     m.timestamp()[1]))
        return out

    def _on_error(self, error: Any) -> None:
        if error.code() == self._ck.KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise missing_input(self._settings, self.topic)
        if error.fatal():
            raise unavailable(self._settings, self._ck.KafkaException(error))
        # Transient (broker down, leader moving): librdkafka retries by itself.
        _log.warning("%s[%s]: %s", self.topic, self.partition, error.str())

    def highwater(self) -> int | None:
        high = self._consumer.get_watermark_offsets(self._tp, cached=True)[1]
        return high if high >= 0 else None

    def position(self) -> int:
        # Not reached: the start offset is resolved in __init__.
        assert self._next_offset is not None
        return self._next_offset

    def close(self) -> None:
        self._consumer.close()


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
