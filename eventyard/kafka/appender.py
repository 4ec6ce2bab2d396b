"""BatchAppender: a sink batch of records into kafka-python's accumulator at once.

`KafkaProducer.send()` cost 33-37 us of the worker's thread per record (measured,
docs/benchmarks.md): per record it validates headers, runs the partitioner,
estimates the size, takes the partition's lock, formats a debug-log string and
encodes the record in pure Python. The sink hands over hundreds of records at a
time, so this does per batch what can be done per batch: records are grouped by
partition (the same murmur2 placement as `KeyHashPartitioner`), each partition's
lock is taken once, each record is encoded by the compiled hot path and appended
to a batch the appender opened, exactly as kafka-python's builder appends it.

No one waits on a sink record's outcome, only its failure matters: instead of
send()'s future per record (a lock, two lists and a callback to complete, 10% of
a worker's samples), a batch the appender opens reports its records' failures
in one callback (`_SinkBatch`). Each record leaves only a placeholder (None) in the
batch's `_record_futures`; kafka-python reads that list only when it splits a batch
the broker refused as too large, to rebind each record to its new batch as it
rebinds send()'s futures, and `_Outcomes` then makes the record's two-slot
`_RecordOutcome` on the spot (one object per record cost ~0.5 us of the worker's
thread per event).

This writes into kafka-python's private accumulator structures, so it runs only
with the kafka-python releases it was checked against (`SUPPORTED`), message
format v2 and no transactions; anything else, and any record this path does not
place (no key, topic metadata not yet known), goes through `send()`, in order.

Either way the producer's sender thread is woken once per batch, not once per new
producer batch as `send()` wakes it (a socket write, after which the woken thread
takes the GIL from the dataflow: traced at ~11% of a worker's thread in 2-process
runs when the saga's outputs opened a batch on most sends).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import kafka
from kafka import KafkaProducer
from kafka.errors import IllegalStateError, MessageSizeTooLargeError
from kafka.producer.future import FutureProduceResult
from kafka.producer.producer_batch import ProducerBatch
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecordsBuilder
from kafka.structs import TopicPartition

from eventyard.core.records import OutRecord
from eventyard.kafka.partitioner import key_partition
from eventyard.kafka.record_v2 import encode_record

__all__ = ["BatchAppender", "SUPPORTED", "supports"]

# kafka-python releases whose accumulator layout this was checked against
# (tests/kafka/test_appender.py compares the batches byte for byte with send()'s).
SUPPORTED = ("3.0.",)
_BATCH_HEADER = DefaultRecordBatchBuilder.HEADER_STRUCT.size

OnError = Callable[[BaseException], Any]


class _RecordOutcome:
    """Stands for an appended record in its batch's `_record_futures`, where send()
    leaves a FutureRecordMetadata. kafka-python calls `rebind` when it splits the
    batch; the record then reports its own failure from its new batch."""

    __slots__ = ("index", "_on_error")

    def __init__(self, index: int, on_error: OnError) -> None:
        self.index = index
        self._on_error = on_error

    def rebind(self, produce_future: FutureProduceResult, index: int) -> None:
        self.index = index
        produce_future.add_callback(self.completed)
        produce_future.add_errback(self.failed)

    def completed(self, result: tuple[int, int, Callable[[int], BaseException] | None]) -> None:
        record_errors = result[2]  # set when the batch failed (or was aborted), per record
        if record_errors is not None:
            self._on_error(record_errors(self.index))

    def failed(self, exc: BaseException) -> None:
        self._on_error(exc)


class _Outcomes(list):  # type: ignore[type-arg]
    """A `_SinkBatch`'s `_record_futures`: None for each record the appender placed
    (its index in the batch is its place here), send()'s futures for records send()
    appended. An item read by index, as kafka-python reads them to split the batch,
    is never None: a placed record's `_RecordOutcome` is made then."""

    __slots__ = ("_on_error",)

    def __init__(self, on_error: OnError) -> None:
        super().__init__()
        self._on_error = on_error

    def __getitem__(self, index: Any) -> Any:
        item = super().__getitem__(index)
        if item is None and isinstance(index, int):
            item = _RecordOutcome(index if index >= 0 else len(self) + index, self._on_error)
            self[index] = item
        return item


class _SinkBatch(ProducerBatch):
    """A producer batch the appender opened: one callback completes each record
    appended to it. The appender appends to no other batch (send() opens plain
    ones, so does a split); send() may append to this one, and its records
    report through their own futures."""

    def __init__(self, tp: TopicPartition, records: MemoryRecordsBuilder, now: float, on_error: OnError) -> None:
        super().__init__(tp, records, now=now)
        self._on_error = on_error
        self._record_futures = _Outcomes(on_error)
        self.produce_future.add_callback(self._completed)
        self.produce_future.add_errback(self._failed)

    def _completed(self, result: tuple[int, int, Callable[[int], BaseException] | None]) -> None:
        record_errors = result[2]  # set when the batch failed (or was aborted), per record
        if record_errors is not None:  # nothing to do for records that went out
            for index, outcome in enumerate(self._record_futures):
                if outcome is None:
                    self._on_error(record_errors(index))
                elif type(outcome) is _RecordOutcome:
                    outcome.completed(result)

    def _failed(self, exc: BaseException) -> None:
        for outcome in self._record_futures:
            if outcome is None:
                self._on_error(exc)
            elif type(outcome) is _RecordOutcome:
                outcome.failed(exc)


