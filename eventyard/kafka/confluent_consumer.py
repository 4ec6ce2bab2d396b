"""ConfluentWorkerConsumer: one librdkafka consumer for every input partition of a worker process.

A consumer per topic-partition (the first design) meant librdkafka's threads,
connections and prefetch queue per partition: 48 partitions cost +37 MB and
193 threads in a probe, all taking the GIL from the dataflow thread for their
callbacks. One consumer fetches every partition the worker reads; each bytewax
source partition takes its own records from a buffer the shared `consume()` fills.

Flow control is the kafka-python consumer's rule (`fetch_wanted`) with librdkafka's
pause/resume: a paused partition's prefetched records are dropped by librdkafka,
and a resumed one is fetched again from the offset after the last record
`consume()` returned, which is the offset after its buffer. What a pause drops is
at most what one fetch of that partition brought, so fetches are kept small
(`max.partition.fetch.bytes`, confluent_client.py).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from eventyard.config import KafkaSettings
from eventyard.kafka.client import fetch_wanted
from eventyard.kafka.confluent_client import confluent_kafka, consumer_config, unavailable
from eventyard.kafka.partition import missing_input
from eventyard.kafka.pool import SharedClients
from eventyard.core.records import SourceMessage

__all__ = ["ConfluentWorkerConsumer", "worker_consumers"]

_log = logging.getLogger("eventyard.kafka.confluent")
_METADATA_TIMEOUT_S = 15

Partition = tuple[str, int]


class ConfluentWorkerConsumer:
    def __init__(self, settings: KafkaSettings, pipeline: str) -> None:
        self._ck = confluent_kafka()
        self._settings = settings
        self._max_records = settings.max_poll_records
        # Buffered records per partition before it is paused; see WorkerConsumer.
        self._cap = 2 * settings.max_poll_records
        self.consumer = self._ck.Consumer(consumer_config(settings, pipeline))
        self._buffers: dict[Partition, deque[SourceMessage]] = {}
        self._paused: set[Partition] = set()

    # -- partitions ----------------------------------------------------------------
    def add(self, topic: str, partition: int, resume: int | None) -> int:
        """Read a partition from `resume` (None: settings.start_from); returns the start offset."""
        key = (topic, partition)
        if key in self._buffers:
            raise ValueError(f"{topic}[{partition}] is read twice in one worker process")
        # A concrete offset, so the first snapshot has one even before any record.
        start = resume if resume is not None else self._start_offset(topic, partition)
        self.consumer.incremental_assign([self._ck.TopicPartition(topic, partition, start)])
        self._buffers[key] = deque()
        return start

    def remove(self, topic: str, partition: int) -> bool:
        """Stop reading a partition; True when none is left (the consumer may close)."""
        if self._buffers.pop((topic, partition), None) is not None:
            self.consumer.incremental_unassign([self._ck.TopicPartition(topic, partition)])
        self._paused.discard((topic, partition))
        return not self._buffers

    # -- reading -----------------------------------------------------------------
    def take(self, topic: str, partition: int) -> list[SourceMessage]:
        """Up to max_poll_records of a partition ready now (consuming for every partition
        if it has none); never blocks."""
        key = (topic, partition)
        buffer = self._buffers[key]
        if not buffer:
            self._consume()
        records = [buffer.popleft() for _ in range(min(len(buffer), self._max_records))]
        if key in self._paused and fetch_wanted(len(buffer), False, self._cap):
            self.consumer.resume([self._ck.TopicPartition(topic, partition)])
            self._paused.discard(key)
        return records

    def highwater(self, topic: str, partition: int) -> int | None:
        """High watermark of the latest fetch response (librdkafka's cache); None before one."""
        high = self.consumer.get_watermark_offsets(self._ck.TopicPartition(topic, partition), cached=True)[1]
        return high if high >= 0 else None

    def close(self) -> None:
        self.consumer.close()

    # -- internals ---------------------------------------------------------------------
    def _start_offset(self, topic: str, partition: int) -> int:
        try:
            low, high = self.consumer.get_watermark_offsets(self._ck.TopicPartition(topic, partition),
                                                            timeout=_METADATA_TIMEOUT_S)
        except self._ck.KafkaException as exc:
            raise unavailable(self._settings, exc) from exc
        return low if self._settings.start_from == "earliest" else high

    def _consume(self) -> None:
        filled: set[Partition] = set()
        for m in self.consumer.consume(self._max_records, 0):
            error = m.error()
            if error is not None:
                self._on_error(error, m.topic(), m.partition())
                continue
            key = (m.topic(), m.partition())
            buffer = self._buffers.get(key)
            if buffer is None:
                continue  # removed meanwhile
            headers = m.headers()
            buffer.append(SourceMessage(key[0], key[1], m.offset(), m.key(), m.value(),
                                        tuple((k, v or b"") for k, v in headers) if headers else (),
                                        m.timestamp()[1]))
            filled.add(key)
        full = [key for key in filled
                if key not in self._paused and not fetch_wanted(len(self._buffers[key]), True, self._cap)]
        if full:
            self.consumer.pause([self._ck.TopicPartition(*key) for key in full])
            self._paused.update(full)

    def _on_error(self, error: Any, topic: str | None, partition: int | None) -> None:
        if error.code() == self._ck.KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise missing_input(self._settings, topic or "?")
        if error.fatal():
            raise unavailable(self._settings, self._ck.KafkaException(error))
        # Transient (broker down, leader moving): librdkafka retries by itself.
        _log.warning("%s[%s]: %s", topic, partition, error.str())


# One per process, pipeline and settings value, shared by the worker's source partitions.
_POOLS: dict[str, SharedClients[ConfluentWorkerConsumer]] = {}


def worker_consumers(pipeline: str) -> SharedClients[ConfluentWorkerConsumer]:
    """The pool of `pipeline`'s consumers (the pipeline names librdkafka's group.id)."""
    if pipeline not in _POOLS:
        _POOLS[pipeline] = SharedClients(lambda settings: ConfluentWorkerConsumer(settings, pipeline),
                                         lambda consumer: consumer.close())
    return _POOLS[pipeline]
