"""Pick the pipeline source and sink for kafka.client; callers never name a client."""

from __future__ import annotations

import logging

from bytewax.inputs import FixedPartitionedSource
from bytewax.outputs import FixedPartitionedSink

from eventyard.config import KafkaSettings
from eventyard.core.records import InputTick, OutRecord, SourceMessage
from eventyard.kafka.partition import EdgeSourcePartition, parse_part

__all__ = ["make_source", "make_sink", "make_partition_reader", "partition_counts"]

_log = logging.getLogger("eventyard.kafka")


def make_source(settings: KafkaSettings, topics: list[str],
                pipeline: str) -> FixedPartitionedSource[SourceMessage | InputTick, int]:
    """A source partitioned by Kafka topic-partition; `pipeline` labels its metrics."""
    if settings.client == "confluent":
        # Imported here: the module is cheap, confluent-kafka itself is optional.
        from eventyard.kafka.confluent_source import ConfluentSource
        source: FixedPartitionedSource[SourceMessage | InputTick, int] = ConfluentSource(settings, topics, pipeline)
    else:
        from eventyard.kafka.source import KafkaSource
        source = KafkaSource(settings, topics, pipeline)
    _log.info("kafka transport: %s", describe(settings))
    return source


def make_partition_reader(settings: KafkaSettings, topic: str, partition: int, resume: int | None,
                          pipeline: str) -> EdgeSourcePartition:
    """A non-blocking reader of one topic-partition from offset `resume` (None:
    kafka.start_from); a task holds one per input topic."""
    if settings.client == "confluent":
        from eventyard.kafka.confluent_source import ConfluentSourcePartition
        return ConfluentSourcePartition(settings, topic, partition, resume, pipeline)
    from eventyard.kafka.source import KafkaSourcePartition
    return KafkaSourcePartition(settings, topic, partition, resume, pipeline)


def partition_counts(settings: KafkaSettings, topics: list[str]) -> dict[str, int]:
    """Partitions of each topic; a missing topic raises TopicMissingError."""
    from eventyard.kafka.source import KafkaSource
    counts: dict[str, int] = {}
    for name in KafkaSource(settings, topics).list_parts():
        topic = parse_part(name)[0]
        counts[topic] = counts.get(topic, 0) + 1
    return counts


def describe(settings: KafkaSettings) -> str:
    """The client and its version, as logged at start (so a log shows what ran)."""
    if settings.client == "confluent":
        from eventyard.kafka.confluent_client import confluent_kafka
        ck = confluent_kafka()
        return f"confluent-kafka {ck.__version__} (librdkafka {ck.libversion()[0]})"
    import kafka
    return f"kafka-python {kafka.__version__}"


def make_sink(settings: KafkaSettings, pipeline: str, process: int = 0,
              processes: int = 1) -> FixedPartitionedSink[OutRecord, None]:
    """The sink of worker process `process` of `processes` (it writes what that process made)."""
    if settings.client == "confluent":
        from eventyard.kafka.confluent_sink import ConfluentSink
        return ConfluentSink(settings, pipeline, process, processes)
    from eventyard.kafka.sink import KafkaSink
    return KafkaSink(settings, pipeline, process, processes)
