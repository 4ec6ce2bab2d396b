"""One consumer per worker process: every partition gets exactly its records, in order."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from kafka import KafkaProducer

from eventyard.config import KafkaSettings
from eventyard.kafka import create_topics, fetched, make_partition_reader
from eventyard.kafka.confluent_consumer import worker_consumers
from eventyard.kafka.partition import PartitionReader
from eventyard.kafka.record_v2 import batch_records
from eventyard.kafka.worker_consumer import WorkerConsumers
from eventyard.core.records import SourceMessage

pytestmark = [pytest.mark.integration, pytest.mark.both_transports]


# Bytes per value: a partition's 300 records (1.5 MB) are more than one fetch response
# carries (kafka-python's max_partition_fetch_bytes, 1 MB).
_PAD = 5_000


def _value(topic: str, partition: int | str, n: int) -> bytes:
    return f"{topic}/{partition}/{n}/".encode().ljust(_PAD, b".")


def _fill(settings: KafkaSettings, per_partition: int) -> None:
    producer = KafkaProducer(**settings.client_options())
    for topic in ("a", "b"):
        for partition in range(3):
            for n in range(per_partition):
                producer.send(topic, value=_value(topic, partition, n), partition=partition)
    producer.flush()
    producer.close()


def _drain(parts: list[PartitionReader], last_offset: int) -> dict[str, list[SourceMessage]]:
    got: dict[str, list[SourceMessage]] = {f"{p.topic}/{p.partition}": [] for p in parts}
    deadline = time.monotonic() + 60
    while any(not v or v[-1].offset < last_offset for v in got.values()):
        assert time.monotonic() < deadline, {k: len(v) for k, v in got.items()}
        for part in parts:  # a worker's round: every partition it reads in turn
            got[f"{part.topic}/{part.partition}"] += part.read()
    return got


def test_partitions_of_a_worker_share_one_consumer_and_each_reads_only_its_own_records(broker, transport,
                                                                                      monkeypatch):
    # max_poll_records 7: a shared fetch returns a few partitions' records at a time,
    # and a partition's buffer (2 x 7) fills and leaves the fetch while others are read.
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=3, max_poll_records=7,
                             client=transport)
    create_topics(settings, ["a", "b"])
    _fill(settings, 300)
    resume = {("b", 1): 245}  # this one restarts from a snapshot offset
    parsed: Counter[tuple[str, int]] = Counter()  # kafka-python: records read out of fetch responses

    def counted(*args: object) -> list[SourceMessage]:
        messages = batch_records(*args)
        parsed.update((m.topic, m.partition) for m in messages)
        return messages

    monkeypatch.setattr(fetched, "batch_records", counted)
    parts = [make_partition_reader(settings, topic, p, resume.get((topic, p)), "shared")
             for topic in ("a", "b") for p in range(3)]
    try:
        shared = parts[0]._shared
        assert all(p._shared is shared for p in parts)
        # Read one partition alone first (the last listed): the others' buffers fill to their cap and
        # leave the fetch (memory stays bounded), then come back where they stopped.
        first = _drain(parts[-1:], 299)
        buffered = [len(buffer) for buffer in shared._buffers.values()]
        if transport == "kafka-python":
            # Everything fetched is kept: a partition over its cap holds what one fetch
            # response brought (up to max_partition_fetch_bytes, as the broker keeps
            # to it), and is fetched no more.
            full = {tp for tp, buffer in shared._buffers.items() if len(buffer) >= 14}
            assert full and not full & shared._assigned
        else:
            assert max(buffered) >= 14 and max(buffered) <= 14 + 7  # cap 2 x max_poll_records, + one consume
        got = {**_drain(parts[:-1], 299), **first}
    finally:
        for part in parts:
            part.close()
    for name, messages in got.items():
        topic, partition = name.split("/")
        first = 245 if name == "b/1" else 0
        assert [m.offset for m in messages] == list(range(first, 300)), name
        assert [m.value for m in messages] == [_value(topic, partition, n) for n in range(first, 300)]
    assert [p.next_offset() for p in parts] == [300] * 6
    if transport == "kafka-python":
        # Leaving the fetch dropped no fetched record: none was fetched twice.
        assert {tp: n for tp, n in parsed.items() if tp != ("b", 1)} == {
            (topic, p): 300 for topic in ("a", "b") for p in range(3) if (topic, p) != ("b", 1)}
    pool = WorkerConsumers if transport == "kafka-python" else worker_consumers("shared")
    assert not pool._clients  # the last partition closed the consumer
