"""The kafka-python sink on the embedded broker: every record arrives, the sender is woken once a batch."""

from __future__ import annotations

import pytest

from eventyard.config import KafkaSettings
from eventyard.kafka import create_topics, make_sink
from eventyard.kafka.reader import read_topic
from eventyard.core.records import OutRecord

pytestmark = pytest.mark.integration


def test_a_batch_wakes_the_sender_once_and_every_record_arrives(broker):
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=8)
    create_topics(settings, ["commands", "events"])
    sink = make_sink(settings, "wakeups")
    part = sink.build_part("out", sink.list_parts()[0], None)
    try:
        part.write_batch([[OutRecord("commands", b"warm", b"0"), OutRecord("events", b"warm", b"0")]])
        part.snapshot()  # metadata of both topics known from here on

        sender = part._producer._sender
        woken = []
        real = sender.wakeup
        sender.wakeup = lambda: (woken.append(1), real())  # counts the wake-ups that happen
        try:
            batch = [OutRecord(("commands", "events")[n % 2], f"order-{n}".encode(), b"%d" % n) for n in range(200)]
            part.write_batch([batch])  # 16 partitions: 16 new producer batches
        finally:
            del sender.wakeup
        assert len(woken) == 1
        part.snapshot()
    finally:
        part.close()
    values = sorted(int(m.value) for topic in ("commands", "events") for m in read_topic(settings, topic)
                    if m.key != b"warm")
    assert values == list(range(200))
