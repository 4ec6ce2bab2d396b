"""Kafka at the edge: the only package that imports a Kafka client.

A pipeline's tasks get their partition readers and sink from
`make_partition_reader`/`make_sink` (kafka.client picks kafka-python or
confluent-kafka); admin and bounded readers use kafka-python.
"""

from eventyard.kafka.admin import create_topics, ensure_topics_exist
from eventyard.kafka.sink import KafkaSink
from eventyard.kafka.transport import make_partition_reader, make_sink, partition_counts

__all__ = ["KafkaSink", "make_partition_reader", "make_sink", "partition_counts", "create_topics",
           "ensure_topics_exist"]
