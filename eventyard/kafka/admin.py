"""Topic administration for pipelines."""

from __future__ import annotations

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from eventyard.config import KafkaSettings
from eventyard.core.errors import TopicMissingError
from eventyard.kafka.client import kafka_errors

__all__ = ["create_topics", "ensure_topics_exist", "existing_topics"]


def existing_topics(settings: KafkaSettings) -> set[str]:
    with kafka_errors(settings):
        admin = KafkaAdminClient(**settings.client_options())
        try:
            return set(admin.list_topics())
        finally:
            admin.close()


def create_topics(settings: KafkaSettings, topics: list[str]) -> list[str]:
    """Create missing topics; return the names that were created."""
    with kafka_errors(settings):
        return _create(settings, topics)


def _create(settings: KafkaSettings, topics: list[str]) -> list[str]:
    admin = KafkaAdminClient(**settings.client_options())
    try:
        missing = [t for t in dict.fromkeys(topics) if t not in set(admin.list_topics())]
        created = []
        for topic in missing:
            try:
                admin.create_topics(
                    [NewTopic(topic, settings.topic_partitions, settings.replication_factor)]
                )
                created.append(topic)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


def ensure_topics_exist(settings: KafkaSettings, topics: list[str]) -> None:
    missing = sorted(set(topics) - existing_topics(settings))
    if missing:
        raise TopicMissingError(
            f"topics {', '.join(missing)} do not exist on {settings.bootstrap_servers}: "
            "create them with `eventyard topics create PIPELINE`"
        )
