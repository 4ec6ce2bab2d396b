"""Bounded readers over the real embedded broker: merge order, end of input, flow control."""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from eventyard.config import KafkaSettings
from eventyard.kafka import create_topics, reader
from eventyard.kafka.client import seek_to_first
from eventyard.kafka.reader import merged, open_streams, read_topic
from eventyard.operators.decisions import merge_key

pytestmark = pytest.mark.integration


@pytest.fixture
def kafka(broker) -> KafkaSettings:
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=3)
    create_topics(settings, ["a", "b"])
    return settings


def _produce(settings: KafkaSettings, records: list[tuple[str, int, int]]) -> None:
    """(topic, partition, timestamp_ms) each; the value names the record."""
    producer = KafkaProducer(**settings.client_options())
    for topic, partition, ts in records:
        producer.send(topic, value=f"{topic}/{partition}/{ts}".encode(), partition=partition, timestamp_ms=ts)
    producer.flush()
    producer.close()


def _records(n: int) -> list[tuple[str, int, int]]:
    # Timestamps interleave across topics and partitions; each partition in time order.
    return [(("a", "b")[i % 2], i % 3, 1_000 + i * 7 % 5 + i) for i in range(n)]


def test_merged_yields_every_record_once_in_merge_key_order(kafka):
    _produce(kafka, _records(600))
    streams = open_streams(kafka, ["a", "b"])
    try:
        got = list(merged(streams, merge_key))
    finally:
        for s in streams:
            s.close()
    assert len(got) == 600
    assert [merge_key(m) for m in got] == sorted(merge_key(m) for m in got)
    assert {(s.tp.topic, s.tp.partition): s.position for s in streams} == {
        (t, p): 100 for t in ("a", "b") for p in range(3)}


def test_a_partition_far_ahead_in_time_waits_at_its_buffer_cap(kafka, monkeypatch):
    monkeypatch.setattr(reader, "_BUFFER_CAP", 10)
    monkeypatch.setattr(reader, "_MAX_POLL_RECORDS", 25)
    # a[0] is all later than b[0]: the merge drains b[0] first while a[0] waits.
    _produce(kafka, [("a", 0, 100_000 + i) for i in range(300)] + [("b", 0, 1_000 + i) for i in range(300)])
    streams = open_streams(kafka, ["a", "b"])
    try:
        got, most = [], 0
        for msg in merged(streams, merge_key):
            got.append(msg)
            most = max(most, max(len(s.buffer) for s in streams))
    finally:
        for s in streams:
            s.close()
    assert [merge_key(m) for m in got] == sorted(merge_key(m) for m in got) and len(got) == 600
    assert most < 10 + 25  # at most one poll's worth past the cap


def test_since_skips_older_records_and_empty_topics_end(kafka):
    _produce(kafka, [("a", 0, ts) for ts in (1_000, 2_000, 3_000)])
    streams = open_streams(kafka, ["a", "b"], since_ms=2_000)
    try:
        got = [m.timestamp_ms for m in merged(streams, merge_key)]
    finally:
        for s in streams:
            s.close()
    assert got == [2_000, 3_000]


def test_read_topic_reads_partition_by_partition(kafka):
    _produce(kafka, _records(90))
    got = [(m.partition, m.offset) for m in read_topic(kafka, "a")]
    assert got == sorted(got) and len(got) == 45


def test_a_read_from_the_beginning_does_not_trust_the_brokers_earliest_offset(kafka, monkeypatch):
    # The embedded broker once answered ListOffsets EARLIEST with 90 for a partition
    # whose first record was at 0 (several producers' first batches raced), and a
    # read from that answer skipped 90 records. Here the client is handed such an
    # answer for every partition; the read must still start at the first record.
    _produce(kafka, _records(60))
    wrong = lambda self, partitions: {tp: 5 for tp in partitions}  # noqa: E731
    monkeypatch.setattr(KafkaConsumer, "beginning_offsets", wrong)
    monkeypatch.setattr(KafkaConsumer, "seek_to_beginning",
                        lambda self, *partitions: [self.seek(tp, 5) for tp in partitions])
    assert sorted(m.value.decode() for m in read_topic(kafka, "a")) == sorted(
        f"{t}/{p}/{ts}" for t, p, ts in _records(60) if t == "a")


def test_a_read_from_offset_0_refuses_a_consumer_that_would_jump_to_the_end(kafka):
    # Offset 0 past retention resets by auto_offset_reset: "latest" would skip every record.
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="latest")
    try:
        with pytest.raises(ValueError, match="auto_offset_reset='earliest'"):
            seek_to_first(consumer, [TopicPartition("a", 0)])
    finally:
        consumer.close()
