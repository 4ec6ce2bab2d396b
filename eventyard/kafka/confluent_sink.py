"""The confluent-kafka sink: same contract as eventyard.kafka.sink.KafkaSink.

Records are queued in librdkafka as they arrive; `snapshot()` (end of every epoch,
before the epoch's input offsets commit) flushes and raises if any delivery
failed, so a committed epoch never has unpublished output. No flush per batch
(DESIGN.md 6).
"""

from __future__ import annotations

from typing import Any

from bytewax.outputs import StatefulSinkPartition

from eventyard.config import KafkaSettings
from eventyard.kafka.confluent_client import confluent_kafka, producer_config, unavailable
from eventyard.kafka.edge_sink import EdgeSink, flatten
from eventyard.kafka.meter import OutMeter
from eventyard.kafka.pool import SharedClients
from eventyard.core.records import OutRecord

__all__ = ["ConfluentSink", "ConfluentProducer"]

_QUEUE_FULL_WAIT_S = 0.05


class ConfluentProducer:
    """A librdkafka producer and the first delivery failure since the last flush.

    Delivery reports come only for failures (delivery.report.only.error), so the
    per-record cost of a callback is paid only when something went wrong.
    """

    def __init__(self, settings: KafkaSettings) -> None:
        self._ck = confluent_kafka()
        self.settings = settings
        self.failure: BaseException | None = None
        self.producer = self._ck.Producer({**producer_config(settings),
                                           "delivery.report.only.error": True,
                                           "on_delivery": self._delivered})

    def _delivered(self, error: Any, message: Any) -> None:
        if error is not None and self.failure is None:
            self.failure = self._ck.KafkaException(error)

    def flush(self) -> None:
        """Wait for every queued record; raise the first delivery failure since the last flush."""
        self.producer.flush()
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise RuntimeError(f"publishing to Kafka failed: {failure!r}") from unavailable(self.settings, failure)

    def close(self) -> None:
        self.producer.flush()
        if hasattr(self.producer, "close"):  # confluent-kafka >= 2.5; older ones close on collection
            self.producer.close()


# One producer per process, shared by every sink partition in it: batches fill up.
_PRODUCERS: SharedClients[ConfluentProducer] = SharedClients(ConfluentProducer, ConfluentProducer.close)


class ConfluentSinkPartition(StatefulSinkPartition[list[OutRecord], None]):
    def __init__(self, settings: KafkaSettings, pipeline: str) -> None:
        self._settings = settings
        self._shared = _PRODUCERS.acquire(settings)
        self._meter = OutMeter(pipeline)

    def write_batch(self, values: list[list[OutRecord]]) -> None:
        producer = self._shared.producer
        records = flatten(values)
        for record in records:
            while True:
                try:
                    if record.timestamp_ms is None:
                        producer.produce(record.topic, record.value, record.key,
                                         headers=list(record.headers) if record.headers else None)
                    else:
                        producer.produce(record.topic, record.value, record.key, timestamp=record.timestamp_ms,
                                         headers=list(record.headers) if record.headers else None)
                    break
                except BufferError:
                    # librdkafka's queue is full: let it send before queueing more.
                    producer.poll(_QUEUE_FULL_WAIT_S)
        producer.poll(0)  # serve (failure) delivery reports without waiting
        self._meter.count(records)

    def snapshot(self) -> None:
        self._shared.flush()
        return None

    def close(self) -> None:
        self._shared.producer.flush()
        _PRODUCERS.release(self._settings)


class ConfluentSink(EdgeSink):
    """The confluent-kafka sink (see EdgeSink)."""

    def __init__(self, settings: KafkaSettings, pipeline: str, process: int = 0, processes: int = 1) -> None:
        confluent_kafka()  # fail at build time if it is missing
        super().__init__(settings, pipeline, process, processes)

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> ConfluentSinkPartition:
        return ConfluentSinkPartition(self.settings, self.pipeline)
