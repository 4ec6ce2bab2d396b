"""A keyed Kafka sink with headers; durable at bytewax epoch boundaries.

Records are sent asynchronously as they arrive; `snapshot()` (called at the end
of every epoch, before the epoch's input offsets commit) flushes the producer and
raises if any send failed, so a committed epoch never has unpublished output.
Flushing per epoch instead of per batch keeps throughput (DESIGN.md 6).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bytewax.outputs import StatefulSinkPartition
from kafka import KafkaProducer

from eventyard.config import KafkaSettings
from eventyard.kafka.appender import BatchAppender
from eventyard.kafka.client import kafka_errors
from eventyard.kafka.edge_sink import EdgeSink
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
            max_request_size=4 * 1024 * 1024,
            retries=2**31 - 1,
            max_in_flight_requests_per_connection=1,  # keep per-key order across retries
            partitioner=KeyHashPartitioner(),
            metrics_enabled=False,  # its sensors cost ~4% of the sender thread; Eventyard exports its own metrics
        )


# One KafkaProducer per process, shared by every sink partition in it.
ProducerPool: SharedClients[KafkaProducer] = SharedClients(_producer, lambda producer: producer.close())


class KafkaSinkPartition(StatefulSinkPartition[OutRecord, None]):
    def __init__(self, settings: KafkaSettings, pipeline: str) -> None:
        self._settings = settings
        self._producer = ProducerPool.acquire(settings)
        self._appender = BatchAppender(self._producer, self._failed)
        self._meter = OutMeter(pipeline)
        self._failure: BaseException | None = None
        self._topics_known: set[str] = set()

    def _failed(self, exc: BaseException) -> None:
        self._failure = self._failure or exc

    def write_batch(self, values: list[OutRecord]) -> None:
        with self._one_wakeup(values):
            self._appender.append(values)
        self._meter.count(values)

    @contextmanager
    def _one_wakeup(self, values: list[OutRecord]) -> Iterator[None]:
        """Wake the producer's sender thread once per batch, not once per new producer batch.

        `send()` wakes the sender (a socket write) whenever it opens a batch for a
        partition; the woken thread then takes the GIL from the dataflow. With the
        saga's outputs spread over many partitions that was most sends: traced at
        ~11% of a worker's thread in 2-process runs, waiting for the GIL right after
        that write. Only while every topic's metadata is known: waiting for
        metadata needs the wake-up at once.
        """
        sender = getattr(self._producer, "_sender", None)
        metadata = getattr(self._producer, "_metadata", None)
        if sender is None or metadata is None or not self._known(metadata, values):
            yield
            return
        requested: list[bool] = []
        wakeup, shadowed = sender.wakeup, vars(sender).get("wakeup")
        sender.wakeup = lambda: requested.append(True)  # instance attribute: shadows the method
        try:
            yield
        finally:
            if shadowed is None:
                del sender.wakeup
            else:
                sender.wakeup = shadowed
            if requested:
                wakeup()

    def _known(self, metadata: Any, values: list[OutRecord]) -> bool:
        for topic in {record.topic for record in values} - self._topics_known:
            if not metadata.partitions_for_topic(topic):
                return False
            self._topics_known.add(topic)
        return True

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
