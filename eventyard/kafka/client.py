"""Small kafka-python helpers shared by every reader at the edge."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from eventyard.config import KafkaSettings
from eventyard.core.errors import KafkaUnavailableError
from eventyard.core.records import SourceMessage

__all__ = ["source_message", "caught_up", "kafka_errors", "fetch_wanted", "assign_below_cap"]


@contextmanager
def kafka_errors(settings: KafkaSettings) -> Iterator[None]:
    """Client errors while connecting (no broker, timeouts, auth) as one EventyardError."""
    try:
        yield
    except KafkaError as exc:
        raise KafkaUnavailableError(
            f"cannot use Kafka at {settings.bootstrap_servers}: {exc} "
            "(check kafka.bootstrap_servers and the security settings)"
        ) from exc


def source_message(m: ConsumerRecord) -> SourceMessage:
    """A client record as the transport-neutral value the rest of Eventyard sees."""
    return SourceMessage(m.topic, m.partition, m.offset, m.key, m.value,
                         tuple((k, v or b"") for k, v in (m.headers or ())), m.timestamp)


def caught_up(consumer: KafkaConsumer, tp: TopicPartition) -> bool:
    """True once the position reached the high watermark of a fetch response.

    Fetch responses carry an exact high watermark on real Kafka and on the embedded
    broker alike, unlike the embedded broker's ListOffsets answer (short by up to a
    producer batch, DESIGN.md). None means no fetch has returned yet.
    """
    highwater = consumer.highwater(tp)
    return highwater is not None and consumer.position(tp) >= highwater


def fetch_wanted(buffered: int, fetching: bool, cap: int) -> bool:
    """Whether a partition with `buffered` records waiting should be fetched: while
    under `cap`, and once over it, not again until drained to half (no flapping)."""
    return buffered < (cap if fetching else cap // 2)


def assign_below_cap(consumer: KafkaConsumer, assigned: set[TopicPartition], buffered: Mapping[TopicPartition, int],
                     cap: int, position: Callable[[TopicPartition], int | None]) -> set[TopicPartition]:
    """Flow control of a consumer shared by several partition buffers; returns the new assignment.

    A partition is fetched while its buffer holds fewer than `cap` records; once
    over, it leaves the assignment until drained to half, and comes back at
    `position(tp)` (None: where the consumer already is). By assignment, not
    `pause()`: kafka-python 3.0.12 can keep a resumed partition's records parked
    for good. Partitions staying assigned keep their fetch state.
    """
    wanted = {tp for tp, count in buffered.items() if fetch_wanted(count, tp in assigned, cap)}
    if wanted != assigned:
        consumer.assign(sorted(wanted))
        for tp in wanted - assigned:
            offset = position(tp)
            if offset is not None:
                consumer.seek(tp, offset)
    return wanted
