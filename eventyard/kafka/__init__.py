"""Kafka at the edge: the only package that imports a Kafka client.

Pipelines get their source and sink from `make_source`/`make_sink` (kafka.client
picks kafka-python or confluent-kafka); admin and bounded readers use kafka-python.
"""

from eventyard.kafka.admin import create_topics, ensure_topics_exist
from eventyard.kafka.sink import KafkaSink
from eventyard.kafka.source import KafkaSource
from eventyard.kafka.transport import make_sink, make_source

__all__ = ["KafkaSource", "KafkaSink", "make_source", "make_sink", "create_topics", "ensure_topics_exist"]
