"""Fetched records read into SourceMessages: exactly what kafka-python reads, faster.

The worker's consumer reads fetch responses with eventyard.kafka.fetched instead of
kafka-python's record reader; a record read differently (an offset, a timestamp, a
header) would be applied as a different event, so the reader is checked against
kafka-python's own over generated batches, with both twins of `batch_records`.
"""

from __future__ import annotations

import gc
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import Fetcher
from kafka.errors import CorruptRecordError, KafkaTimeoutError
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords
from kafka.record.util import calc_crc32c

from eventyard.config import KafkaSettings
from eventyard.core.records import SourceMessage
from eventyard.kafka import create_topics, fetched, record_v2
from eventyard.kafka.client import source_message
from eventyard.kafka import worker_consumer
from eventyard.kafka.worker_consumer import WorkerConsumers

try:
    from eventyard.core import _native  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - only where the build had no compiler or OpenSSL
    _native = None

TP = TopicPartition("orders", 3)
blobs = st.none() | st.binary(max_size=40)
records = st.lists(st.tuples(st.integers(0, 10**6), blobs, blobs,  # timestamp delta, key, value
                             st.lists(st.tuples(st.text(max_size=12), blobs), max_size=3)), min_size=1, max_size=6)
READERS = [pytest.param(record_v2.batch_records_py, id="pure")] + (
    [pytest.param(_native.batch_records, id="compiled")] if _native is not None else [])


@pytest.fixture(params=READERS)
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[Any]]:
    """Each twin of `batch_records` in turn, as the fetch reader's."""
    monkeypatch.setattr(fetched, "batch_records", request.param)
    return request.param  # type: ignore[no-any-return]


