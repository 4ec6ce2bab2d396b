"""Fetched records straight into `SourceMessage`s, for the worker's kafka-python consumer.

kafka-python reads a fetch response's records one at a time in Python (a
`DefaultRecord` per record, then a `ConsumerRecord`, then Eventyard's
`SourceMessage`): ~5 us of the worker's thread per input event (benchmarks.md).
`SourcePartitionRecords` takes the place of its `Fetcher.PartitionRecords` in
one consumer (`install`): a fetch holding only plain v2 batches (uncompressed,
no control batch, nothing a read-committed consumer would filter) is read batch
by batch with `batch_records` (compiled where it was built), each batch's CRC
checked as kafka-python checks it; any other fetch goes through kafka-python's
own reader, its records turned into `SourceMessage`s afterwards. Either way
the consumer's `poll()` returns `SourceMessage`s, with the fetch position, the
leader epoch and the skipping of records before the fetch offset left to
kafka-python as before.

`waiting_on_fetches` tells the worker's consumer when a `poll()` could hand out
nothing. Like the appender, this module reads and subclasses kafka-python
internals, so it acts only on the releases it was checked against (`SUPPORTED`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import kafka
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import Fetcher
from kafka.errors import CorruptRecordError
from kafka.protocol.consumer.offsets import IsolationLevel
from kafka.record.default_records import DefaultRecordBase
from kafka.record.util import calc_crc32c

from eventyard.core.records import SourceMessage
from eventyard.kafka.client import source_message
from eventyard.kafka.record_v2 import batch_records

__all__ = ["SourcePartitionRecords", "install", "plain_batches", "supported", "waiting_on_fetches", "fetched_so_far",
           "send_fetches", "ALL_FETCHED", "SUPPORTED"]

SUPPORTED = ("3.0.",)

_HEADER = DefaultRecordBase.HEADER_STRUCT  # the 61-byte v2 batch header
_LENGTH_END = 12  # a batch's length counts the bytes after its base offset and length
_CRC_FROM = DefaultRecordBase.ATTRIBUTES_OFFSET
_NOT_PLAIN = DefaultRecordBase.CODEC_MASK | DefaultRecordBase.CONTROL_MASK
_LOG_APPEND_TIME = DefaultRecordBase.TIMESTAMP_TYPE_MASK
_TRANSACTIONAL = DefaultRecordBase.TRANSACTIONAL_MASK

# (start, end, header fields) of one complete batch in a fetch's bytes
Batch = tuple[int, int, tuple[Any, ...]]


def plain_batches(buf: bytes, read_committed: bool = False) -> list[Batch] | None:
    """The complete batches of `buf` (a trailing partial one left out, as kafka-python
    leaves it), or None unless every one is a v2 batch this module reads itself."""
    batches: list[Batch] = []
    pos, size = 0, len(buf)
    while pos + _HEADER.size <= size:
        header = _HEADER.unpack_from(buf, pos)  # its first four fields are where every format agrees
        length, magic, attributes = header[1], header[3], header[5]
        end = pos + _LENGTH_END + length
        if end > size:
            break
        if magic != 2 or length < _HEADER.size - _LENGTH_END:
            return None
        if attributes & _NOT_PLAIN or (read_committed and attributes & _TRANSACTIONAL):
            return None
        batches.append((pos, end, header))
        pos = end
    return batches


class SourcePartitionRecords(Fetcher.PartitionRecords):  # type: ignore[misc]
    """kafka-python's fetched records of one partition, as `SourceMessage`s."""

    def _unpack_records(self, tp: Any, records: Any, key_deserializer: Any,
                        value_deserializer: Any) -> Iterator[SourceMessage]:
        buf = records._buffer if type(records._buffer) is bytes else bytes(records._buffer)
        batches = None
        if key_deserializer is None and value_deserializer is None:
            batches = plain_batches(buf, read_committed=self.isolation_level != IsolationLevel.READ_UNCOMMITTED)
        if batches is None:
            for record in super()._unpack_records(tp, records, key_deserializer, value_deserializer):
                yield source_message(record)
            return
        topic, partition = tp.topic, tp.partition
        for start, end, header in batches:
            base_offset, _, leader_epoch, _, crc, attributes, last_delta, first_ts, max_ts = header[:9]
            if self.check_crcs and calc_crc32c(memoryview(buf)[start + _CRC_FROM:end]) != crc:
                raise CorruptRecordError(f"Record batch for partition {tp} at offset {base_offset} failed crc check")
            self.leader_epoch = leader_epoch
            try:
                messages = batch_records(buf, start + _HEADER.size, end, header[12], base_offset, first_ts,
                                         max_ts if attributes & _LOG_APPEND_TIME else -1, topic, partition,
                                         SourceMessage)
            except ValueError as exc:
                raise CorruptRecordError(f"Record batch for partition {tp} at offset {base_offset}: {exc}") from None
            self.records_read += len(messages)
            self.bytes_read += end - start
            for message in messages:
                self.next_fetch_offset = message.offset + 1
                yield message
            # v2 keeps a batch's last offset even when compaction removed its record:
            # the next fetch starts after it (as kafka-python's reader does).
            self.next_fetch_offset = base_offset + last_delta + 1
        self.drain()


