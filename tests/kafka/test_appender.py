"""The batch appender puts records where send() would, as the bytes send() would write,
and reports their failures the way send()'s futures do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import kafka
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka import KafkaProducer
from kafka.errors import InvalidRecordError, KafkaError, MessageSizeTooLargeError
from kafka.producer.producer_batch import ProducerBatch
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.structs import TopicPartition

from eventyard.config import KafkaSettings
from eventyard.core.records import OutRecord
from eventyard.kafka import create_topics
from eventyard.kafka.appender import BatchAppender, supports
from eventyard.kafka.partitioner import KeyHashPartitioner, key_partition
from eventyard.kafka.reader import read_topic
from eventyard.kafka.record_v2 import encode_record_py

TOPICS = ("commands", "events")
keys = st.binary(max_size=12)
blobs = st.none() | st.binary(max_size=300)
headers = st.lists(st.tuples(st.text(max_size=20), st.none() | st.binary(max_size=40)), max_size=4).map(tuple)
sendable_headers = st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=40)), max_size=4).map(tuple)
timestamps = st.integers(1_700_000_000_000, 1_800_000_000_000)
# what send() accepts: a key (these take the fast path), header values as bytes
records = st.lists(st.builds(OutRecord, st.sampled_from(TOPICS), keys, blobs, sendable_headers, timestamps),
                   max_size=60)


@given(offset=st.integers(0, 2**31 - 1), delta=st.integers(-2**62, 2**62), key=blobs, value=blobs, headers=headers)
def test_a_record_is_encoded_as_kafka_pythons_builder_encodes_it(offset, delta, key, value, headers):
    builder = DefaultRecordBatchBuilder(2, 0, False, -1, -1, -1, batch_size=10**7)
    builder.append(0, 0, None, None, [])  # the first record sets the batch's base timestamp (0)
    start = len(builder._buffer)
    builder.append(offset, delta, key, value, list(headers))
    assert encode_record_py(offset, delta, key, value, headers) == bytes(builder._buffer[start:])


@pytest.fixture
def producers(broker) -> Iterator[tuple[KafkaSettings, KafkaProducer, KafkaProducer]]:
    """Two producers that hold what they are given (a long linger) on topics with known metadata."""
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=5)
    create_topics(settings, list(TOPICS))
    made = [KafkaProducer(**settings.client_options(), linger_ms=600_000, delivery_timeout_ms=700_000,
                             partitioner=KeyHashPartitioner())
            for _ in range(2)]
    for producer in made:
        for topic in TOPICS:
            producer.send(topic, key=b"warm", value=b"warm", timestamp_ms=1)
        producer.flush()  # metadata known, nothing held
    yield settings, made[0], made[1]
    for producer in made:
        producer.close(timeout=5)


def _batches(producer: KafkaProducer) -> dict[tuple[str, int], list[tuple]]:
    """Each partition's open batches: buffer, record count and timestamps, as they would go out."""
    accumulator = producer._accumulator
    return {(tp.topic, tp.partition): [(bytes(b.records._builder._buffer), b.records.next_offset(),
                                        b.records._builder._first_timestamp, b.records._builder._max_timestamp)
                                       for b in queue]
            for tp, queue in accumulator._batches.items() if queue}


pytestmark = pytest.mark.integration


@given(batch=records)
def test_appended_batches_are_byte_identical_to_sends(producers, batch):
    _, by_send, by_appender = producers
    assert supports(by_appender)
    failures: list[BaseException] = []
    for record in batch:
        by_send.send(record.topic, key=record.key, value=record.value, headers=list(record.headers),
                     timestamp_ms=record.timestamp_ms)
    BatchAppender(by_appender, failures.append).append(batch)
    assert _batches(by_appender) == _batches(by_send)
    by_send.flush()
    by_appender.flush()
    assert failures == []


def test_every_record_arrives_in_order_per_partition_on_both_paths(broker):
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=3)
    create_topics(settings, ["fast", "fallback"])
    producer = KafkaProducer(**settings.client_options(), linger_ms=5, partitioner=KeyHashPartitioner())
    failures: list[BaseException] = []
    try:
        for topic, fast in (("fast", True), ("fallback", False)):
            appender = BatchAppender(producer, failures.append, fast=fast)
            # a keyless record and one for a topic whose metadata is not known yet take send()
            for start in range(0, 3000, 500):
                appender.append([OutRecord(topic, b"k%d" % (n % 7) if n % 100 else None, b"%d" % n,
                                           (("n", b"%d" % n),)) for n in range(start, start + 500)])
        producer.flush()
    finally:
        producer.close()
    assert failures == []
    for topic in ("fast", "fallback"):
        got = read_topic(settings, topic)
        assert sorted(int(m.value) for m in got) == list(range(3000))
        for m in got:
            assert m.headers == [("n", m.value)]
        by_key: dict[bytes, list[int]] = {}
        for m in got:
            if m.key is not None:
                by_key.setdefault(m.key, []).append(int(m.value))
        assert all(values == sorted(values) for values in by_key.values())