def _batch(base_offset: int, rows: list[tuple[int, Any, Any, list[Any]]], compression: int = 0,
           log_append_ms: int | None = None) -> bytes:
    """One v2 batch as a producer writes it, at `base_offset` as the broker numbers it."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=compression, is_transactional=0, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    first = 1_700_000_000_000
    for i, (delta, key, value, headers) in enumerate(rows):
        builder.append(i, timestamp=first + delta, key=key, value=value, headers=headers)
    buf = builder.build()
    struct.pack_into(">q", buf, 0, base_offset)
    if log_append_ms is not None:  # the broker stamped the batch: attribute bit 3, max timestamp
        attributes = struct.unpack_from(">h", buf, 21)[0]
        struct.pack_into(">h", buf, 21, attributes | 0x08)
        struct.pack_into(">q", buf, 35, log_append_ms)
        struct.pack_into(">I", buf, 17, calc_crc32c(memoryview(buf)[21:]))
    return bytes(buf)


def _take(cls: type, buf: bytes, fetch_offset: int = 0, n: int | None = None,
          check_crcs: bool = True) -> tuple[list[SourceMessage], int]:
    part = cls(fetch_offset, TP, MemoryRecords(buf), check_crcs=check_crcs)
    taken = part.take(n)
    return [m if type(m) is SourceMessage else source_message(m) for m in taken], part.next_fetch_offset


def _fetch(batches: list[list[tuple[int, Any, Any, list[Any]]]]) -> bytes:
    buf, offset = b"", 5
    for rows in batches:
        buf += _batch(offset, rows)
        offset += len(rows)
    return buf


@given(batches=st.lists(records, min_size=1, max_size=4), cut=st.integers(0, 80), n=st.none() | st.integers(1, 10))
def test_a_fetch_reads_as_kafka_python_reads_it(reader, batches, cut, n):
    buf = _fetch(batches)
    buf = buf[:len(buf) - cut]  # a fetch may end inside its last batch: that one is left for the next fetch
    expected = _take(Fetcher.PartitionRecords, buf, n=n)
    assert _take(fetched.SourcePartitionRecords, buf, n=n) == expected


@given(rows=records, stamp=st.integers(0, 2**62))
def test_a_log_append_time_batch_stamps_every_record_with_it(reader, rows, stamp):
    buf = _batch(0, rows, log_append_ms=stamp)
    messages, _ = _take(fetched.SourcePartitionRecords, buf)
    assert [m.timestamp_ms for m in messages] == [stamp] * len(rows)
    assert (messages, len(rows)) == _take(Fetcher.PartitionRecords, buf)


def test_records_before_the_fetch_offset_are_skipped_and_the_position_follows(reader):
    buf = _fetch([[(0, b"k", b"a", [])] * 4, [(1, None, None, [("h", None)])] * 3])  # offsets 5..11
    messages, position = _take(fetched.SourcePartitionRecords, buf, fetch_offset=7, n=3)
    assert [m.offset for m in messages] == [7, 8, 9]
    assert position == 10
    assert (messages, position) == _take(Fetcher.PartitionRecords, buf, fetch_offset=7, n=3)


def test_a_compressed_batch_is_read_by_kafka_python_and_comes_out_the_same(reader):
    rows = [(i, b"key", b"value " * 20, [("eventyard.type", b"OrderPlaced")]) for i in range(5)]
    buf = _batch(0, rows) + _batch(5, rows, compression=1)  # plain, then gzip
    assert fetched.plain_batches(buf) is None
    messages, position = _take(fetched.SourcePartitionRecords, buf)
    assert [m.offset for m in messages] == list(range(10)) and position == 10
    assert (messages, position) == _take(Fetcher.PartitionRecords, buf)


def test_a_batch_that_fails_its_crc_is_refused_as_kafka_python_refuses_it(reader):
    buf = bytearray(_fetch([[(0, b"k", b"value", [])] * 3]))
    buf[-2] ^= 0xFF  # a byte of the last record's value
    for cls in (fetched.SourcePartitionRecords, Fetcher.PartitionRecords):
        with pytest.raises(CorruptRecordError, match="crc"):
            _take(cls, bytes(buf))


@pytest.mark.skipif(_native is None, reason="the compiled hot path was not built")
@given(rows=records, flips=st.lists(st.tuples(st.integers(61, 400), st.integers(1, 255)), min_size=1, max_size=3))
def test_both_twins_refuse_or_read_a_damaged_batch_alike(rows, flips):
    buf = bytearray(_batch(0, rows))
    for at, mask in flips:
        if at < len(buf):
            buf[at] ^= mask
    args = (bytes(buf), 61, len(buf), len(rows), 0, 0, -1, TP.topic, TP.partition, SourceMessage)
    outcomes = []
    for read in (record_v2.batch_records_py, _native.batch_records):
        try:
            outcomes.append(read(*args))
        except ValueError:  # UnicodeDecodeError included
            outcomes.append("refused")
    assert outcomes[0] == outcomes[1]


@pytest.mark.integration
def test_the_worker_consumer_reads_what_a_plain_consumer_reads(broker):
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=1, max_poll_records=50)
    create_topics(settings, ["plain", "zipped"])
    sent = 0
    for topic, compression in (("plain", None), ("zipped", "gzip")):
        producer = KafkaProducer(**settings.client_options(), compression_type=compression, linger_ms=5)
        for n in range(120):
            headers = [("eventyard.type", b"Thing"), ("empty", b"")] if n % 3 else []
            producer.send(topic, key=None if n % 7 == 0 else b"k%d" % n, value=None if n % 7 == 3 else b"v" * n,
                          headers=headers)
            sent += 1
        producer.flush()
        producer.close()
    tps = [TopicPartition("plain", 0), TopicPartition("zipped", 0)]
    shared = WorkerConsumers.acquire(settings)
    try:
        assert not shared._converted  # the fetch reader is installed on this kafka-python
        for tp in tps:
            shared.add(tp, 0)
        got: dict[TopicPartition, list[SourceMessage]] = {tp: [] for tp in tps}
        deadline = time.monotonic() + 60
        while sum(map(len, got.values())) < sent:
            assert time.monotonic() < deadline, {tp: len(v) for tp, v in got.items()}
            for tp in tps:
                got[tp] += shared.take(tp)
        for tp in tps:
            shared.remove(tp)
    finally:
        WorkerConsumers.release(settings)
    plain = KafkaConsumer(**settings.client_options(), enable_auto_commit=False)
    try:
        plain.assign(tps)
        for tp in tps:
            plain.seek(tp, 0)
        expected: dict[TopicPartition, list[SourceMessage]] = {tp: [] for tp in tps}
        while sum(map(len, expected.values())) < sent:
            for tp, messages in plain.poll(timeout_ms=500).items():
                expected[tp] += [source_message(m) for m in messages]
    finally:
        plain.close()
    assert got == expected
    assert all(type(m) is SourceMessage for messages in got.values() for m in messages)


@contextmanager
def _timeouts_left_behind() -> Iterator[list[KafkaTimeoutError]]:
    """The KafkaTimeoutErrors the block leaves as cyclic garbage (the collector is
    off meanwhile, and keeps what it finds)."""
    found: list[KafkaTimeoutError] = []
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.extend(o for o in gc.garbage if isinstance(o, KafkaTimeoutError))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.integration
def test_reading_an_idle_partition_leaves_no_garbage_holding_the_readers_frames(broker):
    # kafka-python's poll() finding nothing while a fetch is in flight raises and
    # catches a timeout whose traceback holds the caller's frames (a worker's batch
    # of records and outputs) until the collector finds the cycle. A worker reads
    # idle partitions all the time: it must not poll then (the next test: nor when a
    # fetch round ends).
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=1)
    create_topics(settings, ["idle"])
    tp = TopicPartition("idle", 0)
    shared = WorkerConsumers.acquire(settings)
    try:
        shared.add(tp, 0)
        deadline = time.monotonic() + 30
        while not shared.consumer._fetcher.in_flight_fetches():  # the first fetch is out
            assert time.monotonic() < deadline
            assert shared.take(tp) == []
        with _timeouts_left_behind() as timeouts:
            started, reads = time.monotonic(), 0
            while time.monotonic() - started < 0.3:  # the broker holds an empty fetch up to 100 ms
                assert shared.take(tp) == []
                reads += 1
        assert len(timeouts) * 100 < reads, (len(timeouts), reads)  # before: one per read
        shared.remove(tp)
    finally:
        WorkerConsumers.release(settings)


@pytest.mark.integration
def test_a_partition_read_as_its_records_arrive_leaves_no_timeout_garbage(broker, monkeypatch):
    # Before each record an empty fetch comes back (the broker holds a fetch 100 ms).
    # poll(timeout_ms=0) found no records in it, sent the next fetch and waited 0 ms
    # for that: a timeout per round, whose traceback held the reader's frames (a
    # worker's batch with them) until a collection. fetched.fetched_so_far and
    # send_fetches send the fetch without waiting; poll() itself runs only for the
    # offset reset here.
    monkeypatch.setattr(worker_consumer, "_POLL_EVERY_S", 3600.0)
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=1)
    create_topics(settings, ["arriving"])
    tp = TopicPartition("arriving", 0)
    producer = KafkaProducer(**settings.client_options())
    shared = WorkerConsumers.acquire(settings)
    got: list[SourceMessage] = []

    def send_and_read(n: int) -> None:
        idle = time.monotonic() + 0.25
        while time.monotonic() < idle:
            assert shared.take(tp) == []
        producer.send(tp.topic, value=b"%d" % n, partition=0)
        producer.flush()
        deadline = time.monotonic() + 30
        while len(got) <= n:
            assert time.monotonic() < deadline, len(got)
            got.extend(shared.take(tp))

    try:
        shared.add(tp, None)  # from the start: an offset reset, which poll() drives
        send_and_read(0)
        with _timeouts_left_behind() as timeouts:
            for n in range(1, 11):
                send_and_read(n)
        shared.remove(tp)
    finally:
        WorkerConsumers.release(settings)
        producer.close()
    assert [m.value for m in got] == [b"%d" % n for n in range(11)]
    assert timeouts == []  # before: one per record, each round's poll()


@pytest.mark.integration
def test_the_worker_consumer_still_polls_now_and_then(broker, monkeypatch):
    # poll() also drives offset validation (KIP-320) and other checks kafka-python
    # keeps to itself: between its own rounds the consumer reads without it, but it
    # calls poll() again once _POLL_EVERY_S has passed. The clock here is a stub.
    now = [1_000.0]
    monkeypatch.setattr(worker_consumer, "time", SimpleNamespace(monotonic=lambda: now[0]))
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=1)
    create_topics(settings, ["polled"])
    tp = TopicPartition("polled", 0)
    shared = WorkerConsumers.acquire(settings)
    polls = []
    real_poll = shared.consumer.poll
    monkeypatch.setattr(shared.consumer, "poll", lambda **kw: polls.append(kw) or real_poll(**kw))
    without = []
    real_without = fetched.fetched_so_far
    monkeypatch.setattr(fetched, "fetched_so_far", lambda *a: without.append(a) or real_without(*a))

    def read_until(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline, (len(polls), len(without))
            assert shared.take(tp) == []

    try:
        shared.add(tp, 0)
        read_until(lambda: len(without) >= 3)  # fetch rounds read without poll()
        assert len(polls) == 1  # the first read's poll() (it sent the first fetch)
        now[0] += worker_consumer._POLL_EVERY_S
        read_until(lambda: len(polls) == 2)
        shared.remove(tp)
    finally:
        WorkerConsumers.release(settings)


@pytest.mark.integration
def test_poll_is_left_to_kafka_python_while_an_offset_reset_is_pending(broker):
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=1)
    create_topics(settings, ["resetting"])
    tp = TopicPartition("resetting", 0)
    consumer = KafkaConsumer(**settings.client_options(), enable_auto_commit=False)
    try:
        assert fetched.install(consumer)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        assert fetched.fetched_so_far(consumer, [tp]) is None
        deadline = time.monotonic() + 30
        while fetched.fetched_so_far(consumer, [tp]) is None:  # poll() resets the offset
            assert time.monotonic() < deadline
            consumer.poll(timeout_ms=50)
        assert fetched.fetched_so_far(consumer, [tp]) == {}
    finally:
        consumer.close()


def _flagged(buf: bytes, mask: int) -> bytes:
    """`buf` (one batch) with attribute bits `mask` set and its CRC made right again."""
    data = bytearray(buf)
    struct.pack_into(">h", data, 21, struct.unpack_from(">h", data, 21)[0] | mask)
    struct.pack_into(">I", data, 17, calc_crc32c(memoryview(data)[21:]))
    return bytes(data)


def test_control_and_read_committed_transactional_batches_are_left_to_kafka_python():
    plain = _batch(0, [(0, b"k", b"v", [])])
    assert fetched.plain_batches(plain) is not None
    assert fetched.plain_batches(plain + _flagged(_batch(1, [(0, b"k", b"v", [])]), 0x20)) is None  # control
    transactional = _flagged(_batch(1, [(0, b"k", b"v", [])]), 0x10)
    assert fetched.plain_batches(plain + transactional) is not None  # read uncommitted: every record is read
    assert fetched.plain_batches(plain + transactional, read_committed=True) is None  # aborted ones are kafka-python's