def supported() -> bool:
    """Is the installed kafka-python one this module was checked against?"""
    return kafka.__version__.startswith(SUPPORTED)


def install(consumer: KafkaConsumer) -> bool:
    """Make `consumer.poll()` return `SourceMessage`s read by this module; False (and
    nothing changed) on a kafka-python release it was not checked against."""
    fetcher = getattr(consumer, "_fetcher", None)
    if not supported() or fetcher is None or getattr(fetcher, "PartitionRecords", None) is not Fetcher.PartitionRecords:
        return False
    fetcher.PartitionRecords = SourcePartitionRecords
    return True


def _nothing_buffered(fetcher: Any) -> bool:
    """No fetched records to hand out and no fetch error due to be raised."""
    return (not fetcher._completed_fetches and not fetcher._next_partition_records
            and fetcher._next_in_line_exception_metadata is None)


def waiting_on_fetches(consumer: KafkaConsumer, partitions: Iterable[TopicPartition]) -> bool:
    """True when a `poll()` now could hand out nothing: no fetched data is buffered or
    due to be raised, and every broker leading one of `partitions` (the assigned ones)
    has a fetch in flight, so poll() would send none either.

    kafka-python's `poll(timeout_ms=0)` would still block on a round trip to its
    network thread to find that out, and leave behind a timeout exception whose
    traceback holds the caller's frames, with the batch of records and outputs in
    them, until the garbage collector finds the cycle (benchmarks.md, session 17).
    False on a release this module was not checked against: then poll() decides.
    """
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None or not supported():
        return False
    if not _nothing_buffered(fetcher) or not fetcher.in_flight_fetches():
        return False
    return _leaders_fetching(fetcher, partitions)


def _leaders_fetching(fetcher: Any, partitions: Iterable[TopicPartition]) -> bool:
    """Every broker leading one of `partitions` has a fetch in flight (an unknown
    leader has none)."""
    pending, cluster = fetcher._nodes_with_pending_fetch_requests, fetcher._manager.cluster
    return all(cluster.leader_for_partition(tp) in pending for tp in partitions)


# More records than a fetch response holds: a drain takes every one kafka-python fetched.
ALL_FETCHED = 1 << 30


def fetched_so_far(consumer: KafkaConsumer,
                   partitions: Iterable[TopicPartition]) -> dict[TopicPartition, list[Any]] | None:
    """Every record the consumer has fetched, handed out without `poll()`'s wait and
    without its next fetch requests (`send_fetches` sends those). None when poll()
    has more to do: an offset reset or validation pending for one of `partitions`
    (the assigned ones), a leader unknown, or a release this module was not checked
    against.

    poll(timeout_ms=0) hands out the same records and, when it has none, waits 0 ms
    for the fetches it just sent, which times out: the timeout exception's traceback
    holds the caller's frames (see waiting_on_fetches), once per fetch round, until
    a collection. A worker collected 4,000-17,000 such objects per young collection,
    a batch's outputs among them (session 19).

    All of them, not max_poll_records: a partition that leaves the assignment (its
    reader's buffer is full) loses what kafka-python still holds of it, and reads it
    again later. Handed out 500 at a time, a worker received each input byte 2.3
    times (session 20). kafka-python bounds what it holds: one fetch response per
    broker, max_partition_fetch_bytes per partition."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None or not supported():
        return None
    assignment, cluster = consumer._subscription.assignment, fetcher._manager.cluster
    for tp in partitions:
        state = assignment.get(tp)
        leader = cluster.leader_for_partition(tp)
        if state is None or not state.is_fetchable() or leader is None or leader == -1:
            return None
    records, _ = fetcher.fetched_records(ALL_FETCHED, update_offsets=True)
    return records  # type: ignore[no-any-return]


def send_fetches(consumer: KafkaConsumer, partitions: Iterable[TopicPartition]) -> None:
    """Fetch requests to each broker leading one of `partitions` that has none in
    flight, as poll() pipelines the next round (it fetches only partitions it holds
    no records of). Leaves unknown leaders and pending resets to poll()."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None or not supported():
        return
    if not _leaders_fetching(fetcher, partitions):
        fetcher.send_fetches()
