"""Eventyard: durable event-driven workflows over Kafka."""

__version__ = "0.1.0"
