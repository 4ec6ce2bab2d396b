"""Both transports put a keyed record where Kafka's default partitioner does.

A task owns the keys of its partition number (eventyard.core.routing.task_of): a
record published to a topic that a pipeline reads, a repartition topic or another
pipeline's input, must land in the partition murmur2 gives its key, whichever
transport wrote it. librdkafka's own default (CRC32) put most keys elsewhere.
"""

from __future__ import annotations

import pytest

from eventyard.config import KafkaSettings
from eventyard.core.records import OutRecord
from eventyard.core.routing import task_of
from eventyard.kafka import create_topics, make_sink
from eventyard.kafka.reader import read_topic

pytestmark = [pytest.mark.integration, pytest.mark.both_transports]


def test_a_keyed_record_lands_in_the_partition_of_its_task(broker, transport):
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=8, client=transport)
    create_topics(settings, ["commands"])
    keys = [f"order-{n}" for n in range(64)]
    sink = make_sink(settings, "partitioning")
    part = sink.build_part("out", sink.list_parts()[0], None)
    try:
        part.write_batch([[OutRecord("commands", key.encode(), b"v") for key in keys]])
        part.snapshot()
    finally:
        part.close()
    placed = {m.key.decode(): m.partition for m in read_topic(settings, "commands")}
    assert placed == {key: task_of(key, 8) for key in keys}
