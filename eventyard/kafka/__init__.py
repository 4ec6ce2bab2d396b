"""Kafka at the edge: the only package that imports a Kafka client."""

from eventyard.kafka.admin import create_topics, ensure_topics_exist
from eventyard.kafka.sink import KafkaSink
from eventyard.kafka.source import KafkaSource

__all__ = ["KafkaSource", "KafkaSink", "create_topics", "ensure_topics_exist"]
