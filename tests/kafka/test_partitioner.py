"""Output records land on the partition Kafka's default partitioner picks for their key."""

from __future__ import annotations

import pytest
from kafka import KafkaProducer
from kafka.partitioner.default import murmur2

from eventyard.config import KafkaSettings
from eventyard.kafka import create_topics
from eventyard.kafka.partitioner import KeyHashPartitioner
from eventyard.kafka.reader import read_topic

pytestmark = pytest.mark.integration


def test_keys_land_where_the_java_default_partitioner_puts_them(broker):
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=7)
    create_topics(settings, ["out"])
    keys = [f"order-{n:06d}".encode() for n in range(300)] + [b"", "é-ünïcode".encode()]
    producer = KafkaProducer(**settings.client_options(), partitioner=KeyHashPartitioner())
    for key in keys * 2:  # the second time from the hash cache
        producer.send("out", key=key, value=b"v")
    producer.send("out", key=None, value=b"no key")
    producer.flush()
    producer.close()
    got = [(m.key, m.partition) for m in read_topic(settings, "out")]
    assert len(got) == 2 * len(keys) + 1
    for key, partition in got:
        if key is not None:
            assert partition == (murmur2(key) & 0x7FFFFFFF) % 7, key
