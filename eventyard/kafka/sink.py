"""A keyed Kafka sink with headers; durable at bytewax epoch boundaries.

Records are sent asynchronously as they arrive; `snapshot()` (called at the end
of every epoch, before the epoch's input offsets commit) flushes the producer and
raises if any send failed, so a committed epoch never has unpublished output.
Flushing per epoch instead of per batch keeps throughput (DESIGN.md 6).
"""

from __future__ import annotations

from bytewax.outputs import StatefulSinkPartition
from kafka import KafkaProducer

from eventyard.config import KafkaSettings
from eventyard.kafka.appender import BatchAppender
from eventyard.kafka.client import kafka_errors
from eventyard.kafka.edge_sink import EdgeSink, flatten
from eventyard.kafka.meter import OutMeter
from eventyard.kafka.partitioner import KeyHashPartitioner
from eventyard.kafka.pool import SharedClients
from eventyard.core.records import OutRecord

__all__ = ["KafkaSink", "ProducerPool"]


def _producer(settings: KafkaSettings) -> KafkaProducer:
    with kafka_errors(settings):
        return KafkaProducer(
            **settings.client_options(),
            acks="all",
            linger_ms=int(settings.linger.total_seconds() * 1000),
            batch_size=settings.batch_bytes,
            max_request_size=4 * 1024 * 1024,
            retries=2**31 - 1,
            max_in_flight_requests_per_connection=1,  # keep per-key order across retries
            partitioner=KeyHashPartitioner(),
            metrics_enabled=False,  # its sensors cost ~4% of the sender thread; Eventyard exports its own metrics
        )


# One KafkaProducer per process, shared by every sink partition in it.
ProducerPool: SharedClients[KafkaProducer] = SharedClients(_producer, lambda producer: producer.close())


class KafkaSinkPartition(StatefulSinkPartition[list[OutRecord], None]):
    def __init__(self, settings: KafkaSettings, pipeline: str) -> None:
        self._settings = settings
        self._producer = ProducerPool.acquire(settings)
        self._appender = BatchAppender(self._producer, self._failed)
        self._meter = OutMeter(pipeline)
        self._failure: BaseException | None = None

    def _failed(self, exc: BaseException) -> None:
        self._failure = self._failure or exc

    def write_batch(self, values: list[list[OutRecord]]) -> None:
        records = flatten(values)
        self._appender.append(records)
        self._meter.count(records)

    def snapshot(self) -> None:
        self._producer.flush()
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise RuntimeError(f"publishing to Kafka failed: {failure!r}") from failure
        return None

    def close(self) -> None:
        self._producer.flush()
        ProducerPool.release(self._settings)


class KafkaSink(EdgeSink):
    """The kafka-python sink (see EdgeSink)."""

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> KafkaSinkPartition:
        return KafkaSinkPartition(self.settings, self.pipeline)
