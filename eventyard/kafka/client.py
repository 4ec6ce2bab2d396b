"""Small kafka-python helpers shared by every reader at the edge."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from eventyard.config import KafkaSettings
from eventyard.core.errors import KafkaUnavailableError
from eventyard.core.records import SourceMessage

__all__ = ["source_message", "caught_up", "kafka_errors", "fetch_wanted", "assign_below_cap",
           "seek_to_first", "FIRST_OFFSET", "ClosedTransportRead"]

# Where a read "from the beginning" starts. See seek_to_first.
FIRST_OFFSET = 0


class ClosedTransportRead(logging.Filter):
    """Drops kafka-python's ERROR for a read of a transport that was closed.

    kafka-python 3.0.12 closes a connection from the closing thread: the socket is
    shut down (which makes it readable) and only then the read task cancelled, so
    its network thread can wake and read a transport that has no socket any more.
    It logs that AttributeError with a traceback, at ERROR, on a clean shutdown
    (seen once in tests/integration/test_stops.py). Nothing is lost: the close was
    asked for. Any other receive error still reaches the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        transport = record.args[0] if isinstance(record.args, tuple) and record.args else None
        closed = getattr(transport, "_closed", False) is True and getattr(transport, "_sock", 0) is None
        return not (closed and isinstance(exc, AttributeError))


_TRANSPORT_LOG = logging.getLogger("kafka.net.transport")
if not any(isinstance(f, ClosedTransportRead) for f in _TRANSPORT_LOG.filters):
    _TRANSPORT_LOG.addFilter(ClosedTransportRead())


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


def seek_to_first(consumer: KafkaConsumer, tps: Iterable[TopicPartition]) -> None:
    """Read each partition from its first record: offset 0, which a consumer with
    `auto_offset_reset="earliest"` moves on to the log start if retention deleted it.

    Not `seek_to_beginning` (ListOffsets EARLIEST): the embedded broker answered that
    wrong (60, 90 and 135 for partitions whose first record was at 0) after several
    producers' first batches to one partition raced, and a read from there skipped
    every record before it (seen as a CI failure: outputs "missing" from a topic).
    """
    reset = consumer.config.get("auto_offset_reset")
    if reset != "earliest":  # offset 0 past retention would then jump to the end, skipping records
        raise ValueError(f"seek_to_first needs a consumer made with auto_offset_reset='earliest', not {reset!r}")
    for tp in tps:
        consumer.seek(tp, FIRST_OFFSET)


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
