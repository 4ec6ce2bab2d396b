"""KeyHashPartitioner: Kafka's default key partitioning, each key hashed once.

kafka-python's DefaultPartitioner runs murmur2 in pure Python and sorts the
topic's partitions for every record: 7% of a kafka-python worker's main thread
on the order saga (py-spy), whose outputs reuse one key (the aggregate) several
times. This partitioner gives the same partition for every key (murmur2 as the
Java client, so a record lands where any other producer would put it) with
`eventyard.core.routing.key_partition` (compiled, or remembering recent keys' hashes).
"""

from __future__ import annotations

from typing import Any

from kafka.partitioner import DefaultPartitioner

from eventyard.core.routing import key_partition

__all__ = ["KeyHashPartitioner", "key_partition"]


class KeyHashPartitioner(DefaultPartitioner):
    def partition(self, topic: str, key: Any, serialized_key: bytes | None, value: Any,
                  serialized_value: bytes | None, cluster: Any) -> int:
        partitions = cluster.partitions_for_topic(topic) if serialized_key is not None else None
        if not partitions:  # no key (random pick), or unknown topic (the default raises)
            return int(super().partition(topic, key, serialized_key, value, serialized_value, cluster))
        index = key_partition(serialized_key, len(partitions))
        # Kafka numbers a topic's partitions 0..n-1, so the index is the partition;
        # anything else takes the default's sorted lookup.
        if index in partitions:
            return index
        return int(super().partition(topic, key, serialized_key, value, serialized_value, cluster))
