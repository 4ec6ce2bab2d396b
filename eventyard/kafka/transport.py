"""Pick the pipeline's partition readers and sink for kafka.client; callers never name a client."""

from __future__ import annotations

import logging

from bytewax.outputs import FixedPartitionedSink

from eventyard.config import KafkaSettings
from eventyard.core.records import OutRecord
from eventyard.kafka.partition import PartitionReader

__all__ = ["make_sink", "make_partition_reader", "partition_counts", "describe"]

_log = logging.getLogger("eventyard.kafka")


def make_partition_reader(settings: KafkaSettings, topic: str, partition: int, resume: int | None,
                          pipeline: str) -> PartitionReader:
    """A non-blocking reader of one topic-partition from offset `resume` (None:
    kafka.start_from); a task holds one per input topic. `pipeline` labels metrics."""
    if settings.client == "confluent":
        # Imported here: the module is cheap, confluent-kafka itself is optional.
        from eventyard.kafka.confluent_source import ConfluentSourcePartition
        return ConfluentSourcePartition(settings, topic, partition, resume, pipeline)
    from eventyard.kafka.source import KafkaSourcePartition
    return KafkaSourcePartition(settings, topic, partition, resume, pipeline)


def partition_counts(settings: KafkaSettings, topics: list[str]) -> dict[str, int]:
    """Partitions of each topic (metadata through kafka-python, whatever the transport);
    a missing topic raises TopicMissingError."""
    from eventyard.kafka.source import partition_counts as counts

    return counts(settings, topics)


def describe(settings: KafkaSettings) -> str:
    """The client and its version, as logged at start (so a log shows what ran)."""
    if settings.client == "confluent":
        from eventyard.kafka.confluent_client import confluent_kafka
        ck = confluent_kafka()
        return f"confluent-kafka {ck.__version__} (librdkafka {ck.libversion()[0]})"
    import kafka
    return f"kafka-python {kafka.__version__}"


def make_sink(settings: KafkaSettings, pipeline: str, process: int = 0,
              processes: int = 1) -> FixedPartitionedSink[list[OutRecord], None]:
    """The sink of worker process `process` of `processes` (it writes what that process made)."""
    _log.info("kafka transport: %s", describe(settings))
    if settings.client == "confluent":
        from eventyard.kafka.confluent_sink import ConfluentSink
        return ConfluentSink(settings, pipeline, process, processes)
    from eventyard.kafka.sink import KafkaSink
    return KafkaSink(settings, pipeline, process, processes)