@pytest.mark.parametrize("fast", [True, False])
def test_a_batch_wakes_the_sender_once_on_either_path(producers, fast):
    _, _, producer = producers
    sender = producer._sender
    woken: list[int] = []
    real = sender.wakeup
    sender.wakeup = lambda: (woken.append(1), real())  # counts the wake-ups that happen
    try:
        # 10 partitions across the two topics: send() alone would open (and wake for) each
        BatchAppender(producer, lambda exc: None, fast=fast).append(
            [OutRecord(TOPICS[n % 2], f"order-{n}".encode(), b"%d" % n) for n in range(200)])
    finally:
        del sender.wakeup
    assert len(woken) == 1


def test_a_record_too_large_for_a_request_is_refused_as_send_refuses_it(producers):
    _, _, producer = producers
    appender = BatchAppender(producer, lambda exc: None)
    with pytest.raises(MessageSizeTooLargeError):
        appender.append([OutRecord("commands", b"k", b"x" * (producer.config["max_request_size"] + 1))])


def test_records_that_never_go_out_are_reported_as_failed_once_each(producers):
    settings, _, producer = producers
    failures: list[BaseException] = []
    marker = uuid.uuid4().hex.encode()  # this test's records among the module's
    # every 4th keyless: send() opens its own batches among the appender's
    BatchAppender(producer, failures.append).append(
        [OutRecord(TOPICS[n % 2], None if n % 4 == 0 else b"k%d" % n, marker + b"%d" % n) for n in range(40)])
    # The long linger holds them, but not all: a partition with a second batch queued
    # sends its first (kafka-python counts it full). A sender closed by force aborts
    # the rest (as when close() times out), failing each of their records; one in
    # flight may be written by the broker and still fail here (no answer came), as
    # with send(): the worker then fails and its outbox sends it again.
    producer._sender.force_close()
    producer._sender.join(30)
    delivered = [m for topic in TOPICS for m in read_topic(settings, topic) if (m.value or b"").startswith(marker)]
    assert failures and all(isinstance(exc, KafkaError) for exc in failures)
    # none vanished (each one out or failed), none failed twice
    assert 40 - len(delivered) <= len(failures) <= 40


def _drained(producer: KafkaProducer, tp: TopicPartition) -> list[ProducerBatch]:
    """The partition's batches taken out and closed, as the sender takes them to send."""
    accumulator = producer._accumulator
    with accumulator._tp_lock(tp):
        batches = list(accumulator._batches[tp])
        accumulator._batches[tp].clear()
    for batch in batches:
        batch.records.close()
    return batches


def _one_partition(producer: KafkaProducer, failures: list[BaseException], n: int) -> TopicPartition:
    BatchAppender(producer, failures.append).append([OutRecord("commands", b"one-key", b"v%d" % i) for i in range(n)])
    return TopicPartition("commands", key_partition(b"one-key", 5))


def test_a_failed_batch_reports_each_record_with_its_own_error(producers):
    _, _, producer = producers
    failures: list[BaseException] = []
    tp = _one_partition(producer, failures, 10)
    [batch] = _drained(producer, tp)
    errors = [InvalidRecordError(f"record {i}") for i in range(10)]
    batch.done(top_level_exception=KafkaError("refused"), record_exceptions_fn=errors.__getitem__)
    producer._accumulator.deallocate(batch)
    assert failures == errors


def test_a_batch_kafka_python_splits_reports_failures_from_the_new_batches_once(producers):
    _, _, producer = producers
    failures: list[BaseException] = []
    tp = _one_partition(producer, failures, 10)
    [batch] = _drained(producer, tp)
    # what the sender does when the broker answers MESSAGE_TOO_LARGE: the records go
    # into two new batches, the old one is dropped without completing
    producer._accumulator.split_and_reenqueue(batch)
    producer._accumulator.deallocate(batch)
    first, second = _drained(producer, tp)
    assert (first.record_count, second.record_count) == (5, 5)
    first.complete(0, -1)
    errors = [InvalidRecordError(f"record {i}") for i in range(5)]
    second.done(top_level_exception=KafkaError("refused"), record_exceptions_fn=errors.__getitem__)
    for half in (first, second):
        producer._accumulator.deallocate(half)
    assert failures == errors


def test_a_kafka_python_release_it_was_not_checked_against_takes_send(producers, monkeypatch):
    _, _, producer = producers
    monkeypatch.setattr(kafka, "__version__", "3.9.0")
    assert not supports(producer)
    assert not BatchAppender(producer, lambda exc: None).fast