def supports(producer: KafkaProducer) -> bool:
    """True when `producer`'s accumulator is one this appender can write into."""
    accumulator = getattr(producer, "_accumulator", None)
    transactions = getattr(producer, "_transaction_manager", None)
    return (kafka.__version__.startswith(SUPPORTED) and accumulator is not None
            and accumulator.config.get("message_version") == 2
            and not (transactions is not None and transactions.is_transactional()))


class BatchAppender:
    def __init__(self, producer: KafkaProducer, on_error: OnError, *, fast: bool = True) -> None:
        """`on_error` gets each record's failure; `fast=False` sends every record through send()."""
        self._producer = producer
        self._on_error = on_error
        self.fast = fast and supports(producer)
        self._max_record = int(producer.config["max_request_size"]) - _BATCH_HEADER
        self._topics_known: set[str] = set()

    def append(self, records: list[OutRecord]) -> None:
        """Append `records`, in order per partition; wake the sender once if a batch is ready."""
        if not self.fast:
            with self._one_wakeup(records):
                self._send(records)
            return
        metadata = self._producer._metadata
        counts: dict[str, int] = {}
        # Keyed by plain (topic, partition) tuples: a TopicPartition (a namedtuple, made
        # through a Python-level __new__) per record cost ~0.25 us; one per group now.
        placed: dict[tuple[str, int], list[OutRecord]] = {}
        for record in records:
            count = counts.get(record.topic)
            if count is None:
                partitions = metadata.partitions_for_topic(record.topic)
                # Kafka numbers partitions 0..n-1; anything else, or unknown metadata, takes send()
                count = counts[record.topic] = (len(partitions) if partitions and max(partitions) == len(partitions) - 1
                                                else 0)
            if count == 0 or record.key is None:
                # What is placed so far goes first: a partition's records keep their order.
                if placed:
                    self._append_placed(placed)
                    placed = {}
                self._send([record])
                continue
            where = (record.topic, key_partition(record.key, count))
            group = placed.get(where)
            if group is None:
                placed[where] = [record]
            else:
                group.append(record)
        if placed:
            self._append_placed(placed)

    @contextmanager
    def _one_wakeup(self, records: list[OutRecord]) -> Iterator[None]:
        """send() wakes the sender whenever it opens a producer batch: hold those
        wake-ups and wake it once at the end. Only while every topic's metadata is
        known: a send() waiting for metadata needs the wake-up at once."""
        sender = self._producer._sender
        if not self._known(records):
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

    def _known(self, records: list[OutRecord]) -> bool:
        metadata = self._producer._metadata
        for topic in {record.topic for record in records} - self._topics_known:
            if not metadata.partitions_for_topic(topic):
                return False
            self._topics_known.add(topic)
        return True

    def _send(self, records: list[OutRecord]) -> None:
        send, on_error = self._producer.send, self._on_error
        for record in records:
            send(record.topic, key=record.key, value=record.value, headers=list(record.headers),
                 timestamp_ms=record.timestamp_ms).add_errback(on_error)

    def _append_placed(self, placed: dict[tuple[str, int], list[OutRecord]]) -> None:
        accumulator = self._producer._accumulator
        config = accumulator.config
        now = time.monotonic()
        now_ms = int(time.time() * 1000)
        ready = False
        accumulator._appends_in_progress.increment()
        try:
            for where, group in placed.items():
                tp = TopicPartition(*where)
                with accumulator._tp_lock(tp):
                    if accumulator._closed:
                        raise IllegalStateError("KafkaProducer already closed!")
                    queue = accumulator._batches[tp]
                    # only into a batch it opened: its callback reports every record's failure
                    batch = queue[-1] if queue and type(queue[-1]) is _SinkBatch else None
                    for record in group:
                        timestamp = record.timestamp_ms if record.timestamp_ms is not None else now_ms
                        if batch is None or not self._try_append(batch, record, timestamp, now):
                            batch = _SinkBatch(tp, MemoryRecordsBuilder(
                                config["message_version"], config["compression_attrs"], config["batch_size"]), now,
                                self._on_error)
                            self._try_append(batch, record, timestamp, now)  # a new batch takes any record
                            queue.append(batch)
                            accumulator._incomplete.add(batch)
                            ready = True
                    ready = ready or len(queue) > 1 or bool(queue and queue[-1].records.is_full())
        finally:
            accumulator._appends_in_progress.decrement()
        if ready:
            self._producer._sender.wakeup()

    def _try_append(self, batch: _SinkBatch, record: OutRecord, timestamp: int, now: float) -> bool:
        """What ProducerBatch.try_append -> MemoryRecordsBuilder.append ->
        DefaultRecordBatchBuilder.append do, with the record encoded in one call."""
        records = batch.records
        if records._closed:
            return False
        builder = records._builder
        offset = records._next_offset
        first = builder._first_timestamp
        encoded = encode_record(offset, 0 if first is None else timestamp - first, record.key, record.value,
                                record.headers)  # placed records have a key
        size = len(encoded)
        if first is None:
            if size > self._max_record:
                # as send() refuses it; the records before it stay appended, as after send()
                raise MessageSizeTooLargeError(
                    f"The message is {size} bytes when serialized which is larger than the maximum request "
                    "size you have configured with the max_request_size configuration")
            builder._first_timestamp = builder._max_timestamp = timestamp
        elif size + len(builder._buffer) > builder._batch_size:
            return False
        elif builder._max_timestamp < timestamp:
            builder._max_timestamp = timestamp
        builder._num_records += 1
        builder._last_offset = offset
        builder._buffer += encoded
        records._next_offset = offset + 1
        if size > batch.max_record_size:
            batch.max_record_size = size
        batch.last_append = now
        batch._record_futures.append(None)  # its _RecordOutcome, made if kafka-python asks (_Outcomes)
        return True
