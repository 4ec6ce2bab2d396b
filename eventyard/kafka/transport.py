"""Pick the pipeline source and sink for kafka.client; callers never name a client."""

from __future__ import annotations

import logging

from bytewax.inputs import FixedPartitionedSource
from bytewax.outputs import FixedPartitionedSink

from eventyard.config import KafkaSettings
from eventyard.core.records import InputTick, OutRecord, SourceMessage

__all__ = ["make_source", "make_sink"]

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
