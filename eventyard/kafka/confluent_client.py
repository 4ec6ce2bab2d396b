"""confluent-kafka (librdkafka) plumbing: the lazy import and settings translation.

confluent-kafka is optional (`pip install 'eventyard[fast]'`); nothing imports it
until a pipeline runs with kafka.client = "confluent".
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any

from eventyard.config import KafkaSettings
from eventyard.core.errors import ConfigError, KafkaUnavailableError

__all__ = ["confluent_kafka", "common_config", "consumer_config", "producer_config", "unavailable"]

_log = logging.getLogger("eventyard.kafka.confluent")
_PARTITION_FETCH_BYTES = 256 << 10


def confluent_kafka() -> ModuleType:
    try:
        return importlib.import_module("confluent_kafka")
    except ImportError as exc:
        raise ConfigError(
            "kafka.client is 'confluent' but confluent-kafka is not installed: "
            "pip install 'eventyard[fast]' (or set EVENTYARD_KAFKA__CLIENT=kafka-python)"
        ) from exc


def common_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka properties equivalent to KafkaSettings.client_options()."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "client.id": settings.client_id,
        "security.protocol": settings.security_protocol.lower(),
        # librdkafka logs through Python logging instead of raw stderr lines.
        "logger": _log,
    }
    if settings.sasl_mechanism:
        config["sasl.mechanism"] = settings.sasl_mechanism
        config["sasl.username"] = settings.sasl_username
        config["sasl.password"] = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    for name, prop in (("ssl_cafile", "ssl.ca.location"), ("ssl_certfile", "ssl.certificate.location"),
                       ("ssl_keyfile", "ssl.key.location")):
        if (value := getattr(settings, name)) is not None:
            config[prop] = str(value)
    return config


def consumer_config(settings: KafkaSettings, pipeline: str) -> dict[str, Any]:
    return {
        **common_config(settings),
        # librdkafka insists on a group id; it is never joined (assign, not subscribe)
        # and nothing is committed: offsets live in bytewax snapshots.
        "group.id": f"eventyard-{pipeline}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": settings.start_from,  # a resumed offset past retention
        "fetch.wait.max.ms": 100,
        # Without this, consumers stall 400-500 ms at a time (DESIGN.md 6).
        "fetch.queue.backoff.ms": 10,
        # Bound the prefetch queue (one consumer per worker process, every partition).
        "queued.max.messages.kbytes": 16384,
        # A partition paused over its buffer's cap loses what librdkafka prefetched
        # for it, fetched again on resume: with 1 MB per partition a worker draining
        # 27 MB of input received 82-91 MB, with 256 KB 47-50 (docs/benchmarks.md).
        "max.partition.fetch.bytes": _PARTITION_FETCH_BYTES,
        "queued.min.messages": max(10 * settings.max_poll_records, 10000),
    }


def producer_config(settings: KafkaSettings) -> dict[str, Any]:
    return {
        **common_config(settings),
        "acks": "all",
        # Retries without reordering or duplicates (kafka-python needs in-flight 1 for this).
        "enable.idempotence": True,
        "linger.ms": settings.linger.total_seconds() * 1000,
        "batch.size": settings.batch_bytes,
        "message.max.bytes": 4 * 1024 * 1024,
        "batch.num.messages": 10000,
        # Kafka's default partitioner (murmur2, as the Java client and kafka-python),
        # not librdkafka's CRC32 default: a keyed record must land in the partition, so
        # the task, that owns its key whichever transport or producer wrote it before.
        "partitioner": "murmur2_random",
    }


def unavailable(settings: KafkaSettings, exc: BaseException) -> KafkaUnavailableError:
    reason = exc.args[0].str() if exc.args and hasattr(exc.args[0], "str") else str(exc)
    return KafkaUnavailableError(
        f"cannot use Kafka at {settings.bootstrap_servers}: {reason} "
        "(check kafka.bootstrap_servers and the security settings)"
    )
